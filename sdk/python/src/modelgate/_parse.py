"""Reading response JSON into the models of :mod:`modelgate.types`, one member at a time.

Every reader names the JSON Pointer of the member it reads, so a response
that lacks a required member, or has one of the wrong type, raises a
:class:`ResponseValidationError` saying which model and where, never a
bare KeyError or TypeError. Members no model declares are left alone: each
model keeps the whole object in ``raw``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, Mapping, NoReturn, Optional, TypeVar

from ._errors import ResponseValidationError

T = TypeVar("T")

_MISSING = object()


def _is(value: Any, kind: type) -> bool:
    # JSON has one number type: an integer is a valid float, and a bool is
    # neither (Python's bool is an int subclass).
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


def _coerce(value: Any, kind: type[T]) -> T:
    # An integral JSON number read as a float is a float, so arithmetic and
    # isinstance checks behave the same whichever way the server wrote it.
    return kind(value) if kind is float else value  # type: ignore[call-arg]


_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}


class Fields:
    """Fields reads the members of one JSON object on behalf of a response model."""

    __slots__ = ("model", "pointer", "data", "_root")

    def __init__(self, model: str, data: Any, pointer: str = "", root: Any = _MISSING) -> None:
        self.model = model
        self.pointer = pointer
        self._root = data if root is _MISSING else root
        if not isinstance(data, Mapping):
            self.fail(pointer, "an object", data)
        self.data: Mapping[str, Any] = data

    def fail(self, pointer: str, want: str, got: Any) -> NoReturn:
        where = pointer or "the body"
        what = "is missing" if got is _MISSING else f"is {type(got).__name__}, want {want}"
        raise ResponseValidationError(f"malformed {self.model} response: {where} {what}",
                                      model=self.model, pointer=pointer, body=self._root)

    def raw(self) -> Mapping[str, Any]:
        """raw is the object itself, read-only, with every member the server sent."""
        return MappingProxyType(dict(self.data))

    def _at(self, name: str) -> str:
        return self.pointer + "/" + name.replace("~", "~0").replace("/", "~1")

    def _get(self, name: str, kind: type, required: bool) -> Any:
        v = self.data.get(name, _MISSING)
        if v is _MISSING or (v is None and not required):
            if required:
                self.fail(self._at(name), _NAMES.get(kind, kind.__name__), _MISSING)
            return None
        if not _is(v, kind):
            self.fail(self._at(name), _NAMES.get(kind, kind.__name__), v)
        return float(v) if kind is float else v

    def string(self, name: str) -> str:
        return str(self._get(name, str, True))

    def opt_string(self, name: str) -> Optional[str]:
        v = self._get(name, str, False)
        return None if v is None else str(v)

    def integer(self, name: str) -> int:
        return int(self._get(name, int, True))

    def opt_integer(self, name: str) -> Optional[int]:
        v = self._get(name, int, False)
        return None if v is None else int(v)

    def number(self, name: str) -> float:
        return float(self._get(name, float, True))

    def opt_number(self, name: str) -> Optional[float]:
        v = self._get(name, float, False)
        return None if v is None else float(v)

    def boolean(self, name: str) -> bool:
        return bool(self._get(name, bool, True))

    def opt_boolean(self, name: str) -> Optional[bool]:
        v = self._get(name, bool, False)
        return None if v is None else bool(v)

    def value(self, name: str) -> Any:
        """value is a member of any JSON type, required but unchecked."""
        v = self.data.get(name, _MISSING)
        if v is _MISSING:
            self.fail(self._at(name), "a value", _MISSING)
        return v

    def obj(self, name: str, read: Callable[[Fields], T]) -> T:
        return read(Fields(self.model, self._get(name, dict, True), self._at(name), self._root))

    def opt_obj(self, name: str, read: Callable[[Fields], T]) -> Optional[T]:
        v = self._get(name, dict, False)
        return None if v is None else read(Fields(self.model, v, self._at(name), self._root))

    def objects(self, name: str, read: Callable[[Fields], T], *, required: bool = True) -> tuple[T, ...]:
        """objects reads an array of objects; an optional one that is absent or null reads as ()."""
        items = self._get(name, list, required) or []
        at = self._at(name)
        return tuple(read(Fields(self.model, v, f"{at}/{i}", self._root)) for i, v in enumerate(items))

    def scalars(self, name: str, kind: type[T], *, required: bool = True) -> tuple[T, ...]:
        """scalars reads an array of strings, integers or numbers; an optional one absent reads as ()."""
        items = self._get(name, list, required) or []
        at = self._at(name)
        for i, v in enumerate(items):
            if not _is(v, kind):
                self.fail(f"{at}/{i}", _NAMES.get(kind, kind.__name__), v)
        return tuple(_coerce(v, kind) for v in items)

    def mapping(self, name: str, kind: type[T], *, required: bool = False) -> Mapping[str, T]:
        """mapping reads an object whose members all have one scalar type; absent or null reads as {}."""
        m = self._get(name, dict, required) or {}
        at = self._at(name)
        for k, v in m.items():
            if not _is(v, kind):
                self.fail(f"{at}/{k}", _NAMES.get(kind, kind.__name__), v)
        return MappingProxyType({k: _coerce(v, kind) for k, v in m.items()})

    def any_object(self, name: str) -> Optional[Mapping[str, Any]]:
        """any_object reads an optional object of free-form members (OIP parameters, a problem)."""
        v = self._get(name, dict, False)
        return None if v is None else MappingProxyType(dict(v))
