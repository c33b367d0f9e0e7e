"""Slices: test-set metrics per value (or band) of each sensitive attribute,
and the fairness gaps between them."""

import math

import numpy as np

from .metrics import metrics_for, positive
from .problem import BINARY, NUMERIC_TYPES, dedupe, parse_column
from .values import parse_boolean

MIN_GAP_SLICE = 10        # slices smaller than this are listed but left out of the fairness gaps
NUMERIC_BANDS = 4


def _nice_unit(x):
    """The largest 1, 2 or 5 × 10^k not above x."""
    if x <= 0 or not math.isfinite(x):
        return 1.0
    e = math.floor(math.log10(x))
    for m in (5, 2, 1):
        if m * 10 ** e <= x:
            return m * 10.0 ** e
    return 10.0 ** e


def _fmt(x, unit):
    digits = max(0, -math.floor(math.log10(unit))) if unit < 1 else 0
    s = f"{x:.{digits}f}"
    return "0" if s in ("-0", "-0.0") else s


def numeric_bands(values, bands=NUMERIC_BANDS):
    """Band edges for a numeric attribute: its quartiles rounded to a round
    unit (1, 2 or 5 × 10^k, about an eighth of the range), between the
    minimum rounded down and the maximum rounded up (strictly above it), so
    the bands read "[25, 35)" and cover every value. Returns (edges, unit)."""
    v = values[~np.isnan(values)]
    if not len(v):
        return [], 1.0
    lo, hi = float(v.min()), float(v.max())
    unit = _nice_unit((hi - lo) / (2 * bands)) if hi > lo else _nice_unit(abs(lo) or 1.0)
    first = math.floor(lo / unit) * unit
    last = (math.floor(hi / unit) + 1) * unit
    inner = sorted({round(round(q / unit) * unit, 12) for q in np.quantile(v, np.arange(1, bands) / bands)})
    edges = [round(first, 12)] + [e for e in inner if first < e < last] + [round(last, 12)]
    return dedupe(edges), unit


def build_slices(problem, data, label, test_pos, out, k):
    """slices.json: per sensitive attribute, test-set metrics per value (or
    band), plus the fairness gaps for binary models over slices of at least
    MIN_GAP_SLICE rows (smaller slices are listed, not compared)."""
    rows = label.rows[test_pos]
    y = label.y[test_pos]
    attrs = []
    for name in problem.sensitive:
        typ = problem.columns[name]["type"]
        raw = data.columns[name][rows]
        groups = []  # (label, mask)
        if typ in NUMERIC_TYPES or typ == "timestamp":
            kind = "numeric"
            vals = parse_column(problem, data, name, rows)
            edges, unit = numeric_bands(vals)
            for a, b in zip(edges[:-1], edges[1:]):
                groups.append((f"[{_fmt(a, unit)}, {_fmt(b, unit)})", (vals >= a) & (vals < b)))
            groups.append(("missing", np.isnan(vals)))
        else:
            kind = "categorical"
            if typ == "boolean":
                vals = np.array(["" if v == "" else ("true" if parse_boolean(v) else "false") for v in raw],
                                dtype=object)
            else:
                vals = raw
            allowed = dedupe(problem.columns[name].get("allowed") or [])
            seen = sorted({str(v) for v in vals if v != ""})
            order = [a for a in allowed if a in seen] + [v for v in seen if v not in allowed]
            for v in order:
                groups.append((v, vals == v))
            groups.append(("missing", vals == ""))
        slices, rates, tprs = [], [], []
        for value, mask in groups:
            n = int(mask.sum())
            if not n:
                continue
            o = out[mask]
            m = metrics_for(problem, y[mask], o, k)
            if problem.objective == BINARY:
                pred = positive(o, problem.threshold)
                m["positive_rate"] = float(pred.mean())
                if "recall" in m:
                    m["tpr"] = m["recall"]
                if n >= MIN_GAP_SLICE:
                    rates.append(m["positive_rate"])
                    if "tpr" in m:
                        tprs.append(m["tpr"])
            slices.append({"value": value, "rows": n, "metrics": m})
        a = {"name": name, "kind": kind, "slices": slices, "demographicParityDifference": None,
             "equalOpportunityDifference": None, "disparateImpactRatio": None}
        if len(rates) >= 2:
            a["demographicParityDifference"] = max(rates) - min(rates)
            if max(rates) > 0:
                a["disparateImpactRatio"] = min(rates) / max(rates)
        if len(tprs) >= 2:
            a["equalOpportunityDifference"] = max(tprs) - min(tprs)
        attrs.append(a)
    return {"attributes": attrs}
