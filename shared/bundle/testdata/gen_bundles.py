"""Write small model bundles (mlops-bundle/1) trained with real xgboost, for the
tests of shared/bundle and `mlops score`.

Usage: /usr/bin/python3 gen_bundles.py OUTDIR

Writes OUTDIR/binary, OUTDIR/regression and OUTDIR/multiclass, each a complete
bundle (every file of bundle.RequiredFiles, manifest.json last). The committed
copies under testdata/bundles/ come from this script; the Go tests also run it
(without -short) and verify what it writes.

This is deliberately not trainer/train.py: it is the smallest program that
writes the format as shared/bundle/format.go describes it, with the feature
encoding implemented independently of the Go Encoder, so that the tests compare
two implementations of the encoding rules:

  numeric    float(value) (the canonical CSV holds plain decimals), as float64,
             then cast to float32 by numpy (round to nearest even)
  boolean    true/1/yes -> 1, false/0/no -> 0, case-insensitive
  timestamp  Unix seconds (with fraction) of the value parsed with the feature's
             layout (a Go layout; "" = RFC 3339), then float32
  onehot     1 for the value's category, 0 for the others; a value outside the
             categories (unseen) makes every column of the feature missing
  ""         missing (NaN) in every column of the feature

Everything is seeded and single-threaded, so the output depends only on the
xgboost and numpy versions.
"""
import datetime as dt
import hashlib
import json
import os
import platform
import sys

import numpy as np
import xgboost as xgb

CREATED = "2024-05-01T12:00:00Z"
GO_LAYOUTS = {"2006-01-02": "%Y-%m-%d", "2006-01-02 15:04": "%Y-%m-%d %H:%M"}


# --- the encoding rules, written independently of the Go Encoder -------------

def parse_bool(s):
    low = s.lower()
    if low in ("true", "1", "yes"):
        return 1.0
    if low in ("false", "0", "no"):
        return 0.0
    raise ValueError("not a boolean: %r" % s)


def parse_timestamp(s, layout):
    if layout == "":
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    else:
        t = dt.datetime.strptime(s, GO_LAYOUTS[layout]).replace(tzinfo=dt.timezone.utc)
    whole = int(t.replace(microsecond=0).timestamp())
    return float(whole) + t.microsecond / 1e6


def columns_of(features):
    cols = []
    for f in features:
        if f["kind"] == "onehot":
            cols += ["%s=%s" % (f["name"], c) for c in f["categories"]]
        else:
            cols.append(f["name"])
    return cols


def encode(features, rows):
    """rows: lists of canonical CSV strings, in features order -> float32 matrix."""
    width = len(columns_of(features))
    X = np.full((len(rows), width), np.nan, dtype=np.float64)
    for i, row in enumerate(rows):
        j = 0
        for f, v in zip(features, row):
            n = len(f["categories"]) if f["kind"] == "onehot" else 1
            if v != "":
                if f["kind"] == "numeric":
                    X[i, j] = float(v)
                elif f["kind"] == "boolean":
                    X[i, j] = parse_bool(v)
                elif f["kind"] == "timestamp":
                    X[i, j] = parse_timestamp(v, f.get("format", ""))
                elif v in f["categories"]:
                    X[i, j:j + n] = 0.0
                    X[i, j + f["categories"].index(v)] = 1.0
            j += n
    return X.astype(np.float32)


# --- synthetic datasets ------------------------------------------------------

def maybe(rng, p, s):
    return "" if rng.random() < p else s


def number_text(rng, v, decimals):
    """Canonical CSV numbers are plain decimals, spelled in several ways."""
    r = rng.random()
    if r < 0.06:
        return "%.4e" % v
    if r < 0.09 and v >= 0:
        return "+%.*f" % (decimals, v)
    return "%.*f" % (decimals, v)


def binary_data(rng, n, test_start):
    colors = ["red", "green", "blue"]
    owners = ["yes", "no", "TRUE", "false", "1", "0", "Yes", "NO"]
    rows, y = [], []
    for i in range(n):
        age = int(rng.integers(18, 80))
        income = float(rng.lognormal(10.5, 0.6))
        owner = owners[int(rng.integers(0, len(owners)))]
        day = dt.date(2015, 1, 1) + dt.timedelta(days=int(rng.integers(0, 3650)))
        color = colors[int(rng.integers(0, 3))]
        z = 0.04 * (age - 45) + 0.9 * np.log(income / 36000) + (0.8 if parse_bool(owner) else -0.3)
        z += {"red": -0.6, "green": 0.2, "blue": 0.5}[color] - 0.0004 * (day - dt.date(2020, 1, 1)).days
        y.append("good" if z + rng.normal(scale=0.8) > 0 else "bad")
        row = [maybe(rng, 0.05, str(age)), maybe(rng, 0.1, number_text(rng, income, 2)), maybe(rng, 0.05, owner),
               maybe(rng, 0.05, day.isoformat()), maybe(rng, 0.05, color)]
        if i >= test_start and i % 7 == 0:
            row[4] = "purple"  # a category training never saw
        rows.append(row)
    # rows the test set must cover: all missing, unseen with the rest missing, odd spellings
    rows[test_start + 1] = ["", "", "", "", ""]
    rows[test_start + 2] = ["", "", "", "", "violet"]
    rows[test_start + 3] = ["+30", "4.2e4", "yES", "2019-12-31", "blue"]
    rows[test_start + 4] = ["79", ".5", "0", "2024-12-30", "red"]
    rows[test_start + 5] = ["-0", "0000123.50", "NO", "2015-01-01", "green"]
    features = [
        {"name": "age", "kind": "numeric"},
        {"name": "income", "kind": "numeric"},
        {"name": "owner", "kind": "boolean"},
        {"name": "opened", "kind": "timestamp", "format": "2006-01-02"},
        {"name": "color", "kind": "onehot", "categories": ["blue", "green", "red"], "unseen": "missing"},
    ]
    target = {"column": "status", "kind": "binary", "classes": ["bad", "good"], "positiveClass": "good"}
    return features, target, rows, y


def regression_data(rng, n, test_start):
    cities = ["north", "south", "east", "west"]
    rows, y = [], []
    for i in range(n):
        sqft = float(rng.normal(1500, 400))
        rooms = int(rng.integers(1, 7))
        city = cities[int(rng.integers(0, 4))]
        new = bool(rng.random() < 0.3)
        price = 100 * sqft + 5000 * rooms + {"north": 20000, "south": -5000, "east": 0, "west": 40000}[city]
        price += (30000 if new else 0) + rng.normal(scale=15000)
        y.append(round(price, 2))
        row = [maybe(rng, 0.08, number_text(rng, sqft, 1)), maybe(rng, 0.05, str(rooms)), maybe(rng, 0.05, city),
               maybe(rng, 0.05, "true" if new else "false")]
        if i >= test_start and i % 9 == 0:
            row[2] = "downtown"
        rows.append(row)
    rows[test_start + 1] = ["", "", "", ""]
    rows[test_start + 2] = ["1e3", "3", "west", "False"]
    features = [
        {"name": "sqft", "kind": "numeric"},
        {"name": "rooms", "kind": "numeric"},
        {"name": "city", "kind": "onehot", "categories": ["east", "north", "south", "west"], "unseen": "missing"},
        {"name": "new", "kind": "boolean"},
    ]
    target = {"column": "price", "kind": "regression"}
    return features, target, rows, y


def multiclass_data(rng, n, test_start):
    kinds = ["alpha", "beta", "gamma"]
    classes = ["low", "mid", "high"]
    base = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    rows, y = [], []
    for i in range(n):
        x1 = float(rng.normal())
        x2 = float(rng.normal(scale=10))
        kind = kinds[int(rng.integers(0, 3))]
        when = base + dt.timedelta(seconds=int(rng.integers(0, 365 * 86400)))
        s = x1 + 0.1 * x2 + {"alpha": -1, "beta": 0, "gamma": 1}[kind] + (when - base).days / 365 + rng.normal(scale=0.5)
        y.append(classes[0] if s < -0.3 else classes[1] if s < 1.0 else classes[2])
        stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        if rng.random() < 0.2:
            stamp = when.astimezone(dt.timezone(dt.timedelta(hours=2))).isoformat()
        row = [maybe(rng, 0.05, number_text(rng, x1, 4)), maybe(rng, 0.05, number_text(rng, x2, 3)),
               maybe(rng, 0.05, kind), maybe(rng, 0.05, stamp)]
        if i >= test_start and i % 8 == 0:
            row[2] = "delta"
        rows.append(row)
    rows[test_start + 1] = ["", "", "", ""]
    rows[test_start + 2] = ["0.25", "-3", "beta", "2024-06-30T23:59:59.5Z"]
    features = [
        {"name": "x1", "kind": "numeric"},
        {"name": "x2", "kind": "numeric"},
        {"name": "kind", "kind": "onehot", "categories": kinds, "unseen": "missing"},
        {"name": "when", "kind": "timestamp"},
    ]
    target = {"column": "grade", "kind": "multiclass", "classes": classes}
    return features, target, rows, y


# --- metrics (small but real) ------------------------------------------------

def auc(y, p):
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    ranks[order] = np.arange(1, len(p) + 1)
    pos = y == 1
    npos, nneg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def binary_metrics(y, p, thr):
    pred = (p >= thr).astype(int)
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    pc = np.clip(p, 1e-7, 1 - 1e-7)
    return {
        "auc": auc(y, p), "log_loss": float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))),
        "accuracy": (tp + tn) / len(y), "precision": prec, "recall": rec,
        "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0, "brier": float(np.mean((p - y) ** 2)),
    }, [[tn, fp], [fn, tp]]


def regression_metrics(y, p):
    err = p - y
    return {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err))),
            "r2": float(1 - np.sum(err ** 2) / np.sum((y - y.mean()) ** 2))}


def multiclass_metrics(y, P):
    k = P.shape[1]
    pred = P.argmax(axis=1)
    cm = [[int(((y == a) & (pred == b)).sum()) for b in range(k)] for a in range(k)]
    f1s = []
    for c in range(k):
        tp = cm[c][c]
        fp = sum(cm[a][c] for a in range(k)) - tp
        fn = sum(cm[c]) - tp
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    pc = np.clip(P[np.arange(len(y)), y.astype(int)], 1e-7, 1)
    return {"accuracy": float((pred == y).mean()), "macro_f1": float(np.mean(f1s)),
            "log_loss": float(-np.mean(np.log(pc)))}, cm


def headline(rng, name, value, fn, n):
    reps = []
    for _ in range(50):
        idx = rng.integers(0, n, size=n)
        try:
            reps.append(fn(idx))
        except ZeroDivisionError:
            pass
    lo, hi = np.quantile(reps, [0.025, 0.975])
    return {"name": name, "value": value, "lower": float(lo), "upper": float(hi), "level": 0.95, "replicates": 50}


def distribution(name, values, edges):
    counts, _ = np.histogram(values, bins=edges)
    qs = ["0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99"]
    return {"name": name, "edges": [float(e) for e in edges], "counts": [int(c) for c in counts],
            "quantiles": {q: float(np.quantile(values, float(q))) for q in qs},
            "mean": float(np.mean(values)), "count": int(len(values))}


# --- one bundle --------------------------------------------------------------

def write_json(path, doc):
    with open(path, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")


def build(outdir, name, objective, gen, params, rounds, n, seed, threshold=0.0, extra_files=None):
    rng = np.random.default_rng(seed)
    test_start = int(n * 0.7)
    features, target, rows, labels = gen(rng, n, test_start)
    cols = columns_of(features)
    X = encode(features, rows)
    if target["kind"] == "regression":
        y = np.asarray(labels, dtype=np.float64)
    else:
        y = np.asarray([target["classes"].index(v) for v in labels], dtype=np.float64)
    val_start = int(n * 0.6)
    tr, va, te = slice(0, val_start), slice(val_start, test_start), slice(test_start, n)
    p = {"objective": objective, "seed": seed, "nthread": 1, "tree_method": "hist"}
    if objective == "multi:softprob":
        p["num_class"] = len(target["classes"])
    p.update(params)
    dtrain = xgb.DMatrix(X[tr], label=y[tr], missing=np.nan, feature_names=cols)
    bst = xgb.train(p, dtrain, num_boost_round=rounds)

    def predict(part):
        out = bst.predict(xgb.DMatrix(X[part], missing=np.nan, feature_names=cols))
        return np.asarray(out, dtype=np.float32)

    os.makedirs(os.path.join(outdir, name), exist_ok=True)
    d = os.path.join(outdir, name)
    bst.save_model(os.path.join(d, "model.json"))

    encoding = {"features": features, "columns": cols, "target": target}
    if threshold:
        encoding["threshold"] = threshold
    write_json(os.path.join(d, "encoding.json"), encoding)

    parts = {"test": te, "validation": va, "train": tr}
    metrics = {"objective": objective, "rows": {k: int(s.stop - s.start) for k, s in
                                                (("train", tr), ("validation", va), ("test", te))},
               "bestIteration": rounds - 1, "numTrees": len(bst.get_dump())}
    P = predict(te).astype(np.float64)
    yt = y[te]
    if objective == "binary:logistic":
        for k, s in parts.items():
            metrics[k], cm = binary_metrics(y[s], predict(s).astype(np.float64), threshold)
        metrics["confusionMatrix"] = binary_metrics(yt, P, threshold)[1]
        metrics["threshold"] = threshold
        metrics["headline"] = headline(rng, "auc", metrics["test"]["auc"], lambda i: auc(yt[i], P[i]), len(yt))
        bins = []
        for b in range(10):
            lo, hi = b / 10, (b + 1) / 10
            m = (P >= lo) & ((P < hi) if b < 9 else (P <= hi))
            bins.append({"lower": lo, "upper": hi, "count": int(m.sum()),
                         "meanPredicted": float(P[m].mean()) if m.any() else 0.0,
                         "fractionPositive": float(yt[m].mean()) if m.any() else 0.0})
        metrics["calibration"] = bins
        outputs = [distribution("p(%s)" % target["classes"][1], P, np.linspace(0, 1, 21))]
    elif objective == "reg:squarederror":
        for k, s in parts.items():
            metrics[k] = regression_metrics(y[s], predict(s).astype(np.float64))
        metrics["headline"] = headline(rng, "rmse", metrics["test"]["rmse"],
                                       lambda i: regression_metrics(yt[i], P[i])["rmse"], len(yt))
        outputs = [distribution("prediction", P, np.linspace(P.min(), P.max(), 21))]
    else:
        for k, s in parts.items():
            metrics[k], cm = multiclass_metrics(y[s], predict(s).astype(np.float64))
        metrics["confusionMatrix"] = multiclass_metrics(yt, P)[1]
        metrics["headline"] = headline(rng, "macro_f1", metrics["test"]["macro_f1"],
                                       lambda i: multiclass_metrics(yt[i], P[i])[0]["macro_f1"], len(yt))
        outputs = [distribution("p(%s)" % c, P[:, k], np.linspace(0, 1, 21)) for k, c in enumerate(target["classes"])]
    write_json(os.path.join(d, "metrics.json"), metrics)
    write_json(os.path.join(d, "predictions.json"), {"outputs": outputs})

    # one sensitive attribute, sliced by the first one-hot feature's values
    fi = next(i for i, f in enumerate(features) if f["kind"] == "onehot")
    test_rows = rows[test_start:]
    values = sorted({r[fi] if r[fi] else "missing" for r in test_rows})
    slices = []
    for v in values:
        m = np.array([(r[fi] or "missing") == v for r in test_rows])
        if objective == "reg:squarederror":
            sm = regression_metrics(yt[m], P[m])
        elif objective == "binary:logistic":
            sm = {"accuracy": float(((P[m] >= threshold) == (yt[m] == 1)).mean()),
                  "positive_rate": float((P[m] >= threshold).mean())}
            if (yt[m] == 1).any():
                sm["tpr"] = float((P[m][yt[m] == 1] >= threshold).mean())
        else:
            sm = {"accuracy": float((P[m].argmax(axis=1) == yt[m]).mean())}
        slices.append({"value": v, "rows": int(m.sum()), "metrics": sm})
    attr = {"name": features[fi]["name"], "kind": "categorical", "slices": slices,
            "demographicParityDifference": None, "equalOpportunityDifference": None, "disparateImpactRatio": None}
    if objective == "binary:logistic":
        rates = [s["metrics"]["positive_rate"] for s in slices]
        tprs = [s["metrics"]["tpr"] for s in slices if "tpr" in s["metrics"]]
        attr["demographicParityDifference"] = max(rates) - min(rates)
        attr["equalOpportunityDifference"] = max(tprs) - min(tprs)
        attr["disparateImpactRatio"] = min(rates) / max(rates) if max(rates) > 0 else None
    write_json(os.path.join(d, "slices.json"), {"attributes": [attr]})

    gain = bst.get_score(importance_type="total_gain")
    by_col = sorted(({"name": c, "gain": float(gain.get(c, 0.0))} for c in cols), key=lambda e: -e["gain"])
    by_feat = sorted(({"name": f["name"], "gain": float(sum(gain.get(c, 0.0) for c in columns_of([f])))}
                      for f in features), key=lambda e: -e["gain"])
    write_json(os.path.join(d, "importance.json"), {"type": "total_gain", "columns": by_col, "features": by_feat})

    version = "fixture-" + name
    write_json(os.path.join(d, "test_rows.json"),
               {"datasetVersion": version, "seed": seed, "rows": list(range(test_start, n))})

    nsamples = 40
    write_json(os.path.join(d, "samples.json"), {
        "columns": [f["name"] for f in features],
        "rows": [{"row": test_start + i, "values": rows[test_start + i],
                  "output": [float(v) for v in np.atleast_1d(P[i])]} for i in range(nsamples)],
    })

    header = ",".join([f["name"] for f in features] + [target["column"]])
    csv_text = header + "\n" + "".join(",".join(r + [str(l)]) + "\n" for r, l in zip(rows, labels))
    run_id = "run-" + name
    write_json(os.path.join(d, "lineage.json"), {
        "runId": run_id, "model": name, "dataset": name + "-data", "datasetVersion": version,
        "contractHash": hashlib.sha256(json.dumps(features).encode()).hexdigest(),
        "specHash": hashlib.sha256(json.dumps(p, sort_keys=True).encode()).hexdigest(),
        "dataSha256": [hashlib.sha256(csv_text.encode()).hexdigest()],
        "trainer": "shared/bundle/testdata/gen_bundles.py",
        "params": p, "numBoostRound": rounds, "seed": seed,
        "libraries": {"python": platform.python_version(), "xgboost": xgb.__version__, "numpy": np.__version__},
        "device": "cpu", "treeMethod": "hist",
        "startedAt": "2024-05-01T11:59:00Z", "finishedAt": CREATED,
        "durationsSeconds": {"load": 0.01, "encode": 0.01, "train": 0.1, "evaluate": 0.01, "write": 0.01},
    })
    for fname, text in (extra_files or {}).items():
        os.makedirs(os.path.dirname(os.path.join(d, fname)), exist_ok=True)
        with open(os.path.join(d, fname), "w") as fh:
            fh.write(text)

    files = []
    for root, _, names in os.walk(d):
        for fname in names:
            full = os.path.join(root, fname)
            rel = os.path.relpath(full, d).replace(os.sep, "/")
            if rel == "manifest.json":
                continue
            with open(full, "rb") as fh:
                data = fh.read()
            files.append({"path": rel, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})
    files.sort(key=lambda f: f["path"])
    write_json(os.path.join(d, "manifest.json"), {
        "format": "mlops-bundle/1", "runId": run_id, "model": name, "objective": objective,
        "createdAt": CREATED, "files": files})


def main():
    outdir = sys.argv[1]
    build(outdir, "binary", "binary:logistic", binary_data, {"max_depth": 3, "eta": 0.3}, 8, 500, 7,
          threshold=0.42, extra_files={"card/card.md": "# binary\n\nA fixture model for shared/bundle's tests.\n"})
    build(outdir, "regression", "reg:squarederror", regression_data, {"max_depth": 3, "eta": 0.3}, 8, 400, 8)
    build(outdir, "multiclass", "multi:softprob", multiclass_data, {"max_depth": 2, "eta": 0.3}, 5, 400, 9)


if __name__ == "__main__":
    main()
