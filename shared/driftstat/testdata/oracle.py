"""The scipy oracle for driftstat's tests: reads a JSON list of cases from the
file named by argv[1], writes one JSON result per case to argv[2]."""
import json
import sys
import warnings

import numpy as np
from scipy import special, stats
from scipy.spatial import distance

warnings.simplefilter("ignore")


def psi(r, c, eps=1e-4):
    # The textbook PSI with empty bins floored at eps, as driftstat documents.
    r = np.asarray(r, float)
    c = np.asarray(c, float)
    r = np.maximum(r / r.sum(), eps)
    c = np.maximum(c / c.sum(), eps)
    return float(np.sum((c - r) * np.log(c / r)))


def bh(p):
    # The textbook Benjamini-Hochberg step-up (scipy 1.10 has no false_discovery_control).
    p = np.asarray(p, float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1)
    return out.tolist()


def one(c):
    k = c["kind"]
    if k == "ks2":
        r = stats.ks_2samp(np.asarray(c["a"], float), np.asarray(c["b"], float), method="auto")
        return [float(r.statistic), float(r.pvalue)]
    if k == "kstwo":
        return float(stats.kstwo.sf(c["x"], c["n"]))
    if k == "smirnov":
        return float(special.smirnov(c["n"], c["x"]))
    if k == "chi2sf":
        return float(stats.chi2.sf(c["x"], c["dof"]))
    if k == "wasserstein":
        return float(stats.wasserstein_distance(c["a"], c["b"]))
    if k == "chi2":
        t = np.array([c["a"], c["b"]], float)
        keep = t.sum(axis=0) > 0
        t = t[:, keep]
        if t.shape[1] < 2:
            return [0.0, 1.0, 0]
        r = stats.chi2_contingency(t, correction=False)
        return [float(r[0]), float(r[1]), int(r[2])]
    if k == "js":
        return float(distance.jensenshannon(np.asarray(c["a"], float), np.asarray(c["b"], float), base=2))
    if k == "psi":
        return psi(c["a"], c["b"])
    if k == "bh":
        return bh(c["p"])
    raise ValueError("unknown case kind " + k)


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    with open(sys.argv[2], "w") as f:
        json.dump([one(c) for c in cases], f)


if __name__ == "__main__":
    main()
