"""The bundle's other files: feature importance, the prediction baseline,
sample rows with their predictions, and the libraries used."""

import platform
import sys

import numpy as np
import xgboost as xgb

from .problem import BINARY, REGRESSION
from .training import predict

MAX_SAMPLES = 200         # rows in samples.json
QUANTILES = ("0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99")


def importance(booster, enc):
    # The booster has no feature names here (see pipeline.run): xgboost names them f<i>.
    gain = booster.get_score(importance_type="total_gain")
    cols = [{"name": c, "gain": float(gain.get(f"f{i}", 0.0))} for i, c in enumerate(enc.columns)]
    feats = []
    for f, (start, width) in zip(enc.features, enc.slots):
        feats.append({"name": f["name"], "gain": float(sum(c["gain"] for c in cols[start:start + width]))})
    key = lambda e: (-e["gain"], e["name"])  # noqa: E731
    return {"type": "total_gain", "columns": sorted(cols, key=key), "features": sorted(feats, key=key)}


def distribution(name, v, probability):
    """One output's test-set histogram: 20 equal bins on [0, 1] for a
    probability, 20 quantile bins for a regression prediction."""
    v = v.astype(np.float64)
    if probability:
        edges = [round(i / 20, 2) for i in range(21)]
    else:
        edges = [float(e) for e in np.unique(np.quantile(v, np.linspace(0, 1, 21)))]
        if len(edges) < 2:
            edges = [edges[0] - 0.5, edges[0] + 0.5]
    counts, _ = np.histogram(v, bins=np.array(edges))
    qs = np.quantile(v, [float(q) for q in QUANTILES])
    return {"name": name, "edges": edges, "counts": [int(c) for c in counts],
            "quantiles": {q: float(x) for q, x in zip(QUANTILES, qs)}, "mean": float(v.mean()), "count": len(v)}


def baseline(problem, label, out):
    if problem.objective == BINARY:
        return {"outputs": [distribution(f"p({label.positive})", out, True)]}
    if problem.objective == REGRESSION:
        return {"outputs": [distribution("prediction", out, False)]}
    return {"outputs": [distribution(f"p({c})", out[:, j], True) for j, c in enumerate(label.classes)]}


def choose_samples(X_test, test_rows):
    """Up to MAX_SAMPLES test rows: those with a missing (or unseen) value
    first (up to half), because they exercise the trees' default branches,
    then the others, in row order."""
    has_nan = np.isnan(X_test).any(axis=1)
    with_missing = np.flatnonzero(has_nan)[: MAX_SAMPLES // 2]
    rest = np.flatnonzero(~has_nan)[: MAX_SAMPLES - len(with_missing)]
    pick = np.sort(np.concatenate([with_missing, rest]))
    if len(pick) < MAX_SAMPLES:
        more = np.setdiff1d(np.flatnonzero(has_nan), pick)[: MAX_SAMPLES - len(pick)]
        pick = np.sort(np.concatenate([pick, more]))
    return pick


def samples(problem, data, booster, enc, X_test, test_rows):
    pick = choose_samples(X_test, test_rows)
    out = predict(booster, X_test[pick])
    rows = []
    for j, i in enumerate(pick):
        r = int(test_rows[i])
        o = out[j]
        # float(np.float32) is exact: the JSON holds xgboost's float32 to the bit.
        values = [float(np.float32(x)) for x in np.atleast_1d(o)]
        rows.append({"row": r, "values": [str(data.columns[f][r]) for f in problem.features], "output": values})
    return {"columns": list(problem.features), "rows": rows}


def libraries():
    libs = {"python": platform.python_version(), "xgboost": xgb.__version__, "numpy": np.__version__}
    for mod in ("scipy", "boto3"):  # scipy: xgboost's dependency; boto3: S3, when used
        m = sys.modules.get(mod)
        if m is not None and getattr(m, "__version__", None):
            libs[mod] = m.__version__
    return libs
