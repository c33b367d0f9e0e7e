"""xgboost's explanation of a bundle's model, for the endpoint's parity test.

Usage: /usr/bin/python3 contribs.py IN.json OUT.json

IN.json: {"model": path of the bundle's model.json, "encoding": the bundle's
encoding.json, "rows": each row's canonical values of the encoding's features,
in order, "" for a missing value (what the contract's check hands the
encoder)}. The rows are encoded here from encoding.json alone, independently of
the Go encoder, as the trainer encodes them:

  numeric  float(value) as float64, then float32; "" is missing (NaN)
  boolean  true/1/yes -> 1, false/0/no -> 0, case-insensitive; "" is missing
  onehot   1 in the value's category's column, 0 in the others; "" or a value
           outside the categories is missing in every column of the feature

OUT.json: per row, xgboost's pred_contribs (exact TreeSHAP) summed over each
feature's columns in float64, in the encoding's feature order, then the bias
("contribs"); the margin (output_margin) and the prediction ("margin",
"prediction"); and the deepest tree's depth ("maxDepth"). Binary and
regression models only (one output).
"""
import json
import sys

import numpy as np
import xgboost as xgb


def width(f):
    return len(f["categories"]) if f["kind"] == "onehot" else 1


def encode(features, rows):
    X = np.full((len(rows), sum(width(f) for f in features)), np.nan, dtype=np.float32)
    for i, row in enumerate(rows):
        c = 0
        for f, v in zip(features, row, strict=True):
            kind = f["kind"]
            if kind == "onehot":
                cats = f["categories"]
                if v in cats:
                    X[i, c:c + len(cats)] = 0
                    X[i, c + cats.index(v)] = 1
            elif v == "":
                pass
            elif kind == "numeric":
                X[i, c] = np.float32(float(v))
            elif kind == "boolean":
                X[i, c] = {"true": 1, "1": 1, "yes": 1, "false": 0, "0": 0, "no": 0}[v.lower()]
            else:
                raise SystemExit(f"feature {f['name']}: kind {kind} is not handled by this oracle")
            c += width(f)
    return X


def depth(tree):
    left, right = tree["left_children"], tree["right_children"]
    best, stack = 0, [(0, 0)]
    while stack:
        node, d = stack.pop()
        if left[node] == -1:
            best = max(best, d)
        else:
            stack += [(left[node], d + 1), (right[node], d + 1)]
    return best


def main(inp, outp):
    with open(inp) as fh:
        req = json.load(fh)
    enc = req["encoding"]
    features, columns = enc["features"], enc["columns"]
    X = encode(features, req["rows"])
    bst = xgb.Booster(model_file=req["model"])
    dm = xgb.DMatrix(X, missing=np.nan, feature_names=columns)
    contribs = bst.predict(dm, pred_contribs=True)
    if contribs.ndim != 2 or contribs.shape[1] != len(columns) + 1:
        raise SystemExit(f"contributions of shape {contribs.shape}: one output expected")
    out = []
    for row in contribs:
        summed, c = [], 0
        for f in features:
            summed.append(float(np.sum(row[c:c + width(f)], dtype=np.float64)))
            c += width(f)
        summed.append(float(row[-1]))
        out.append(summed)
    with open(req["model"]) as fh:
        trees = json.load(fh)["learner"]["gradient_booster"]["model"]["trees"]
    result = {
        "contribs": out,
        "margin": [float(v) for v in bst.predict(dm, output_margin=True)],
        "prediction": [float(v) for v in bst.predict(dm)],
        "maxDepth": max(depth(t) for t in trees),
        "trees": len(trees),
    }
    with open(outp, "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
