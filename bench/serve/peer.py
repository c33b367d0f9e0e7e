"""The prediction endpoint's peer in bench/serve: FastAPI + uvicorn + xgboost.

It serves one model bundle the way a team would without the platform: the
bundle's model.json loaded into an xgboost Booster, the bundle's encoding.json
applied to each instance (numbers as they come, booleans as 1/0, one column per
category with NaN for a missing or unseen value), the same request and response
JSON as the platform's endpoint, and the same bearer token. Run by bench/serve:

    PEER_BUNDLE=DIR PEER_TOKEN=T PEER_MODEL=credit PEER_VERSION=1 \
      python3 -m uvicorn peer:app --app-dir bench/serve --workers 2 \
      --ssl-keyfile KEY --ssl-certfile CERT

It does not check instances against the dataset contract (types, ranges,
required fields), nor log predictions: the platform's endpoint does both, so
the comparison favours the peer.
"""
import asyncio.base_events
import hmac
import json
import math
import os
import socket
import uuid
from typing import Any, Dict, List

import numpy as np
import xgboost as xgb
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel



def _set_nodelay(sock):
    """asyncio's, without its check that the socket's proto is IPPROTO_TCP.

    With --workers N, uvicorn binds the listening socket itself with proto 0,
    accepted sockets inherit it, and asyncio then leaves Nagle's algorithm on:
    every keep-alive response waits ~40 ms for the client's delayed ACK
    (https://github.com/Kludex/uvicorn/issues/3149, still in uvicorn 0.17). A
    peer capped at 32 connections / 44 ms = 727 requests/s by that would not
    be a fair one, so the workers set TCP_NODELAY as a single worker does.
    """
    if sock.family in {socket.AF_INET, socket.AF_INET6} and sock.type == socket.SOCK_STREAM:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


asyncio.base_events._set_nodelay = _set_nodelay

BUNDLE = os.environ["PEER_BUNDLE"]
TOKEN = "Bearer " + os.environ["PEER_TOKEN"]
MODEL = os.environ.get("PEER_MODEL", "model")
VERSION = int(os.environ.get("PEER_VERSION", "1"))

booster = xgb.Booster(model_file=os.path.join(BUNDLE, "model.json"))
# One worker per core, each single-threaded: OpenMP threads beyond the cores
# would only contend.
booster.set_param({"nthread": 1})
with open(os.path.join(BUNDLE, "encoding.json")) as fh:
    encoding = json.load(fh)

COLUMNS = encoding["columns"]
TARGET = encoding["target"]
if TARGET["kind"] != "binary":
    raise SystemExit("peer.py serves binary models only (the benchmark's)")
CLASSES = TARGET["classes"]
THRESHOLD = np.float32(encoding.get("threshold", 0.5))
PROB = "p_" + CLASSES[1]

# (name, kind, first column, {category: column offset}) per feature.
FEATURES = []
col = 0
for f in encoding["features"]:
    if f["kind"] == "onehot":
        FEATURES.append((f["name"], "onehot", col, {c: k for k, c in enumerate(f["categories"])}))
        col += len(f["categories"])
    elif f["kind"] in ("numeric", "boolean"):
        FEATURES.append((f["name"], f["kind"], col, None))
        col += 1
    else:
        raise SystemExit("peer.py does not encode %s features (the benchmark's models have none)" % f["kind"])
assert col == len(COLUMNS), "encoding.json: features do not make its columns"

TRUE = {"true", "1", "yes"}
FALSE = {"false", "0", "no"}


def encode(instances):
    x = np.full((len(instances), len(COLUMNS)), np.nan, dtype=np.float32)
    for i, inst in enumerate(instances):
        row = x[i]
        for name, kind, c, cats in FEATURES:
            v = inst.get(name)
            if v is None:
                continue
            if kind == "onehot":
                k = cats.get(v)
                if k is not None:
                    row[c:c + len(cats)] = 0
                    row[c + k] = 1
            elif kind == "boolean":
                s = str(v).lower()
                if s not in TRUE and s not in FALSE:
                    raise HTTPException(400, "instance %d: %s: expected a boolean" % (i, name))
                row[c] = 1 if s in TRUE else 0
            else:
                try:
                    f = float(v)
                except (TypeError, ValueError):
                    raise HTTPException(400, "instance %d: %s: expected a number" % (i, name))
                if not math.isfinite(f):
                    raise HTTPException(400, "instance %d: %s: expected a finite number" % (i, name))
                row[c] = f
    return x


class PredictRequest(BaseModel):
    instances: List[Dict[str, Any]]


app = FastAPI()


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


def predict(target, req, authorization):
    if not hmac.compare_digest(authorization.encode(), TOKEN.encode()):
        raise HTTPException(401, "a valid bearer token is required")
    if target != MODEL + ":predict":
        raise HTTPException(404, "no such model")
    if not req.instances:
        raise HTTPException(400, "instances: expected at least one")
    p = booster.inplace_predict(encode(req.instances), missing=np.nan)
    preds = [{PROB: float(v), "label": CLASSES[1] if v >= THRESHOLD else CLASSES[0]} for v in p]
    return {"predictions": preds, "model": MODEL, "modelVersion": VERSION, "requestId": uuid.uuid4().hex}


# By default an async route: xgboost's call is short, and the route measured
# faster so than as a plain one, which FastAPI runs in its thread pool
# (PEER_SYNC=1; bench/serve -peer-sync).
if os.environ.get("PEER_SYNC") == "1":
    @app.post("/v1/models/{target}")
    def predict_sync(target: str, req: PredictRequest, authorization: str = Header(default="")):
        return predict(target, req, authorization)
else:
    @app.post("/v1/models/{target}")
    async def predict_async(target: str, req: PredictRequest, authorization: str = Header(default="")):
        return predict(target, req, authorization)
