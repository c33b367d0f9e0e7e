"""Train (if missing) the benchmark models and time xgboost's inplace_predict.

Usage: /usr/bin/python3 bench/predict/train_and_time.py DIR [--quick]

For each model NAME it writes, into DIR, NAME.model.json (Booster.save_model),
NAME.x.f32 (10,000 rows x NUM_FEATURE float32, row-major, little-endian; NaN is
missing) and NAME.xgb.f32 (xgboost's 10,000 predictions, float32). It prints
one JSON object to stdout: {"xgboost_version", "models": [{"name",
"num_feature", "rows", "single_ns" (median ns of one 1-row inplace_predict),
"single_calls", "batch_ns" (best of the batch runs over all rows), "shap_rows", "shap_ns" (best
of the runs of predict(pred_contribs=True) over the first shap_rows rows)}]}, and
NAME.contribs.f32 (those rows' contributions, float32, xgboost's layout).
All timings use nthread=1.
"""
import csv
import json
import os
import sys
import time

import numpy as np
import xgboost as xgb

ROWS = 10000
SHAP_ROWS = 200  # TreeSHAP on 1000 trees of depth 8 takes milliseconds a row
HERE = os.path.dirname(os.path.abspath(__file__))
CREDIT_CSV = os.path.join(HERE, "..", "..", "examples", "credit", "credit_data.csv")


def credit_data():
    """Status == "bad" is the label; numbers as is, NA -> NaN, categories -> ordinal codes."""
    with open(CREDIT_CSV, newline="") as fh:
        rows = list(csv.reader(fh))
    header, rows = rows[0], rows[1:]
    y = np.array([r[0] == "bad" for r in rows], dtype=np.float32)
    cols = []
    for j in range(1, len(header)):
        vals = [r[j] for r in rows]
        try:
            col = [np.nan if v == "NA" else float(v) for v in vals]
        except ValueError:
            codes = {c: float(i) for i, c in enumerate(sorted(set(vals) - {"NA"}))}
            col = [np.nan if v == "NA" else codes[v] for v in vals]
        cols.append(col)
    return np.array(cols, dtype=np.float32).T, y


def synthetic_data(rng, n, f):
    X = rng.normal(size=(n, f)).astype(np.float32)
    X[:, 1] = (X[:, 1] * 1000.0).astype(np.float32)
    X[:, 2] = np.round(X[:, 2] * 3).astype(np.float32)
    X[rng.random(size=X.shape) < 0.1] = np.nan
    Z = np.nan_to_num(X, nan=-0.7)
    s = Z[:, 0] + 0.001 * Z[:, 1] - 0.5 * Z[:, 2] * Z[:, 3] + np.sin(Z[:, -1])
    y = (s + rng.normal(scale=0.5, size=n) > 0).astype(np.float32)
    return X, y


def prepare(outdir, name, make, params, rounds, seed):
    """Train NAME and write its model and 10,000 input rows unless they exist."""
    model = os.path.join(outdir, name + ".model.json")
    xfile = os.path.join(outdir, name + ".x.f32")
    if not (os.path.exists(model) and os.path.exists(xfile)):
        rng = np.random.default_rng(seed)
        X, y = make(rng)
        p = {"objective": "binary:logistic", "seed": seed, "tree_method": "hist"}
        p.update(params)
        bst = xgb.train(p, xgb.DMatrix(X, label=y, missing=np.nan), num_boost_round=rounds)
        bst.save_model(model)
        idx = rng.integers(0, len(X), size=ROWS)  # inputs: training rows drawn with replacement
        X[idx].astype("<f4").tofile(xfile)
    bst = xgb.Booster(model_file=model)
    bst.set_param({"nthread": 1})
    X = np.fromfile(xfile, dtype="<f4").reshape(ROWS, -1)
    return bst, X


def time_contribs(outdir, name, bst, X, runs, rows):
    d = xgb.DMatrix(X[:rows], missing=np.nan)
    contribs = np.asarray(bst.predict(d, pred_contribs=True), dtype="<f4")
    contribs.tofile(os.path.join(outdir, name + ".contribs.f32"))
    best = None
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        bst.predict(d, pred_contribs=True)
        t = time.perf_counter_ns() - t0
        best = t if best is None else min(best, t)
    return {"shap_rows": rows, "shap_ns": float(best)}


def time_model(outdir, name, bst, X, single_calls, batch_runs):
    preds = np.asarray(bst.inplace_predict(X, missing=np.nan), dtype="<f4")
    preds.tofile(os.path.join(outdir, name + ".xgb.f32"))
    for i in range(100):  # warm-up
        bst.inplace_predict(X[i:i + 1], missing=np.nan)
    times = []
    for i in range(single_calls):
        row = X[i % ROWS:i % ROWS + 1]
        t0 = time.perf_counter_ns()
        bst.inplace_predict(row, missing=np.nan)
        times.append(time.perf_counter_ns() - t0)
    batch = []
    for _ in range(batch_runs):
        t0 = time.perf_counter_ns()
        bst.inplace_predict(X, missing=np.nan)
        batch.append(time.perf_counter_ns() - t0)
    return {"name": name, "num_feature": X.shape[1], "rows": ROWS,
            "single_ns": float(np.median(times)), "single_calls": single_calls,
            "batch_ns": float(min(batch))}


def main():
    outdir = sys.argv[1]
    quick = "--quick" in sys.argv[2:]
    os.makedirs(outdir, exist_ok=True)
    single_calls, batch_runs = (300, 2) if quick else (2000, 5)
    models = [
        ("credit", lambda rng: credit_data(), {"max_depth": 4, "eta": 0.1}, 100, 1),
        ("synthetic", lambda rng: synthetic_data(rng, 20000, 30), {"max_depth": 8, "eta": 0.05}, 1000, 2),
    ]
    results = []
    for name, make, params, rounds, seed in models:
        bst, X = prepare(outdir, name, make, params, rounds, seed)
        r = time_model(outdir, name, bst, X, single_calls, batch_runs)
        r.update(time_contribs(outdir, name, bst, X, batch_runs, SHAP_ROWS // 4 if quick else SHAP_ROWS))
        results.append(r)
    json.dump({"xgboost_version": xgb.__version__, "models": results}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
