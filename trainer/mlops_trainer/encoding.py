"""Encoding: one row of strings → the model's feature vector. Serving applies
the same, from encoding.json (shared/bundle)."""

import numpy as np

from . import BadInput, log
from .problem import BINARY, NUMERIC_TYPES, dedupe, parse_column

MAX_CATEGORIES = 100      # one-hot columns per feature when the contract lists no allowed values


def xgboost_accepts(names):
    """Whether xgboost's Python DMatrix takes these feature names: 1.7 refuses
    '[', ']' and '<' (its text dump syntax), a check the C++ core and the model
    file do not have."""
    return not any(c in n for n in names for c in "[]<")


class Encoder:
    """encoding.json's features and columns, and the encoding itself. Category
    lists come from the contract, or from the training rows only (never from
    validation or test rows, whose values the model must treat as new)."""

    def __init__(self, problem, data, train_rows):
        self.features = []  # bundle.Feature dicts
        self.columns = []   # "<name>" or "<name>=<category>" per model column
        self.slots = []     # per feature: (first column, number of columns)
        for name in problem.features:
            col = problem.columns[name]
            typ = col["type"]
            f = {"name": name}
            start = len(self.columns)
            if typ in NUMERIC_TYPES:
                f["kind"] = "numeric"
                self.columns.append(name)
            elif typ == "boolean":
                f["kind"] = "boolean"
                self.columns.append(name)
            elif typ == "timestamp":
                f["kind"] = "timestamp"
                if col.get("format"):
                    f["format"] = col["format"]
                self.columns.append(name)
            else:
                f["kind"] = "onehot"
                allowed = dedupe(col.get("allowed") or [])
                if allowed:
                    # The contract's list: the same columns for every dataset
                    # version. "" is a missing value, never a category.
                    cats = [a for a in allowed if a != ""]
                else:
                    vals = data.columns[name][train_rows]
                    vals = vals[vals != ""]
                    uniq, counts = np.unique(vals.astype(str), return_counts=True)
                    order = sorted(range(len(uniq)), key=lambda k: (-counts[k], uniq[k]))
                    cats = [str(uniq[k]) for k in order[:MAX_CATEGORIES]]
                    if len(uniq) > MAX_CATEGORIES:
                        log(f"feature {name!r}: {len(uniq)} distinct values in training; the "
                            f"{MAX_CATEGORIES} most frequent get columns, the rest read as missing")
                f["categories"] = cats
                f["unseen"] = "missing"
                self.columns.extend(f"{name}={c}" for c in cats)
            self.slots.append((start, len(self.columns) - start))
            self.features.append(f)
        # The columns are the model's feature names too. shared/bundle derives
        # the same names from the features and checks them against model.json,
        # so they must be unique.
        if len(set(self.columns)) != len(self.columns):
            dup = sorted({c for c in self.columns if self.columns.count(c) > 1})
            raise BadInput(f"model column names collide: {', '.join(repr(d) for d in dup)} (a feature named "
                           "\"<name>=<value>\" and a category of feature <name>); rename the column")

    def encode(self, problem, data, rows):
        """float64 matrix (NaN = missing) of the given dataset rows; xgboost
        rounds it to float32 as the Go encoder does (float64, then float32)."""
        X = np.full((len(rows), len(self.columns)), np.nan)
        for f, (start, width) in zip(self.features, self.slots):
            name = f["name"]
            if f["kind"] != "onehot":
                X[:, start] = parse_column(problem, data, name, rows)
                continue
            index = {c: k for k, c in enumerate(f["categories"])}
            vals = data.columns[name][rows]
            pos = np.array([index.get(v, -1) for v in vals], dtype=np.int64)
            known = pos >= 0  # missing and unseen values stay NaN in every column
            block = np.zeros((int(known.sum()), width))
            block[np.arange(len(block)), pos[known]] = 1.0
            X[np.flatnonzero(known), start:start + width] = block
        return X

    def to_json(self, label, problem):
        target = {"column": problem.target, "kind": label.kind}
        if label.classes:
            target["classes"] = label.classes
        if label.positive:
            target["positiveClass"] = label.positive
        enc = {"features": self.features, "columns": self.columns, "target": target}
        if problem.objective == BINARY:
            enc["threshold"] = problem.threshold
        return enc


def check_features(problem, encoder, X_train, data, labelled_rows):
    """A feature without a single value cannot be learned and would make
    serving's input validation meaningless: refuse it, naming the column."""
    for f, (start, width) in zip(encoder.features, encoder.slots):
        name = f["name"]
        raw = data.columns[name][labelled_rows]
        if (raw == "").all():
            raise BadInput(f"feature column {name!r} has no values: all {len(raw)} rows with a target are "
                           "missing (empty). Fix the data or remove it from the contract's features")
        if width == 0 or np.isnan(X_train[:, start:start + width]).all():
            raise BadInput(f"feature column {name!r} has no usable value in the {len(X_train)} training rows "
                           "(all missing, or none among its categories)")
