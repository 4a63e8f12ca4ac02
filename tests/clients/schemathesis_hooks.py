"""schemathesis hooks for the deployment document (SCHEMATHESIS_HOOKS).

An Open Inference Protocol tensor carries exactly as many numbers in `data`
as the product of its `shape`, and every feature tensor of one request the
same rows. The document says so in each tensor's description; JSON Schema
cannot, so a generator that only reads the schema makes bodies the gateway
rightly refuses. For bodies meant to be valid (positive body), this hook
applies that one rule: it keeps the generated shape (the rows of the first
tensor for all) and sizes `data` to match, reusing the generated numbers.
Bodies meant to be invalid are left as generated, so the negative checks
still see every mutation.
"""

import math

import schemathesis
from schemathesis.core.parameters import ParameterLocation


def _leaves(data):
    out = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            out.append(item)
    return out


def _fit(inputs):
    if not inputs or not all(isinstance(t, dict) and isinstance(t.get("shape"), list) and t["shape"] for t in inputs):
        return
    rows = inputs[0]["shape"][0]
    for t in inputs:
        t["shape"][0] = rows
        want = math.prod(int(d) for d in t["shape"])
        values = _leaves(t.get("data")) or [0.5]
        t["data"] = [values[i % len(values)] for i in range(want)]


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    if meta is None or not case.path.endswith("/infer") or not isinstance(case.body, dict):
        return case
    body = meta.components.get(ParameterLocation.BODY)
    if body is None or not body.mode.is_positive:
        return case
    _fit(case.body.get("inputs"))
    return case
