"""The pandas side of bench/ingest: read a credit-shaped CSV and do the checks and
profile that shared/validate does (types, allowed values, ranges, null rates,
describe, quantiles, value counts, distinct counts). Prints one JSON line."""
import json
import sys
import time

import pandas as pd

CATS = {
    "Status": ["good", "bad"],
    "Home": ["rent", "owner", "parents", "priv", "ignore", "other"],
    "Marital": ["married", "single", "separated", "widow", "divorced"],
    "Records": ["yes", "no"],
    "Job": ["fixed", "freelance", "partime", "others"],
}
INTS = ["Seniority", "Time", "Age"]
NUMS = ["Expenses", "Income", "Assets", "Debt", "Amount", "Price"]


def main(path):
    t0 = time.time()
    df = pd.read_csv(path, na_values=["NA"], keep_default_na=False)
    problems = {}
    for c in INTS + NUMS:
        if not pd.api.types.is_numeric_dtype(df[c]):
            problems[c + ":type"] = int(pd.to_numeric(df[c], errors="coerce").isna().sum())
        if c in INTS and pd.api.types.is_float_dtype(df[c]):
            frac = (df[c].dropna() % 1 != 0).sum()
            if frac:
                problems[c + ":type"] = int(frac)
        neg = int((df[c] < 0).sum())
        if neg:
            problems[c + ":min"] = neg
    for c, allowed in CATS.items():
        bad = int((~df[c].isin(allowed) & df[c].notna()).sum())
        if bad:
            problems[c + ":allowed"] = bad
    nulls = df.isna().mean().to_dict()
    desc = df[INTS + NUMS].describe()
    q = df[INTS + NUMS].quantile([0.01, 0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95, 0.99])
    vc = {c: df[c].value_counts().head(20).to_dict() for c in CATS}
    distinct = df.nunique().to_dict()
    out = {
        "seconds": time.time() - t0,
        "rows": len(df),
        "meanIncome": float(desc.loc["mean", "Income"]),
        "p50Income": float(q.loc[0.5, "Income"]),
        "problems": problems,
        "nullRates": nulls,
        "distinct": {k: int(v) for k, v in distinct.items()},
        "top": {c: {str(k): int(v) for k, v in d.items()} for c, d in vc.items()},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
