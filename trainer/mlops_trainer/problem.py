"""The problem: what the contract and the spec ask for, checked, with the
platform's defaults applied (shared/spec applies the same)."""

import math

import numpy as np

from . import BadInput, log
from .timefmt import GoLayout
from .values import parse_boolean, parse_integer, parse_number

BINARY, REGRESSION, MULTI = "binary:logistic", "reg:squarederror", "multi:softprob"
OBJECTIVES = {BINARY: "binary", REGRESSION: "regression", MULTI: "multiclass"}

# Booster parameters the trainer sets itself; a spec may not (shared/spec).
RESERVED_PARAMS = ("objective", "tree_method", "device", "gpu_id", "seed", "random_state", "nthread", "n_jobs",
                   "num_class", "eval_metric")

DEFAULT_VALIDATION = 0.15
DEFAULT_TEST = 0.15
DEFAULT_SEED = 42
DEFAULT_ROUNDS = 500
DEFAULT_EARLY_STOPPING = 20
DEFAULT_THRESHOLD = 0.5

NUMERIC_TYPES = ("integer", "number")
ONEHOT_TYPES = ("category", "string")
KNOWN_TYPES = ("integer", "number", "boolean", "category", "string", "timestamp")


class Problem:
    """The contract and spec, checked and with defaults applied."""

    def __init__(self, contract, spec):
        self.contract, self.spec = contract, spec
        cols = contract.get("columns")
        if not isinstance(cols, list) or not cols:
            raise BadInput("contract: no columns")
        self.columns = {}
        for c in cols:
            if not isinstance(c, dict) or not isinstance(c.get("name"), str):
                raise BadInput("contract: every column needs a name")
            if c.get("type") not in KNOWN_TYPES:
                raise BadInput(f"contract: column {c['name']!r} has type {c.get('type')!r}; expected one of "
                               f"{', '.join(KNOWN_TYPES)}")
            self.columns[c["name"]] = c
        self.dataset = contract.get("dataset", "")

        self.model = spec.get("name") or ""
        if not isinstance(self.model, str) or not self.model:
            raise BadInput("spec: no name (the model's name)")
        self.objective = spec.get("objective")
        if self.objective not in OBJECTIVES:
            raise BadInput(f"spec: objective {self.objective!r} is not one the platform trains; expected one of "
                           f"{', '.join(OBJECTIVES)}")
        self.label_kind = OBJECTIVES[self.objective]

        target = spec.get("target") or {}
        self.target = target.get("column") or contract.get("target") or ""
        if not self.target:
            raise BadInput("no target: neither the spec (target.column) nor the contract (target) names one")
        if self.target not in self.columns:
            raise BadInput(f"target column {self.target!r} is not a column of the contract "
                           f"(columns: {', '.join(self.columns)})")
        self.positive = target.get("positiveClass") or ""
        if self.objective == BINARY and not self.positive:
            raise BadInput("spec: binary:logistic needs target.positiveClass (the label value whose probability "
                           "the model predicts)")
        ttype = self.columns[self.target]["type"]
        if self.objective == REGRESSION and ttype not in NUMERIC_TYPES:
            raise BadInput(f"target column {self.target!r} has type {ttype}; reg:squarederror needs an integer "
                           "or number target")
        if self.objective != REGRESSION and ttype in ("number", "timestamp"):
            raise BadInput(f"target column {self.target!r} has type {ttype}; {self.objective} needs a category, "
                           "string, boolean or integer target")

        features = contract.get("features") or []
        if not features:
            raise BadInput("contract: no features (customProperties features) to train on")
        for f in features:
            if f not in self.columns:
                raise BadInput(f"contract: feature {f!r} is not a column of the contract")
        if len(set(features)) != len(features):
            raise BadInput("contract: a feature is listed twice")
        if self.target in features:
            # A spec may pick another target than the contract's; never learn
            # the label from itself.
            log(f"the target {self.target!r} is one of the contract's features; it is left out of the model")
            features = [f for f in features if f != self.target]
            if not features:
                raise BadInput("no features left once the target is removed")
        self.features = features
        self.sensitive = [s for s in (contract.get("sensitive") or [])]
        for s in self.sensitive:
            if s not in self.columns:
                raise BadInput(f"contract: sensitive attribute {s!r} is not a column of the contract")

        self.layouts = {}
        for name in set(self.features) | set(self.sensitive):
            c = self.columns[name]
            if c["type"] == "timestamp":
                try:
                    self.layouts[name] = GoLayout(c.get("format") or "")
                except ValueError as e:
                    raise BadInput(f"contract: column {name!r}: {e}") from None

        split = spec.get("split") or {}
        # Defaults as shared/spec applies them: a zero fraction (or round count,
        # or threshold) means the default; seed and early stopping take theirs
        # only when absent, because 0 means something there.
        self.val_frac = float(split.get("validation") or DEFAULT_VALIDATION)
        self.test_frac = float(split.get("test") or DEFAULT_TEST)
        seed = split.get("seed")
        self.seed = DEFAULT_SEED if seed is None else int(seed)
        if not (0 < self.val_frac < 1 and 0 < self.test_frac < 1 and self.val_frac + self.test_frac < 0.9):
            raise BadInput(f"spec: split fractions validation={self.val_frac} test={self.test_frac}: each must be "
                           "in (0, 1) and together leave at least 10% for training")
        rounds = spec.get("numBoostRound")
        self.rounds = int(rounds) if rounds else DEFAULT_ROUNDS
        esr = spec.get("earlyStoppingRounds")  # 0: off
        self.early_stopping = DEFAULT_EARLY_STOPPING if esr is None else int(esr)
        if self.rounds < 1 or self.early_stopping < 0:
            raise BadInput(f"spec: numBoostRound={self.rounds} and earlyStoppingRounds={self.early_stopping}: "
                           "rounds must be positive and early stopping not negative")
        self.threshold = float(spec.get("threshold") or DEFAULT_THRESHOLD)
        if not 0 < self.threshold < 1:
            raise BadInput(f"spec: threshold {self.threshold} must be in (0, 1)")

        params = spec.get("params") or {}
        if not isinstance(params, dict):
            raise BadInput("spec: params must be an object")
        for k, v in params.items():
            if k in RESERVED_PARAMS:
                raise BadInput(f"spec: params.{k} is set by the trainer itself; remove it from the spec")
            if not isinstance(v, (int, float, str, bool)) or isinstance(v, float) and not math.isfinite(v):
                raise BadInput(f"spec: params.{k} must be a number, string or boolean")
        # xgboost parses each value from str(value): booleans must be 0/1 ("True"
        # is refused), and whole numbers integers, because shared/spec stores
        # every number as a float64 and xgboost refuses max_depth="4.0".
        self.params = {k: int(v) if isinstance(v, bool) or isinstance(v, float) and v.is_integer() else v
                       for k, v in params.items()}

    def needed(self):
        """The data columns the trainer reads, each once."""
        out = []
        for n in [self.target] + self.features + self.sensitive:
            if n not in out:
                out.append(n)
        return out

    def pii(self, name):
        return bool(self.columns[name].get("pii"))


def parse_column(problem, data, name, rows=None):
    """A numeric/boolean/timestamp column as float64 (NaN = missing). A value
    that does not parse is bad input, named by file, row and column."""
    col = problem.columns[name]
    values = data.columns[name] if rows is None else data.columns[name][rows]
    typ = col["type"]
    if typ == "integer":
        parse = parse_integer
    elif typ == "number":
        parse = parse_number
    elif typ == "boolean":
        parse = parse_boolean
    elif typ == "timestamp":
        parse = problem.layouts[name].unix
    else:
        raise AssertionError(typ)
    out = np.full(len(values), np.nan)
    cache = {}
    for i, v in enumerate(values):
        if v == "":
            continue
        f = cache.get(v)
        if f is None:
            try:
                f = parse(v)
            except ValueError as e:
                want = str(e) or (f"a timestamp in the Go layout {problem.layouts[name].layout!r}"
                                  if typ == "timestamp" else typ)
                shown = "(value withheld: PII column)" if problem.pii(name) else repr(v)
                row = i if rows is None else int(rows[i])
                raise BadInput(f"{data.where(row)}, column {name!r}: {shown} is not {want}") from None
            if len(cache) < 1_000_000:
                cache[v] = f
        out[i] = f
    return out


def dedupe(seq):
    """seq's values once each, in their first order (a contract's allowed lists may repeat one)."""
    out, seen = [], set()
    for v in seq:
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out
