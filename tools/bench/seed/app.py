"""The seed: modelgate's original spec as a naive developer writes it.

One FastAPI file that does everything modelgate spreads over Envoy, extproc,
ratelimit, Redis and inference: API keys from a dict, a sliding-window rate
limit per key, an md5 response cache, Pydantic validation and the model.
tools/bench runs it as the peer modelgate has to beat:

    /usr/bin/python3 -m uvicorn app:app --loop asyncio --http h11 --workers 1
    /usr/bin/python3 -m uvicorn app:app --loop uvloop --http httptools --workers 2

It is kept as written on purpose: no tuning, state per process (with two
workers each has its own limiter and cache), an unbounded cache.
"""

import hashlib
import json
import math
import os
import time
import uuid
from collections import defaultdict, deque
from pathlib import Path
from typing import Dict, List, Optional

from fastapi import FastAPI, Header, HTTPException, Response
from pydantic import BaseModel, Extra, conlist

ROOT = Path(__file__).resolve().parents[3]
MODEL_DIR = Path(os.environ.get("SEED_MODEL_DIR", ROOT / "models" / "iris" / "1"))

# Hard-coded keys, as in the first version of every internal API.
API_KEYS = {
    "seed-internal-bench-key": {"client": "bench", "tier": "internal"},
    "seed-demo-free-key": {"client": "demo", "tier": "free"},
}
# Requests per key per sliding minute. internal is high enough that the
# bench never reaches it.
TIER_LIMITS = {"free": 60, "pro": 6_000, "internal": 100_000_000}
WINDOW_SECONDS = 60.0

with open(MODEL_DIR / "manifest.json") as f:
    MANIFEST = json.load(f)
with open(MODEL_DIR / "model.json") as f:
    MODEL = json.load(f)
FEATURES = [i["name"] for i in MANIFEST["inputs"]]
CLASSES = MANIFEST["output"]["classes"]
COEF = MODEL["coef"]
INTERCEPT = MODEL["intercept"]

app = FastAPI(title="iris model API")

hits: Dict[str, deque] = defaultdict(deque)
cache: Dict[str, dict] = {}


class Row(BaseModel):
    sepal_length: float
    sepal_width: float
    petal_length: float
    petal_width: float

    class Config:
        extra = Extra.forbid


class Options(BaseModel):
    return_probabilities: bool = False

    class Config:
        extra = Extra.forbid


class PredictRequest(BaseModel):
    model: str
    version: Optional[str] = None
    inputs: conlist(Row, min_items=1, max_items=1000)
    options: Options = Options()

    class Config:
        extra = Extra.forbid


def check_key(api_key: Optional[str]) -> dict:
    if api_key is None or api_key not in API_KEYS:
        raise HTTPException(status_code=401, detail="invalid or missing API key")
    return API_KEYS[api_key]


def rate_limit(api_key: str, tier: str) -> None:
    now = time.monotonic()
    q = hits[api_key]
    while q and q[0] <= now - WINDOW_SECONDS:
        q.popleft()
    if len(q) >= TIER_LIMITS[tier]:
        retry = int(q[0] + WINDOW_SECONDS - now) + 1
        raise HTTPException(status_code=429, detail="rate limit exceeded", headers={"Retry-After": str(retry)})
    q.append(now)


def predict_proba(row: Row) -> List[float]:
    x = [getattr(row, name) for name in FEATURES]
    z = [sum(c * v for c, v in zip(coef, x)) + b for coef, b in zip(COEF, INTERCEPT)]
    top = max(z)
    e = [math.exp(v - top) for v in z]
    total = sum(e)
    return [v / total for v in e]


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}


@app.post("/v2/predict")
async def predict(req: PredictRequest, response: Response, x_api_key: Optional[str] = Header(None)):
    start = time.perf_counter()
    client = check_key(x_api_key)
    rate_limit(x_api_key, client["tier"])
    if req.model != MANIFEST["name"]:
        raise HTTPException(status_code=404, detail=f"unknown model {req.model}")
    if req.version not in (None, MANIFEST["version"], "latest", "stable"):
        raise HTTPException(status_code=404, detail=f"unknown version {req.version}")

    key = hashlib.md5(json.dumps(req.dict(), sort_keys=True).encode()).hexdigest()
    if key in cache:
        body = dict(cache[key])
    else:
        predictions = []
        for row in req.inputs:
            p = predict_proba(row)
            pred = {"label": CLASSES[p.index(max(p))]}
            if req.options.return_probabilities:
                pred["probabilities"] = dict(zip(CLASSES, p))
            predictions.append(pred)
        body = {
            "model": MANIFEST["name"],
            "model_version": MANIFEST["version"],
            "predictions": predictions,
            "usage": {"rows": len(req.inputs)},
        }
        cache[key] = body
        body = dict(body)
    body["request_id"] = str(uuid.uuid4())
    body["latency_ms"] = round((time.perf_counter() - start) * 1000, 3)
    response.headers["x-model-version"] = MANIFEST["version"]
    return body
