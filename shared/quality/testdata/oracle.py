"""The oracle for shared/quality's tests: reads cases as JSON on stdin and
answers with scipy's and numpy's figures, computed independently of the Go
code (scipy's Mann-Whitney U for AUC; Sun & Xu's DeLong as published; the
closed forms of Wilson, Hanley-McNeil and the normal approximation; CBPE as
NannyML computes it; isotonic regression by the max-min formula)."""
import json
import sys

import numpy as np
from scipy import stats

Z = stats.norm.ppf(0.975)


def midrank(x):
    # Sun & Xu (2014), compute_midrank: 1-based midranks.
    j = np.argsort(x, kind="mergesort")
    z = x[j]
    n = len(x)
    t = np.zeros(n, dtype=float)
    i = 0
    while i < n:
        a = i
        while a < n and z[a] == z[i]:
            a += 1
        t[i:a] = 0.5 * (i + a - 1) + 1
        i = a
    out = np.empty(n, dtype=float)
    out[j] = t
    return out


def delong(y, p):
    x, w = p[y == 1], p[y == 0]
    m, n = len(x), len(w)
    tx, ty, tz = midrank(x), midrank(w), midrank(np.concatenate([x, w]))
    auc = tz[:m].sum() / m / n - (m + 1.0) / 2.0 / n
    v01 = (tz[:m] - tx) / n
    v10 = 1.0 - (tz[m:] - ty) / m
    var = np.var(v01, ddof=1) / m + np.var(v10, ddof=1) / n
    return auc, np.sqrt(var)


def wilson(k, n):
    ph = k / n
    den = 1 + Z**2 / n
    c = (ph + Z**2 / (2 * n)) / den
    h = Z / den * np.sqrt(ph * (1 - ph) / n + Z**2 / (4 * n * n))
    return [max(c - h, 0.0), min(c + h, 1.0)]


def binary(case):
    y, p, thr = np.array(case["y"], float), np.array(case["p"], float), case["threshold"]
    pred = (p.astype(np.float32) >= np.float32(thr))
    act = y == 1
    out = {"n": len(y), "positives": int(act.sum())}
    if 0 < act.sum() < len(y):
        u = stats.mannwhitneyu(p[act], p[~act], alternative="two-sided").statistic
        out["auc"] = u / (act.sum() * (~act).sum())
        if min(act.sum(), (~act).sum()) >= 2:
            a, se = delong(y, p)
            out["delongAuc"], out["delongSe"] = a, se
    correct = int((pred == act).sum())
    out["accuracy"] = [correct / len(y)] + wilson(correct, len(y))
    tp = int((pred & act).sum())
    if pred.sum() > 0:
        out["precision"] = [tp / pred.sum()] + wilson(tp, int(pred.sum()))
    if act.sum() > 0:
        out["recall"] = [tp / act.sum()] + wilson(tp, int(act.sum()))
    b = np.minimum((p * 10).astype(np.int64), 9)
    ece = 0.0
    for k in range(10):
        s = b == k
        if s.any():
            ece += s.sum() * abs(p[s].mean() - y[s].mean())
    out["ece"] = ece / len(y)
    return out


def regression(case):
    y, f = np.array(case["y"], float), np.array(case["p"], float)
    e2, ae = (f - y) ** 2, np.abs(f - y)
    n = len(y)
    out = {"rmse": np.sqrt(e2.mean()), "mae": ae.mean()}
    if n >= 2:
        se2 = e2.std(ddof=1) / np.sqrt(n)
        sea = ae.std(ddof=1) / np.sqrt(n)
        out["rmseCi"] = [np.sqrt(max(e2.mean() - Z * se2, 0)), np.sqrt(e2.mean() + Z * se2)]
        out["maeCi"] = [max(ae.mean() - Z * sea, 0), ae.mean() + Z * sea]
    return out


def isotonic(x, y):
    # Pool equal x, then the max-min formula: f_i = max_{j<=i} min_{k>=i} mean(y_j..y_k), weighted.
    ux, inv = np.unique(x, return_inverse=True)
    s = np.bincount(inv, weights=y)
    w = np.bincount(inv).astype(float)
    n = len(ux)
    cs, cw = np.concatenate([[0], np.cumsum(s)]), np.concatenate([[0], np.cumsum(w)])
    f = np.empty(n)
    for i in range(n):
        f[i] = max(min((cs[k + 1] - cs[j]) / (cw[k + 1] - cw[j]) for k in range(i, n)) for j in range(i + 1))
    return ux, f


def cbpe(case):
    p, thr = np.array(case["p"], float), case["threshold"]
    q = p
    out = {}
    if case.get("refY") is not None:
        kx, ky = isotonic(np.array(case["refP"], float), np.array(case["refY"], float))
        out["knotsX"], out["knotsY"] = kx.tolist(), ky.tolist()
        q = np.interp(p, kx, ky)
    pred = p.astype(np.float32) >= np.float32(thr)
    tp, fp = q[pred].sum(), (1 - q[pred]).sum()
    fn, tn = q[~pred].sum(), (1 - q[~pred]).sum()
    out.update(tp=tp, fp=fp, fn=fn, tn=tn, accuracy=(tp + tn) / len(p))
    out["accuracySe"] = np.sqrt((q * (1 - q)).sum()) / len(p)
    out["precision"], out["recall"] = tp / (tp + fp), tp / (tp + fn)
    # NannyML's _calculate_cbpe_roc_auc, ordering by the raw score.
    order = np.argsort(-p, kind="mergesort")
    qs = q[order]
    tps = np.concatenate([[0], np.cumsum(qs)])
    fps = np.concatenate([[0], np.cumsum(1 - qs)])
    a = np.trapz(tps / tps[-1], fps / fps[-1])
    out["auc"] = a
    npos, nneg = q.sum(), (1 - q).sum()
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    out["aucSe"] = np.sqrt((a * (1 - a) + (npos - 1) * (q1 - a * a) + (nneg - 1) * (q2 - a * a)) / (npos * nneg))
    return out


def clean(v):
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [clean(x) for x in v]
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


cases = json.load(sys.stdin)
json.dump(clean({
    "binary": [binary(c) for c in cases["binary"]],
    "regression": [regression(c) for c in cases["regression"]],
    "cbpe": [cbpe(c) for c in cases["cbpe"]],
}), sys.stdout)
