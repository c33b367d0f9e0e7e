"""Train small XGBoost models (fixed seeds) and record xgboost's own predictions.

Usage: /usr/bin/python3 gen_models.py OUTDIR [--small] [CASE...]

Without CASE arguments it trains every case but the ones in ON_DEMAND (larger
models for benchmarks), which are trained only when named.

For each case NAME it writes OUTDIR/NAME.model.json (Booster.save_model) and
OUTDIR/NAME.cases.json: {"objective", "num_outputs", "rows": [[float|null]],
"preds": [[float]]}. Rows are float32 values written as float64 (exact); null is
a missing value (NaN). preds are xgboost's Booster.predict output (float32),
written as float64, one list per row; margins likewise with output_margin=True;
contribs likewise with pred_contribs=True (num_outputs x (num_features + 1)
values per row, xgboost's layout), except for the ON_DEMAND cases.
"""
import json
import os
import sys

import numpy as np
import xgboost as xgb


def make_data(rng, n, f, missing_frac):
    X = rng.normal(size=(n, f)).astype(np.float32)
    # a few heavy-tailed and discrete columns so thresholds vary in magnitude
    if f > 3:
        X[:, 1] = (X[:, 1] * 1000.0).astype(np.float32)
        X[:, 2] = np.round(X[:, 2] * 3).astype(np.float32)
    if missing_frac > 0:
        mask = rng.random(size=X.shape) < missing_frac
        X[mask] = np.nan
    return X


def signal(X):
    Z = np.nan_to_num(X, nan=-0.7)
    return Z[:, 0] + 0.001 * Z[:, 1] - 0.5 * Z[:, 2] * Z[:, 3 % Z.shape[1]] + np.sin(Z[:, -1])


def dump(outdir, name, bst, X_test, objective, num_outputs):
    bst.save_model(os.path.join(outdir, name + ".model.json"))
    preds = bst.predict(xgb.DMatrix(X_test, missing=np.nan))
    preds = np.asarray(preds, dtype=np.float32).reshape(len(X_test), num_outputs)
    margins = bst.predict(xgb.DMatrix(X_test, missing=np.nan), output_margin=True)
    margins = np.asarray(margins, dtype=np.float32).reshape(len(X_test), num_outputs)
    rows = [[None if np.isnan(v) else float(v) for v in row] for row in X_test]
    extra = {}
    if name not in ON_DEMAND:
        contribs = bst.predict(xgb.DMatrix(X_test, missing=np.nan), pred_contribs=True)
        contribs = np.asarray(contribs, dtype=np.float32).reshape(len(X_test), -1)
        extra["contribs"] = [[float(v) for v in row] for row in contribs]
    with open(os.path.join(outdir, name + ".cases.json"), "w") as fh:
        json.dump({**extra,
            "objective": objective,
            "num_outputs": num_outputs,
            "xgboost_version": xgb.__version__,
            "rows": rows,
            "preds": [[float(v) for v in row] for row in preds],
            "margins": [[float(v) for v in row] for row in margins],
        }, fh)


def train_credit(outdir):
    """The credit example's data as bench/predict encodes it (its loader), and its model's shape."""
    if ONLY and "credit" not in ONLY:
        return
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
    sys.path.insert(0, os.path.join(root, "bench", "predict"))
    from train_and_time import credit_data
    X, y = credit_data()
    perm = np.random.default_rng(5).permutation(len(X))
    X, y = X[perm], y[perm]
    ntrain = int(len(X) * 0.7)
    p = {"objective": "binary:logistic", "seed": 1, "nthread": 1, "max_depth": 4, "eta": 0.1, "tree_method": "hist"}
    bst = xgb.train(p, xgb.DMatrix(X[:ntrain], label=y[:ntrain], missing=np.nan), num_boost_round=100)
    dump(outdir, "credit", bst, X[ntrain:], "binary:logistic", 1)


ONLY = set()
ON_DEMAND = {"synthetic"}


def train(name, outdir, objective, params, rounds, n, f, missing, seed, num_class=0):
    if (ONLY or name in ON_DEMAND) and name not in ONLY:
        return
    rng = np.random.default_rng(seed)
    X = make_data(rng, n, f, missing)
    s = signal(X)
    if objective == "binary:logistic":
        y = (s + rng.normal(scale=0.5, size=n) > 0).astype(np.float32)
        outs = 1
    elif objective == "reg:squarederror":
        y = (3.0 * s + 10.0 + rng.normal(scale=0.3, size=n)).astype(np.float32)
        outs = 1
    else:
        q = np.quantile(s, np.linspace(0, 1, num_class + 1)[1:-1])
        y = np.digitize(s, q).astype(np.float32)
        outs = num_class
    ntrain = int(n * 0.7)
    dtrain = xgb.DMatrix(X[:ntrain], label=y[:ntrain], missing=np.nan)
    p = {"objective": objective, "seed": seed, "nthread": 1}
    if num_class:
        p["num_class"] = num_class
    p.update(params)
    bst = xgb.train(p, dtrain, num_boost_round=rounds)
    X_test = X[ntrain:]
    # add all-missing and extreme rows: default_left and +-inf comparisons matter
    extra = np.full((3, f), np.nan, dtype=np.float32)
    extra[1, :] = 0.0
    extra[2, :] = np.float32(1e30)
    X_test = np.vstack([X_test, extra]).astype(np.float32)
    dump(outdir, name, bst, X_test, objective, outs)


def main():
    outdir = sys.argv[1]
    small = "--small" in sys.argv[2:]
    ONLY.update(a for a in sys.argv[2:] if not a.startswith("--"))
    os.makedirs(outdir, exist_ok=True)
    if small:
        train("small_binary", outdir, "binary:logistic", {"max_depth": 3, "eta": 0.3}, 4, 120, 5, 0.2, 1)
        train("small_regression", outdir, "reg:squarederror", {"max_depth": 3, "eta": 0.3}, 4, 120, 5, 0.2, 2)
        train("small_multi", outdir, "multi:softprob", {"max_depth": 2, "eta": 0.3}, 3, 120, 5, 0.2, 3, num_class=3)
        # deep trees and missing values, for the contributions
        train("small_deep", outdir, "binary:logistic", {"max_depth": 7, "eta": 0.3}, 3, 400, 6, 0.25, 4)
        return
    train("binary", outdir, "binary:logistic", {"max_depth": 6, "eta": 0.1}, 50, 3000, 10, 0.15, 11)
    train("binary_exact_gamma", outdir, "binary:logistic",
          {"max_depth": 5, "eta": 0.3, "tree_method": "exact", "gamma": 2.0}, 30, 2000, 8, 0.1, 12)
    train("regression", outdir, "reg:squarederror", {"max_depth": 6, "eta": 0.1}, 80, 3000, 10, 0.15, 13)
    train("multi", outdir, "multi:softprob", {"max_depth": 5, "eta": 0.2}, 40, 3000, 10, 0.15, 14, num_class=4)
    train("forest", outdir, "binary:logistic",
          {"max_depth": 4, "eta": 1.0, "num_parallel_tree": 3, "subsample": 0.8, "colsample_bynode": 0.8}, 5,
          2000, 8, 0.1, 15)
    train_credit(outdir)
    train("big", outdir, "binary:logistic", {"max_depth": 8, "eta": 0.05, "tree_method": "hist"}, 200,
          20000, 30, 0.1, 16)
    # The shape of bench/predict's synthetic model: 1000 trees of depth 8.
    train("synthetic", outdir, "binary:logistic", {"max_depth": 8, "eta": 0.05, "tree_method": "hist"}, 1000,
          20000, 30, 0.1, 2)


if __name__ == "__main__":
    main()
