#!/usr/bin/env python3
"""Train modelgate's bundled models and export them as modelgate artifacts.

For every model version this writes, under models/<name>/<version>/:

  manifest.json  the catalog.Manifest the Go services read
  model.json     the artifact, in one of modelgate's own JSON formats
                 (modelgate.linear/v1, modelgate.trees/v1; see README.md)
  parity.json    sample rows with scikit-learn's own outputs, which the Go
                 evaluator's parity test must reproduce within 1e-6

Training is deterministic: fixed seeds, datasets bundled with scikit-learn
(no download), single-threaded BLAS (set by run.sh), sorted keys and a fixed
"created" stamp, so running it twice yields byte-identical files.

Before writing, every exported artifact is evaluated by a small reference
evaluator in this file (the same algorithm the Go engine implements) and
compared with scikit-learn, so an export bug fails here rather than later.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split

FORMAT_LINEAR = "modelgate.linear/v1"
FORMAT_TREES = "modelgate.trees/v1"

# A constant, so re-running the script reproduces the committed files. Pass
# --created (or set SOURCE_DATE_EPOCH) when training a genuinely new version.
DEFAULT_CREATED = "2026-11-25T00:00:00Z"

SEED = 42
TEST_SIZE = 0.2
PARITY_TEST_ROWS = 30
# The parity tolerance the Go test uses; the export self-check uses a much
# tighter one.
SELF_CHECK_TOL = 1e-12

REPO = Path(__file__).resolve().parent.parent

IRIS_FEATURES = [
    ("sepal_length", "Sepal length in cm."),
    ("sepal_width", "Sepal width in cm."),
    ("petal_length", "Petal length in cm."),
    ("petal_width", "Petal width in cm."),
]
IRIS_CLASSES = ["setosa", "versicolor", "virginica"]

_DIABETES_SCALED = (
    " Mean-centred and scaled so the column's sum of squares is 1, as in"
    " scikit-learn's load_diabetes (scaled=True)."
)
DIABETES_FEATURES = [
    ("age", "Age in years." + _DIABETES_SCALED),
    ("sex", "Sex." + _DIABETES_SCALED),
    ("bmi", "Body mass index." + _DIABETES_SCALED),
    ("bp", "Average blood pressure." + _DIABETES_SCALED),
    ("s1", "tc, total serum cholesterol." + _DIABETES_SCALED),
    ("s2", "ldl, low-density lipoproteins." + _DIABETES_SCALED),
    ("s3", "hdl, high-density lipoproteins." + _DIABETES_SCALED),
    ("s4", "tch, total cholesterol / HDL." + _DIABETES_SCALED),
    ("s5", "ltg, possibly log of serum triglycerides level." + _DIABETES_SCALED),
    ("s6", "glu, blood sugar level." + _DIABETES_SCALED),
]


# ---------------------------------------------------------------------------
# JSON output


def _py(v):
    """Convert numpy scalars and arrays to plain Python values."""
    if isinstance(v, dict):
        return {str(k): _py(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_py(x) for x in v]
    if isinstance(v, np.ndarray):
        return [_py(x) for x in v.tolist()]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not math.isfinite(f):
            raise ValueError(f"non-finite float {f!r} cannot be written as JSON")
        return f
    return v


def _dumps(v, level=0) -> str:
    """JSON with sorted keys, two-space indent, and arrays of scalars kept on
    one line. Floats use Python's repr, the shortest string that round-trips
    to the same float64."""
    pad = "  " * (level + 1)
    end = "  " * level
    if isinstance(v, dict):
        if not v:
            return "{}"
        items = [
            f"{pad}{json.dumps(k)}: {_dumps(v[k], level + 1)}" for k in sorted(v)
        ]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(v, list):
        if not v:
            return "[]"
        if all(not isinstance(x, (dict, list)) for x in v):
            return "[" + ", ".join(_dumps(x, level + 1) for x in v) + "]"
        return "[\n" + ",\n".join(pad + _dumps(x, level + 1) for x in v) + "\n" + end + "]"
    return json.dumps(v, allow_nan=False)


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = _dumps(_py(obj)) + "\n"
    # Round-trip check: what we write parses back to exactly what we meant.
    if json.loads(text) != _py(obj):
        raise AssertionError(f"{path}: JSON does not round-trip")
    path.write_text(text, encoding="utf-8", newline="\n")


# ---------------------------------------------------------------------------
# Export


def export_linear(model, n_features: int) -> dict:
    """LogisticRegression -> modelgate.linear/v1."""
    coef = np.asarray(model.coef_, dtype=np.float64)
    intercept = np.asarray(model.intercept_, dtype=np.float64)
    assert coef.ndim == 2 and coef.shape[1] == n_features, coef.shape
    n_classes = len(model.classes_)
    if n_classes > 2:
        # Multinomial: predict_proba = softmax(X @ coef.T + intercept).
        assert coef.shape[0] == n_classes
        link = "softmax"
    else:
        # Binary: predict_proba[:, 1] = expit(X @ coef[0] + intercept[0]).
        assert coef.shape[0] == 1
        link = "logistic"
    return {
        "format": FORMAT_LINEAR,
        "n_features": n_features,
        "link": link,
        "coef": coef,
        "intercept": intercept,
    }


def _gb_init_raw(model, n_features: int) -> np.ndarray:
    """The gradient-boosting model's initial raw prediction (the init
    estimator's output in link space), identical for every row with the
    default init estimators."""
    probe = np.zeros((1, n_features), dtype=np.float32)
    init = model._raw_predict_init(probe)[0].astype(np.float64)
    # Cross-check against the documented semantics of the default init
    # estimators, so a change in the private helper cannot go unnoticed.
    if isinstance(model, GradientBoostingClassifier):
        p = np.asarray(model.init_.class_prior_, dtype=np.float64)
        eps = np.finfo(np.float64).eps
        p = np.clip(p, eps, 1 - eps)
        if len(model.classes_) > 2:
            expected = np.log(p) - np.mean(np.log(p))  # symmetric multinomial logit
        else:
            expected = np.array([np.log(p[1] / (1 - p[1]))])  # logit
    else:
        expected = np.atleast_1d(np.asarray(model.init_.constant_, dtype=np.float64)).ravel()
    np.testing.assert_allclose(init, expected, rtol=0, atol=1e-12)
    return init


def export_trees(model, n_features: int) -> dict:
    """GradientBoostingClassifier/Regressor -> modelgate.trees/v1."""
    if isinstance(model, GradientBoostingClassifier):
        assert model.loss == "log_loss", model.loss
        link = "softmax" if len(model.classes_) > 2 else "logistic"
    else:
        assert model.loss == "squared_error", model.loss
        link = "identity"
    assert model.init != "zero"
    estimators = model.estimators_
    n_stages, per_stage = estimators.shape
    stages = []
    for s in range(n_stages):
        stage = []
        for k in range(per_stage):
            t = estimators[s, k].tree_
            assert t.n_outputs == 1 and t.value.shape[1:] == (1, 1), t.value.shape
            left = t.children_left.astype(np.int64)
            right = t.children_right.astype(np.int64)
            feature = t.feature.astype(np.int64)
            idx = np.arange(t.node_count)
            leaf = left == -1
            # Leaves have both children -1; split nodes point forward (children
            # are always appended after their parent), at an existing feature.
            assert np.all(right[leaf] == -1)
            assert np.all(left[~leaf] > idx[~leaf]) and np.all(right[~leaf] > idx[~leaf])
            assert np.all(left < t.node_count) and np.all(right < t.node_count)
            assert np.all((feature[~leaf] >= 0) & (feature[~leaf] < n_features))
            stage.append(
                {
                    "feature": feature,
                    "threshold": t.threshold.astype(np.float64),
                    "left": left,
                    "right": right,
                    "value": t.value[:, 0, 0].astype(np.float64),
                }
            )
        stages.append(stage)
    return {
        "format": FORMAT_TREES,
        "n_features": n_features,
        "link": link,
        "learning_rate": float(model.learning_rate),
        "init": _gb_init_raw(model, n_features),
        "stages": stages,
    }


# ---------------------------------------------------------------------------
# Reference evaluator: the algorithm the Go engine implements, in plain
# numpy/Python. Used only to self-check the export.


def _apply_link(raw: np.ndarray, link: str) -> np.ndarray:
    if link == "softmax":
        z = raw - raw.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
    if link == "logistic":
        p = 1.0 / (1.0 + np.exp(-raw[:, 0]))
        return np.stack([1.0 - p, p], axis=1)
    if link == "identity":
        return raw
    raise ValueError(link)


def reference_predict(art: dict, X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if art["format"] == FORMAT_LINEAR:
        raw = X @ np.asarray(art["coef"]).T + np.asarray(art["intercept"])
        return _apply_link(raw, art["link"])
    assert art["format"] == FORMAT_TREES
    # scikit-learn casts X to float32, then compares float32 <= float64.
    X32 = X.astype(np.float32).astype(np.float64)
    lr = art["learning_rate"]
    init = np.asarray(art["init"], dtype=np.float64)
    raw = np.tile(init, (X.shape[0], 1))
    for stage in art["stages"]:
        for k, tree in enumerate(stage):
            feat, thr = tree["feature"], tree["threshold"]
            left, right, value = tree["left"], tree["right"], tree["value"]
            for i in range(X.shape[0]):
                n = 0
                while left[n] != -1:
                    n = left[n] if X32[i, feat[n]] <= thr[n] else right[n]
                raw[i, k] += lr * value[n]
    return _apply_link(raw, art["link"])


# ---------------------------------------------------------------------------
# Parity samples


def edge_rows(X_train: np.ndarray, art: dict, base: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Rows outside the test split that exercise numerics: all zeros, the
    training minimum and maximum, far-out values (large logits for the
    softmax), and for tree models rows whose feature sits exactly on a split
    threshold, where float32 rounding decides the branch."""
    f = X_train.shape[1]
    span = X_train.max(axis=0) - X_train.min(axis=0)
    rows = [
        ("edge:zeros", np.zeros(f)),
        ("edge:train-min", X_train.min(axis=0)),
        ("edge:train-max", X_train.max(axis=0)),
        ("edge:far-above", X_train.max(axis=0) + 100 * span),
        ("edge:far-below", X_train.min(axis=0) - 100 * span),
        ("edge:large-magnitude", np.full(f, 1e6)),
    ]
    if art["format"] == FORMAT_TREES:
        # Root splits of the first trees: a threshold is the midpoint of two
        # adjacent float32 training values, so it is a float64 that float32
        # cannot hold; the row value equal to it rounds to a neighbour.
        seen = set()
        for s, stage in enumerate(art["stages"]):
            for k, tree in enumerate(stage):
                if tree["left"][0] == -1:
                    continue
                feat, thr = int(tree["feature"][0]), float(tree["threshold"][0])
                if (feat, thr) in seen:
                    continue
                seen.add((feat, thr))
                r = base.copy()
                r[feat] = thr
                rows.append((f"edge:threshold stage={s} tree={k} feature={feat}", r))
                if len(seen) == 6:
                    return rows
    return rows


def parity_doc(name, version, model, art, feature_names, X_test, X_train, classes):
    rows = [(f"test[{i}]", X_test[i]) for i in range(min(PARITY_TEST_ROWS, len(X_test)))]
    rows += edge_rows(X_train, art, X_test[0])
    X = np.stack([r for _, r in rows]).astype(np.float64)
    ref = reference_predict(art, X)
    out = []
    if classes is not None:
        proba = model.predict_proba(X)
        labels = model.predict(X)
        np.testing.assert_allclose(ref, proba, rtol=0, atol=SELF_CHECK_TOL)
        assert np.array_equal(np.argmax(ref, axis=1), np.searchsorted(model.classes_, labels))
        for (src, _), x, p, lab in zip(rows, X, proba, labels):
            idx = int(np.searchsorted(model.classes_, lab))
            out.append({"source": src, "x": x, "proba": p, "label": classes[idx]})
    else:
        pred = model.predict(X)
        np.testing.assert_allclose(ref[:, 0], pred, rtol=0, atol=SELF_CHECK_TOL)
        for (src, _), x, v in zip(rows, X, pred):
            out.append({"source": src, "x": x, "value": float(v)})
    return {
        "model": name,
        "version": version,
        "features": feature_names,
        "outputs": classes if classes is not None else ["value"],
        "tolerance": 1e-6,
        "rows": out,
    }


# ---------------------------------------------------------------------------
# Models


def framework() -> dict:
    return {
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        # major.minor only: the patch release does not change the artifacts,
        # and recording it would make re-runs differ between machines.
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
    }


def manifest(name, version, fmt, algorithm, features, output, metrics, dataset, created):
    return {
        "name": name,
        "version": version,
        "format": fmt,
        "algorithm": algorithm,
        "framework": framework(),
        "artifact": "model.json",
        "inputs": [{"name": n, "type": "number", "description": d} for n, d in features],
        "output": output,
        "metrics": metrics,
        "dataset": dataset,
        "created": created,
    }


def write_version(out_dir: Path, man: dict, art: dict, parity: dict) -> None:
    d = out_dir / man["name"] / man["version"]
    write_json(d / "manifest.json", man)
    write_json(d / "model.json", art)
    write_json(d / "parity.json", parity)
    print(f"wrote {d.relative_to(REPO) if d.is_relative_to(REPO) else d}: {man['metrics']}")


def train_iris(out_dir: Path, created: str) -> None:
    data = load_iris()
    X, y = data.data.astype(np.float64), data.target
    assert list(data.target_names) == IRIS_CLASSES
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, random_state=SEED, stratify=y
    )
    names = [n for n, _ in IRIS_FEATURES]
    output = {
        "kind": "classification",
        "name": "species",
        "description": "Iris species; probabilities are in class order.",
        "classes": IRIS_CLASSES,
    }
    dataset = (
        f"scikit-learn load_iris: {len(X)} rows; stratified {int(TEST_SIZE * 100)}% test split "
        f"(random_state={SEED}): {len(X_train)} train, {len(X_test)} test; metrics are on the test split"
    )

    models = {
        "1": (
            LogisticRegression(C=1.0, solver="lbfgs", max_iter=1000, random_state=SEED),
            "LogisticRegression (multinomial softmax, lbfgs, C=1.0)",
            export_linear,
        ),
        "2": (
            GradientBoostingClassifier(
                n_estimators=50, max_depth=3, learning_rate=0.1, random_state=SEED
            ),
            "GradientBoostingClassifier (log_loss, 50 stages x 3 classes, max_depth=3, learning_rate=0.1)",
            export_trees,
        ),
    }
    for version, (model, algorithm, export) in models.items():
        model.fit(X_train, y_train)
        proba = model.predict_proba(X_test)
        metrics = {
            "accuracy": float(accuracy_score(y_test, model.predict(X_test))),
            "log_loss": float(log_loss(y_test, proba, labels=model.classes_)),
        }
        art = export(model, X.shape[1])
        man = manifest("iris", version, art["format"], algorithm, IRIS_FEATURES, output,
                       metrics, dataset, created)
        par = parity_doc("iris", version, model, art, names, X_test, X_train, IRIS_CLASSES)
        write_version(out_dir, man, art, par)


def train_diabetes(out_dir: Path, created: str) -> None:
    data = load_diabetes()  # scaled=True
    names = [n for n, _ in DIABETES_FEATURES]
    assert list(data.feature_names) == names, data.feature_names
    X, y = data.data.astype(np.float64), data.target.astype(np.float64)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, random_state=SEED
    )
    output = {
        "kind": "regression",
        "name": "progression",
        "description": "Quantitative measure of disease progression one year after baseline.",
    }
    dataset = (
        f"scikit-learn load_diabetes (scaled): {len(X)} rows; {int(TEST_SIZE * 100)}% test split "
        f"(random_state={SEED}): {len(X_train)} train, {len(X_test)} test; metrics are on the test split"
    )
    model = GradientBoostingRegressor(
        n_estimators=150, max_depth=3, learning_rate=0.05, subsample=0.8, random_state=SEED
    )
    model.fit(X_train, y_train)
    pred = model.predict(X_test)
    metrics = {
        "r2": float(r2_score(y_test, pred)),
        "rmse": float(math.sqrt(mean_squared_error(y_test, pred))),
    }
    art = export_trees(model, X.shape[1])
    man = manifest(
        "diabetes", "1", art["format"],
        "GradientBoostingRegressor (squared_error, 150 stages, max_depth=3, learning_rate=0.05, subsample=0.8)",
        DIABETES_FEATURES, output, metrics, dataset, created,
    )
    par = parity_doc("diabetes", "1", model, art, names, X_test, X_train, None)
    write_version(out_dir, man, art, par)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "models",
                    help="models folder (default: the repository's models/)")
    ap.add_argument("--created", default=None,
                    help=f"created stamp for the manifests (default: $SOURCE_DATE_EPOCH or {DEFAULT_CREATED})")
    args = ap.parse_args(argv)
    created = args.created
    if created is None and os.environ.get("SOURCE_DATE_EPOCH"):
        import datetime

        created = datetime.datetime.fromtimestamp(
            int(os.environ["SOURCE_DATE_EPOCH"]), tz=datetime.timezone.utc
        ).strftime("%Y-%m-%dT%H:%M:%SZ")
    created = created or DEFAULT_CREATED
    train_iris(args.out, created)
    train_diabetes(args.out, created)
    return 0


if __name__ == "__main__":
    sys.exit(main())
