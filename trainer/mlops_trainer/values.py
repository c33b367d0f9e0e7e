"""Cell values as Go reads them. The ingest gate validated the data with Go
(shared/validate), and serving encodes request values with Go: the trainer
must read every cell exactly as Go does, or the model learns on numbers
serving never produces. Timestamps are timefmt's."""

import math
import re

import numpy as np

# Plain decimal notation, as shared/validate accepts it (strconv.ParseFloat
# after refusing letters): no "inf"/"nan", no hex, no underscores, no spaces.
# [0-9], not \d: Python's \d and float() accept non-ASCII digits, Go does not.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
TRUE_WORDS = frozenset(("true", "1", "yes"))
# The smallest magnitude that rounds to infinity in float32 (MaxFloat32 plus
# half an ULP): xgboost sees float32, and the Go encoder refuses these too.
FLOAT32_LIMIT = float(np.finfo(np.float32).max) + 2.0 ** 103
FALSE_WORDS = frozenset(("false", "0", "no"))


def parse_number(s):
    """A number column's cell as Go's strconv.ParseFloat reads it (correctly
    rounded float64; Python's float() is correctly rounded too)."""
    if not _NUMBER.match(s):
        raise ValueError("a number")
    f = float(s)
    if math.isinf(f):  # strconv: out of range; shared/validate: not finite
        raise ValueError("a finite number")
    if abs(f) >= FLOAT32_LIMIT:
        raise ValueError("a number within float32 range (xgboost's)")
    return f


def parse_integer(s):
    """An integer column's cell: an int64, then float64 (round to nearest even,
    like Go's float64(int64))."""
    if not _INTEGER.match(s):
        raise ValueError("an integer")
    n = int(s)
    if not -(1 << 63) <= n < (1 << 63):
        raise ValueError("an integer that fits in 64 bits")
    return float(n)


def parse_boolean(s):
    """true/1/yes → 1, false/0/no → 0, ASCII case-insensitive (Go lowercases
    ASCII only, so "ＴＲＵＥ" is not true there either)."""
    low = s.lower() if s.isascii() else s
    if low in TRUE_WORDS:
        return 1.0
    if low in FALSE_WORDS:
        return 0.0
    raise ValueError("a boolean (true/false, 1/0, yes/no)")
