"""The target and the split: the label of every row that has one, and the
stratified, seeded train/validation/test split."""

import math

import numpy as np

from . import BadInput
from .problem import dedupe, parse_column
from .values import FALSE_WORDS, TRUE_WORDS, parse_boolean


class Label:
    """The label: y (float: class index or value) for the labelled rows."""

    def __init__(self, problem, data):
        raw = data.columns[problem.target]
        ttype = problem.columns[problem.target]["type"]
        present = raw != ""
        self.rows = np.flatnonzero(present)  # dataset rows with a target
        self.missing = int(data.rows - len(self.rows))
        self.kind = problem.label_kind
        self.classes = []
        self.positive = ""
        if not len(self.rows):
            raise BadInput(f"no rows with a value in the target column {problem.target!r} "
                           f"({data.rows} data rows in all)")
        if self.kind == "regression":
            self.y = parse_column(problem, data, problem.target, self.rows)
            return
        values = raw[self.rows]
        if ttype == "boolean":
            # "TRUE", "1" and "yes" are one class: spell them one way.
            b = np.array([parse_boolean(v) if v.lower() in TRUE_WORDS | FALSE_WORDS else -1.0 for v in values])
            if (b < 0).any():
                i = int(np.flatnonzero(b < 0)[0])
                raise BadInput(f"{data.where(int(self.rows[i]))}, column {problem.target!r}: {values[i]!r} is "
                               "not a boolean")
            values = np.where(b == 1, "true", "false").astype(object)
            pos = problem.positive
            if pos and pos.lower() in TRUE_WORDS | FALSE_WORDS:
                problem.positive = "true" if parse_boolean(pos) else "false"
        observed, counts = np.unique(values.astype(str), return_counts=True)
        observed = [str(v) for v in observed]
        if len(observed) < 2:
            raise BadInput(f"target column {problem.target!r} has one class only ({observed[0]!r} in all "
                           f"{len(values)} labelled rows): a classifier needs at least two")
        if self.kind == "binary":
            if problem.positive not in observed:
                raise BadInput(f"positive class {problem.positive!r} does not occur in target column "
                               f"{problem.target!r} (values: {', '.join(repr(v) for v in observed[:20])})")
            if len(observed) != 2:
                raise BadInput(f"binary:logistic needs a target with exactly two values; column "
                               f"{problem.target!r} has {len(observed)}: "
                               f"{', '.join(repr(v) for v in observed[:20])} (use multi:softprob)")
            neg = observed[0] if observed[1] == problem.positive else observed[1]
            self.classes = [neg, problem.positive]
            self.positive = problem.positive
        else:
            # The contract's allowed list, when there is one, fixes the output
            # order across dataset versions; otherwise the sorted values.
            allowed = [a for a in dedupe(problem.columns[problem.target].get("allowed") or []) if a != ""]
            self.classes = allowed if allowed else observed
            extra = [v for v in observed if v not in self.classes]
            if extra:
                raise BadInput(f"target column {problem.target!r} has values outside the contract's allowed "
                               f"list: {', '.join(repr(v) for v in extra[:10])}")
        index = {c: k for k, c in enumerate(self.classes)}
        self.y = np.array([index[v] for v in values], dtype=np.float64)


def split_rows(y, kind, val_frac, test_frac, seed):
    """Stratified train/validation/test split of positions 0..len(y)-1.

    Strata are the classes (classification) or up to ten quantile bins of the
    target (regression). Within each stratum (in sorted order) the positions are
    shuffled with numpy's PCG64 generator seeded with the spec's seed, and the
    first round(n·test) go to test, the next round(n·validation) to validation,
    the rest to training, so every stratum keeps its share in every part. The
    same inputs always give the same split."""
    rng = np.random.default_rng(seed)
    n = len(y)
    if kind == "regression":
        nbins = max(1, min(10, n // 50))
        edges = np.unique(np.quantile(y, np.linspace(0, 1, nbins + 1))[1:-1])
        strata = np.searchsorted(edges, y, side="right")
    else:
        strata = y.astype(np.int64)
    parts = ([], [], [])
    for s in np.unique(strata):
        idx = rng.permutation(np.flatnonzero(strata == s))
        m = len(idx)
        nt = int(math.floor(m * test_frac + 0.5))
        nv = int(math.floor(m * val_frac + 0.5))
        if nt + nv >= m:  # tiny strata: keep at least one row for training
            nt = min(nt, max(0, m - 1))
            nv = min(nv, max(0, m - 1 - nt))
        parts[0].append(idx[nt + nv:])
        parts[1].append(idx[nt:nt + nv])
        parts[2].append(idx[:nt])
    return tuple(np.sort(np.concatenate(p)).astype(np.int64) for p in parts)
