"""The drift benchmark's peer: the statistics of shared/driftstat, computed
with pandas, numpy and scipy as a data scientist would, on the prediction log
objects bench/drift downloaded (gzip JSON Lines) against the training CSV.

    python3 peer.py --logs DIR --train train.csv --features JSON

Prints one JSON object: the seconds from the first read to the last
statistic (imports and the interpreter's start excluded), the reading's
share, and per feature the statistics and the verdict under the platform's
default rule (docs/drift.md)."""
import argparse
import glob
import json
import os
import time

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

P_VALUE, WASSERSTEIN, JS, NULL_CHANGE, OUT_OF_RANGE, LARGE = 0.05, 0.1, 0.1, 0.05, 0.01, 1000
EPS = 1e-4  # PSI's floor for an empty bin, as driftstat's


def psi(ref, cur):
    p = np.maximum(ref / ref.sum(), EPS)
    q = np.maximum(cur / cur.sum(), EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--logs", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--features", required=True)
    a = ap.parse_args()
    feats = json.loads(a.features)
    names = [f["name"] for f in feats]
    numeric = [f["name"] for f in feats if f["numeric"]]

    t0 = time.perf_counter()
    train = pd.read_csv(a.train)
    # One object at a time (each is one of the platform's, 100,000 records):
    # the numeric columns are kept whole for KS and Wasserstein, categories
    # are counted as they come, so that 10M records fit in memory.
    num_parts = {n: [] for n in numeric}
    cat_counts = {n: pd.Series(dtype="int64") for n in names if n not in numeric}
    nulls = {n: 0 for n in names}
    rows = 0
    for path in sorted(glob.glob(os.path.join(a.logs, "*"))):
        df = pd.read_json(path, lines=True, compression="gzip", dtype=False)
        f = pd.DataFrame.from_records(df["features"].tolist(), columns=names)
        rows += len(f)
        for n in names:
            col = f[n]
            nulls[n] += int(col.isna().sum())
            if n in num_parts:
                num_parts[n].append(pd.to_numeric(col, errors="coerce").dropna().to_numpy(dtype="float64"))
            else:
                cat_counts[n] = cat_counts[n].add(col.dropna().astype(str).value_counts(), fill_value=0)
    t_read = time.perf_counter() - t0

    out, pvals = [], []
    for feat in feats:
        n = feat["name"]
        ref_col = train[n]
        ref_null = float(ref_col.isna().mean())
        r = {"name": n, "ks": None, "wasserstein": None, "psi": None, "js": None, "chi2": None,
             "nullRateChange": nulls[n] / rows - ref_null if rows else 0.0}
        if feat["numeric"]:
            ref = pd.to_numeric(ref_col, errors="coerce").dropna().to_numpy(dtype="float64")
            cur = np.concatenate(num_parts[n]) if num_parts[n] else np.array([])
            ks = stats.ks_2samp(ref, cur)
            r["ks"], p = float(ks.statistic), float(ks.pvalue)
            r["wasserstein"] = float(stats.wasserstein_distance(ref, cur) / ref.std())
            edges = np.unique(np.quantile(ref, np.arange(1, 10) / 10))
            # Bin i is (edges[i-1], edges[i]], as the profile's histogram.
            rc = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=len(edges) + 1)
            cc = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=len(edges) + 1)
            r["psi"], r["js"] = psi(rc, cc), float(jensenshannon(rc, cc, base=2))
            lo, hi = feat.get("min"), feat.get("max")
            oor = np.zeros(len(cur), dtype=bool)
            if lo is not None:
                oor |= cur < lo
            if hi is not None:
                oor |= cur > hi
            r["outOfRange"] = float(oor.mean()) if len(cur) else 0.0
            r["effect"], r["effectThreshold"], r["values"] = r["wasserstein"], WASSERSTEIN, (len(ref), len(cur))
        else:
            ref_counts = ref_col.dropna().astype(str).value_counts()
            cats = sorted(ref_counts.index)
            cur = cat_counts[n]
            unseen = float(cur[~cur.index.isin(cats)].sum())
            rc = np.append(ref_counts.reindex(cats).to_numpy(dtype="float64"), 0.0)
            cc = np.append(cur.reindex(cats, fill_value=0).to_numpy(dtype="float64"), unseen)
            table = np.vstack([rc, cc])
            table = table[:, table.sum(axis=0) > 0]
            chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
            r["chi2"], p = float(chi2), float(p)
            r["psi"], r["js"] = psi(rc, cc), float(jensenshannon(rc, cc, base=2))
            r["outOfRange"] = unseen / cc.sum() if cc.sum() else 0.0
            r["effect"], r["effectThreshold"], r["values"] = r["js"], JS, (int(rc.sum()), int(cc.sum()))
        pvals.append(p)
        out.append(r)

    # Benjamini–Hochberg over the features.
    pv = np.array(pvals)
    order = np.argsort(pv)
    m = len(pv)
    adj = np.minimum.accumulate((pv[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    corrected = np.empty(m)
    corrected[order] = np.minimum(adj, 1)
    for r, pc in zip(out, corrected):
        r["pValueCorrected"] = float(pc)
        large = min(r.pop("values")) > LARGE
        effect, threshold = r.pop("effect"), r.pop("effectThreshold")
        if abs(r["nullRateChange"]) > NULL_CHANGE:
            r["drifted"], r["reason"] = True, "null rate"
        elif r.pop("outOfRange") > OUT_OF_RANGE:
            r["drifted"], r["reason"] = True, "out of range"
        elif large:
            r["drifted"], r["reason"] = bool(pc < P_VALUE and effect > threshold), "p and effect"
        else:
            r["drifted"], r["reason"] = bool(pc < P_VALUE), "p"
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "readSeconds": t_read, "rows": rows, "features": out}))


if __name__ == "__main__":
    main()
