"""Metrics. Defined here with numpy (the definitions scikit-learn uses) so the
trainer needs nothing else."""

import numpy as np

from . import BadInput
from .problem import BINARY, MULTI, REGRESSION

HEADLINE = {BINARY: "auc", REGRESSION: "rmse", MULTI: "macro_f1"}
BOOTSTRAP_REPLICATES = 1000
CI_LEVEL = 0.95


def positive(p, threshold):
    """The decision: p ≥ threshold compared in float32, as numpy compares
    xgboost's float32 output with a Python float and as shared/bundle's
    Encoding.Label does (float32(0.42) is below 0.42)."""
    return p.astype(np.float32) >= np.float32(threshold)


def auc_score(y, p, w=None):
    """ROC AUC with ties counted half (Mann-Whitney), optionally weighted by
    integer resample counts; None when one class is absent."""
    order = np.argsort(p, kind="mergesort")
    return _auc_sorted(p[order], y[order], None if w is None else w[order])


def _auc_sorted(ps, ys, ws):
    w = np.ones(len(ps)) if ws is None else ws.astype(np.float64)
    starts = np.r_[0, np.flatnonzero(np.diff(ps)) + 1] if len(ps) else np.array([], dtype=np.int64)
    if not len(starts):
        return None
    pos = np.add.reduceat(w * ys, starts)
    neg = np.add.reduceat(w * (1 - ys), starts)
    P, N = pos.sum(), neg.sum()
    if P <= 0 or N <= 0:
        return None
    below = np.cumsum(neg) - neg
    return float((pos * (below + 0.5 * neg)).sum() / (P * N))


def log_loss_binary(y, p):
    q = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def binary_metrics(y, p, threshold):
    """auc, log_loss, accuracy, precision, recall, f1, brier. Precision is 0
    with no predicted positives (scikit-learn's convention); recall and f1 are
    absent with no actual positives, auc with one class: never NaN."""
    m = {}
    if not len(y):
        return m
    a = auc_score(y, p)
    if a is not None:
        m["auc"] = a
    pred = positive(p, threshold).astype(np.float64)
    tp = float((pred * y).sum())
    fp = float((pred * (1 - y)).sum())
    fn = float(((1 - pred) * y).sum())
    m["log_loss"] = log_loss_binary(y, p)
    m["accuracy"] = float((pred == y).mean())
    m["precision"] = tp / (tp + fp) if tp + fp else 0.0
    if tp + fn:
        m["recall"] = tp / (tp + fn)
        m["f1"] = 2 * tp / (2 * tp + fp + fn)
    m["brier"] = float(np.mean((p - y) ** 2))
    return m


def regression_metrics(y, p):
    m = {}
    if not len(y):
        return m
    e = p - y
    m["rmse"] = float(np.sqrt(np.mean(e ** 2)))
    m["mae"] = float(np.mean(np.abs(e)))
    ss = float(((y - y.mean()) ** 2).sum())
    if ss > 0:
        m["r2"] = 1.0 - float((e ** 2).sum()) / ss
    return m


def confusion(y, pred, k, w=None):
    return np.bincount(y * k + pred, weights=w, minlength=k * k).reshape(k, k)


def macro_f1_from_confusion(cm):
    """Mean F1 over the classes that occur in the truth or the predictions
    (scikit-learn's macro average)."""
    tp = np.diag(cm)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    if not present.any():
        return None
    return float(np.mean(2 * tp[present] / (2 * tp[present] + fp[present] + fn[present])))


def multiclass_metrics(y, P, k):
    m = {}
    if not len(y):
        return m
    yi = y.astype(np.int64)
    pred = P.argmax(axis=1)
    m["accuracy"] = float((pred == yi).mean())
    f1 = macro_f1_from_confusion(confusion(yi, pred, k))
    if f1 is not None:
        m["macro_f1"] = f1
    Q = np.clip(P / P.sum(axis=1, keepdims=True), 1e-15, 1)
    m["log_loss"] = float(-np.mean(np.log(Q[np.arange(len(yi)), yi])))
    return m


def metrics_for(problem, y, out, k):
    if problem.objective == BINARY:
        return binary_metrics(y, out, problem.threshold)
    if problem.objective == REGRESSION:
        return regression_metrics(y, out)
    return multiclass_metrics(y, out, k)


def calibration(y, p, bins=10):
    """Ten equal-width bins of predicted probability; an empty bin has count 0
    and zeros for its means (readers look at the count)."""
    b = np.minimum((p * bins).astype(np.int64), bins - 1)
    out = []
    for i in range(bins):
        sel = b == i
        n = int(sel.sum())
        out.append({"lower": round(i / bins, 10), "upper": round((i + 1) / bins, 10), "count": n,
                    "meanPredicted": float(p[sel].mean()) if n else 0.0,
                    "fractionPositive": float(y[sel].mean()) if n else 0.0})
    return out


def headline(problem, y, out, k, seed):
    """The gate's lead metric on the test set with a percentile bootstrap 95%
    interval: 1000 resamples of the test rows (seeded), each as integer weights
    so AUC needs one sort, not a thousand."""
    name = HEADLINE[problem.objective]
    n = len(y)
    rng = np.random.default_rng([seed, 0x6d6c6f7073])  # a stream apart from the split's
    if problem.objective == BINARY:
        order = np.argsort(out, kind="mergesort")
        ps, ys = out[order], y[order]
        value = _auc_sorted(ps, ys, None)

        def stat(w):
            return _auc_sorted(ps, ys, w[order])
    elif problem.objective == REGRESSION:
        e2 = (out - y) ** 2
        value = float(np.sqrt(e2.mean()))

        def stat(w):
            return float(np.sqrt((w * e2).sum() / n))
    else:
        yi, pred = y.astype(np.int64), out.argmax(axis=1)
        value = macro_f1_from_confusion(confusion(yi, pred, k))

        def stat(w):
            return macro_f1_from_confusion(confusion(yi, pred, k, w.astype(np.float64)))
    if value is None:
        raise BadInput(f"the test set ({n} rows) cannot measure {name}: too few rows of some class")
    reps = []
    for _ in range(BOOTSTRAP_REPLICATES):
        v = stat(np.bincount(rng.integers(0, n, n), minlength=n))
        if v is not None:  # a resample with one class has no AUC
            reps.append(v)
    lo, hi = np.percentile(reps, [50 * (1 - CI_LEVEL), 100 - 50 * (1 - CI_LEVEL)]) if reps else (value, value)
    return {"name": name, "value": value, "lower": float(lo), "upper": float(hi), "level": CI_LEVEL,
            "replicates": len(reps)}
