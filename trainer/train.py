#!/usr/bin/env python3
"""The platform's reference trainer: canonical CSV + contract + model spec in,
model bundle out (trainer/README.md is the container contract).

    python3 train.py --data P1[,P2...] --contract C --spec S --output OUTDIR \
        --run-id R --dataset-version V --trainer T

Inputs are local paths or s3:// URIs; the output is a local folder or an s3://
prefix. The bundle's JSON shapes are the Go types in shared/bundle/format.go;
manifest.json is written last, so a bundle without a manifest does not exist.

Exit codes: 0 success; 2 bad input (error.json {"kind": "bad_input"} beside
where the bundle would be, no manifest); 1 anything else.

It runs with Debian's python3-xgboost 1.7.4 (locally, /usr/bin/python3) and with
xgboost 1.7.6 in the container, on Python 3.10 or later. It needs numpy and
xgboost only (plus boto3 for s3:// URIs): metrics are computed here with numpy so
that their definitions are written down in one place and nothing differs
between the two environments.
"""

import argparse
import csv
import datetime
import gzip
import hashlib
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from operator import itemgetter

import numpy as np

try:  # xgboost is imported here so that "not installed" is one clear line.
    import xgboost as xgb
except ImportError as _e:  # pragma: no cover - exercised only on a broken image
    print(f"trainer: cannot import xgboost ({_e}); run with /usr/bin/python3 or in the trainer image",
          file=sys.stderr)
    sys.exit(1)

BUNDLE_FORMAT = "mlops-bundle/1"

# File names (shared/bundle/format.go).
MANIFEST = "manifest.json"
MODEL = "model.json"
ENCODING = "encoding.json"
METRICS = "metrics.json"
SLICES = "slices.json"
IMPORTANCE = "importance.json"
PREDICTIONS = "predictions.json"
SAMPLES = "samples.json"
TEST_ROWS = "test_rows.json"
LINEAGE = "lineage.json"
ERROR = "error.json"

BINARY, REGRESSION, MULTI = "binary:logistic", "reg:squarederror", "multi:softprob"
OBJECTIVES = {BINARY: "binary", REGRESSION: "regression", MULTI: "multiclass"}
EVAL_METRIC = {BINARY: "auc", REGRESSION: "rmse", MULTI: "mlogloss"}
HEADLINE = {BINARY: "auc", REGRESSION: "rmse", MULTI: "macro_f1"}

# Booster parameters the trainer sets itself; a spec may not (shared/spec).
RESERVED_PARAMS = ("objective", "tree_method", "device", "gpu_id", "seed", "random_state", "nthread", "n_jobs",
                   "num_class", "eval_metric")

DEFAULT_VALIDATION = 0.15
DEFAULT_TEST = 0.15
DEFAULT_SEED = 42
DEFAULT_ROUNDS = 500
DEFAULT_EARLY_STOPPING = 20
DEFAULT_THRESHOLD = 0.5

MAX_CATEGORIES = 100      # one-hot columns per feature when the contract lists no allowed values
BOOTSTRAP_REPLICATES = 1000
CI_LEVEL = 0.95
MAX_SAMPLES = 200         # rows in samples.json
MIN_GAP_SLICE = 10        # slices smaller than this are listed but left out of the fairness gaps
NUMERIC_BANDS = 4
QUANTILES = ("0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99")

NUMERIC_TYPES = ("integer", "number")
ONEHOT_TYPES = ("category", "string")
KNOWN_TYPES = ("integer", "number", "boolean", "category", "string", "timestamp")


class BadInput(Exception):
    """The inputs cannot make a model: exit 2 with error.json (kind bad_input)."""


def log(msg):
    """One progress line on stdout: the run log."""
    print(f"trainer: {msg}", flush=True)


# ---------------------------------------------------------------------------
# Value parsing. The ingest gate validated the data with Go (shared/validate),
# and serving encodes request values with Go: the trainer must read every cell
# exactly as Go does, or the model learns on numbers serving never produces.

# Plain decimal notation, as shared/validate accepts it (strconv.ParseFloat
# after refusing letters): no "inf"/"nan", no hex, no underscores, no spaces.
# [0-9], not \d: Python's \d and float() accept non-ASCII digits, Go does not.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
_TRUE = frozenset(("true", "1", "yes"))
# The smallest magnitude that rounds to infinity in float32 (MaxFloat32 plus
# half an ULP): xgboost sees float32, and the Go encoder refuses these too.
FLOAT32_LIMIT = float(np.finfo(np.float32).max) + 2.0 ** 103
_FALSE = frozenset(("false", "0", "no"))


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
    if low in _TRUE:
        return 1.0
    if low in _FALSE:
        return 0.0
    raise ValueError("a boolean (true/false, 1/0, yes/no)")


# An empty contract format means RFC 3339; Go's validator and encoder use the
# RFC3339Nano layout for it (the fraction optional, any number of digits).
RFC3339 = "2006-01-02T15:04:05.999999999Z07:00"

_LONG_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December")
_SHORT_MONTHS = tuple(m[:3] for m in _LONG_MONTHS)
_LONG_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_SHORT_DAYS = tuple(d[:3] for d in _LONG_DAYS)

# Zone layouts, longest first as Go matches them: (text, kind, "Z" means UTC allowed).
_ZONES = (("070000", "hhmmss"), ("07:00:00", "hh:mm:ss"), ("0700", "hhmm"), ("07:00", "hh:mm"), ("07", "hh"))

# Layout elements the reference trainer does not parse: zone abbreviations need
# Go's zone database, and day-of-year needs cross-checks nobody has asked for.
_UNSUPPORTED = {"MST": "zone abbreviations (MST)", "yday": "day of year (002, __2)"}


def _starts_lower(s):
    return bool(s) and "a" <= s[0] <= "z"


def _next_chunk(layout):
    """Go's time.nextStdChunk: (literal prefix, element or None, rest).

    Elements are tuples (kind, arg). Ported from Go 1.2x src/time/format.go so
    that a layout splits where Go splits it (e.g. "Jan" in "Janet" is text)."""
    n = len(layout)
    for i, c in enumerate(layout):
        rest = layout[i:]
        if c == "J" and rest.startswith("Jan"):
            if rest.startswith("January"):
                return layout[:i], ("month", "long"), layout[i + 7:]
            if not _starts_lower(layout[i + 3:]):
                return layout[:i], ("month", "short"), layout[i + 3:]
        elif c == "M":
            if rest.startswith("Mon"):
                if rest.startswith("Monday"):
                    return layout[:i], ("weekday", "long"), layout[i + 6:]
                if not _starts_lower(layout[i + 3:]):
                    return layout[:i], ("weekday", "short"), layout[i + 3:]
            if rest.startswith("MST"):
                return layout[:i], ("MST", None), layout[i + 3:]
        elif c == "0":
            if i + 1 < n and "1" <= layout[i + 1] <= "6":
                kind = ("month", "day", "hour12", "minute", "second", "year2")[int(layout[i + 1]) - 1]
                return layout[:i], (kind, "fixed"), layout[i + 2:]
            if rest.startswith("002"):
                return layout[:i], ("yday", None), layout[i + 3:]
        elif c == "1":
            if i + 1 < n and layout[i + 1] == "5":
                return layout[:i], ("hour", None), layout[i + 2:]
            return layout[:i], ("month", None), layout[i + 1:]
        elif c == "2":
            if rest.startswith("2006"):
                return layout[:i], ("year", None), layout[i + 4:]
            return layout[:i], ("day", None), layout[i + 1:]
        elif c == "_":
            if i + 1 < n and layout[i + 1] == "2":
                if layout.startswith("2006", i + 1):  # "_2006" is "_" then the year
                    return layout[:i + 1], ("year", None), layout[i + 5:]
                return layout[:i], ("day", "under"), layout[i + 2:]
            if rest.startswith("__2"):
                return layout[:i], ("yday", None), layout[i + 3:]
        elif c in "345":
            kind = {"3": "hour12", "4": "minute", "5": "second"}[c]
            return layout[:i], (kind, None), layout[i + 1:]
        elif c == "P" and rest.startswith("PM"):
            return layout[:i], ("ampm", "PM"), layout[i + 2:]
        elif c == "p" and rest.startswith("pm"):
            return layout[:i], ("ampm", "pm"), layout[i + 2:]
        elif c in "-Z":
            for text, kind in _ZONES:
                if layout.startswith(text, i + 1):
                    return layout[:i], ("zone", (kind, c == "Z")), layout[i + 1 + len(text):]
        elif c in ".," and i + 1 < n and layout[i + 1] in "09":
            ch, j = layout[i + 1], i + 1
            while j < n and layout[j] == ch:
                j += 1
            if not (j < n and "0" <= layout[j] <= "9"):  # a run of one digit only
                return layout[:i], ("frac", (ch, j - i - 1)), layout[j:]
    return layout, None, ""


def _getnum(s, fixed):
    """Go's getnum: one or two ASCII digits (exactly two when fixed)."""
    if not s or not "0" <= s[0] <= "9":
        raise ValueError
    if len(s) < 2 or not "0" <= s[1] <= "9":
        if fixed:
            raise ValueError
        return int(s[0]), s[1:]
    return int(s[:2]), s[2:]


def _skip(value, prefix):
    """Go's skip: the layout's literal text; a space matches one or more spaces."""
    while prefix:
        if prefix[0] == " ":
            if value and value[0] != " ":
                raise ValueError
            prefix, value = prefix.lstrip(" "), value.lstrip(" ")
            continue
        if not value or value[0] != prefix[0]:
            raise ValueError
        prefix, value = prefix[1:], value[1:]
    return value


def _lookup(names, value):
    for k, name in enumerate(names):
        if len(value) >= len(name) and value[:len(name)].lower() == name.lower():
            return k, value[len(name):]
    raise ValueError


def _nanos(value, nbytes):
    """Go's parseNanoseconds: value[0] is '.' or ','; at most nine digits count."""
    if value[0] not in ".,":
        raise ValueError
    digits = value[1:min(nbytes, 10)]
    if not digits or not all("0" <= d <= "9" for d in digits):
        raise ValueError
    return int(digits) * 10 ** (9 - len(digits))


def _days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (any year)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _days_in(month, year):
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


class GoLayout:
    """A Go time layout (reference time Mon Jan 2 15:04:05 MST 2006), parsed as
    Go's time.Parse parses it: same elements, same one-or-two-digit rules, the
    fractional second Go accepts after the seconds even when the layout has
    none, UTC when the layout has no zone. Supported: every element except zone
    abbreviations (MST) and day of year (002, __2)."""

    def __init__(self, layout):
        self.layout = layout or RFC3339
        self.chunks = []
        rest = self.layout
        while True:
            prefix, elem, rest = _next_chunk(rest)
            self.chunks.append((prefix, elem))
            if elem is None:
                break
            if elem[0] in _UNSUPPORTED:
                raise ValueError(f"the layout {self.layout!r} uses {_UNSUPPORTED[elem[0]]}, which the "
                                 "reference trainer does not parse")

    def unix(self, value):
        """Unix seconds as Go computes them for the encoder:
        float64(t.Unix()) + float64(t.Nanosecond())/1e9."""
        sec, nsec = self.parse(value)
        return float(sec) + float(nsec) / 1e9

    def parse(self, value):
        """(Unix seconds, nanoseconds); ValueError when Go's time.Parse fails."""
        year, month, day = 0, 1, 1
        hour = minute = second = nsec = 0
        offset = 0
        pm = am = False
        chunks = self.chunks
        for k, (prefix, elem) in enumerate(chunks):
            value = _skip(value, prefix)
            if elem is None:
                if value:
                    raise ValueError  # extra text
                break
            kind, arg = elem
            if kind == "year":
                if len(value) < 4 or not all("0" <= d <= "9" for d in value[:4]):
                    raise ValueError
                year, value = int(value[:4]), value[4:]
            elif kind == "year2":
                if len(value) < 2 or not all("0" <= d <= "9" for d in value[:2]):
                    raise ValueError
                year, value = int(value[:2]), value[2:]
                year += 1900 if year >= 69 else 2000
            elif kind == "month":
                if arg == "long":
                    month, value = _lookup(_LONG_MONTHS, value)
                    month += 1
                elif arg == "short":
                    month, value = _lookup(_SHORT_MONTHS, value)
                    month += 1
                else:
                    month, value = _getnum(value, arg == "fixed")
                    if not 1 <= month <= 12:
                        raise ValueError
            elif kind == "weekday":  # read and ignored, as Go does
                _, value = _lookup(_LONG_DAYS if arg == "long" else _SHORT_DAYS, value)
            elif kind == "day":
                if arg == "under" and value[:1] == " ":
                    value = value[1:]
                day, value = _getnum(value, arg == "fixed")
            elif kind == "hour":
                hour, value = _getnum(value, False)
                if hour >= 24:
                    raise ValueError
            elif kind == "hour12":
                hour, value = _getnum(value, arg == "fixed")
                if hour > 12:
                    raise ValueError
            elif kind == "minute":
                minute, value = _getnum(value, arg == "fixed")
                if minute >= 60:
                    raise ValueError
            elif kind == "second":
                second, value = _getnum(value, arg == "fixed")
                if second >= 60:
                    raise ValueError
                # Go reads a fractional second here even if the layout has none,
                # unless the layout's next element is the fraction itself.
                if len(value) >= 2 and value[0] in ".," and "0" <= value[1] <= "9":
                    nxt = next((e for _, e in chunks[k + 1:] if e is not None), None)
                    if nxt is None or nxt[0] != "frac":
                        n = 2
                        while n < len(value) and "0" <= value[n] <= "9":
                            n += 1
                        nsec, value = _nanos(value, n), value[n:]
            elif kind == "frac":
                ch, ndigits = arg
                if ch == "0":  # exactly that many digits
                    if len(value) < 1 + ndigits:
                        raise ValueError
                    nsec, value = _nanos(value, 1 + ndigits), value[1 + ndigits:]
                elif len(value) >= 2 and value[0] in ".," and "0" <= value[1] <= "9":
                    n = 1
                    while n < len(value) and "0" <= value[n] <= "9":
                        n += 1
                    nsec, value = _nanos(value, n), value[n:]
            elif kind == "ampm":
                word, value = value[:2], value[2:]
                if word == ("PM" if arg == "PM" else "pm"):
                    pm = True
                elif word == ("AM" if arg == "PM" else "am"):
                    am = True
                else:
                    raise ValueError
            elif kind == "zone":
                form, z_ok = arg
                if z_ok and value[:1] == "Z":
                    offset, value = 0, value[1:]
                    continue
                if form == "hh:mm":
                    if len(value) < 6 or value[3] != ":":
                        raise ValueError
                    sign, hh, mm, ss, value = value[0], value[1:3], value[4:6], "00", value[6:]
                elif form == "hh":
                    if len(value) < 3:
                        raise ValueError
                    sign, hh, mm, ss, value = value[0], value[1:3], "00", "00", value[3:]
                elif form == "hh:mm:ss":
                    if len(value) < 9 or value[3] != ":" or value[6] != ":":
                        raise ValueError
                    sign, hh, mm, ss, value = value[0], value[1:3], value[4:6], value[7:9], value[9:]
                elif form == "hhmmss":
                    if len(value) < 7:
                        raise ValueError
                    sign, hh, mm, ss, value = value[0], value[1:3], value[3:5], value[5:7], value[7:]
                else:  # hhmm
                    if len(value) < 5:
                        raise ValueError
                    sign, hh, mm, ss, value = value[0], value[1:3], value[3:5], "00", value[5:]
                h, _ = _getnum(hh, True)
                m, _ = _getnum(mm, True)
                s, _ = _getnum(ss, True)
                # Go compares with > rather than >=: offsets of 24h or 60m happen.
                if h > 24 or m > 60 or s > 60 or sign not in "+-":
                    raise ValueError
                offset = (h * 60 + m) * 60 + s
                if sign == "-":
                    offset = -offset
        if pm and hour < 12:
            hour += 12
        elif am and hour == 12:
            hour = 0
        if day < 1 or day > _days_in(month, year):
            raise ValueError
        days = _days_from_civil(year, month, day)
        return days * 86400 + hour * 3600 + minute * 60 + second - offset, nsec


# ---------------------------------------------------------------------------
# Inputs.

def split_s3(uri):
    rest = uri[len("s3://"):]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise BadInput(f"{uri}: not an s3://bucket/key URI")
    return bucket, key


def s3_client():
    try:
        import boto3  # only in the container or where the user installed it
    except ImportError:
        raise RuntimeError("an s3:// URI was given but boto3 is not installed; install boto3, or pass local paths "
                           "(the local runner stages s3:// inputs to files before it starts the trainer)") from None
    # MLOPS_S3_ENDPOINT points the trainer at an S3-compatible endpoint (the
    # tests' embedded S3, LocalStack); in AWS it is unset.
    endpoint = os.environ.get("MLOPS_S3_ENDPOINT")
    if not endpoint:
        return boto3.client("s3")
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"}))


def put_once(client, bucket, key, path):
    """Writes one bundle file with If-None-Match: * (create-once). Batch has no
    idempotency token, so a run's job can, rarely, run twice: the second must
    not overwrite what the first wrote under the manifest's hashes. An object
    already there with the same bytes is the same file (a retried attempt);
    other bytes mean another job of this run got there first, and this one
    stops instead of corrupting its bundle."""
    from botocore.exceptions import ClientError  # with boto3
    with open(path, "rb") as f:
        body = f.read()

    # The header is set on the request itself rather than through put_object's
    # IfNoneMatch parameter, which botocore only knows since 1.35: the same code
    # then works with older boto3 (Debian's, which the tests use) and newer.
    def if_none_match(request, **_):
        request.headers["If-None-Match"] = "*"

    client.meta.events.register("before-sign.s3.PutObject", if_none_match)
    try:
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
            raise
        existing = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        if hashlib.sha256(existing).digest() != hashlib.sha256(body).digest():
            raise RuntimeError(f"s3://{bucket}/{key} was already written with other bytes: another job of this "
                               "run wrote the bundle first") from e
    finally:
        client.meta.events.unregister("before-sign.s3.PutObject", if_none_match)


def fetch(uri, workdir):
    """A local path for an input: the path itself, or an s3:// object downloaded."""
    if not uri.startswith("s3://"):
        if not os.path.isfile(uri):
            raise BadInput(f"{uri}: no such file")
        return uri
    bucket, key = split_s3(uri)
    local = os.path.join(workdir, hashlib.sha256(uri.encode()).hexdigest()[:16] + "-" + os.path.basename(key))
    s3_client().download_file(bucket, key, local)
    return local


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_json(path, what):
    with open(path, "rb") as f:
        raw = f.read()
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BadInput(f"{path}: the {what} is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise BadInput(f"{path}: the {what} must be a JSON object")
    return doc, hashlib.sha256(raw).hexdigest()


class Data:
    """The dataset version's needed columns, as strings ("" = missing), with
    where each row came from (for error messages)."""

    def __init__(self, columns, files, file_of_row, row_in_file):
        self.columns = columns          # name -> np.ndarray of str (object)
        self.files = files              # the --data URIs, in order
        self.file_of_row = file_of_row  # int array: index into files
        self.row_in_file = row_in_file  # int array: 0-based data row within its file
        self.rows = len(file_of_row)

    def where(self, row):
        f = self.files[self.file_of_row[row]]
        return f"{f}: data row {self.row_in_file[row] + 1} (row {row} of the dataset version)"


def read_data(uris, paths, needed):
    """Reads canonical CSV partitions (gzip, UTF-8, header, comma, LF) with the
    csv module, which reads like Go's encoding/csv: empty lines skipped, a row
    with the wrong number of fields is an error (pandas would pad or shift it)."""
    csv.field_size_limit(2 ** 31 - 1)
    header0 = None
    cells = []
    file_of_row, row_in_file = [], []
    for fi, (uri, path) in enumerate(zip(uris, paths)):
        try:
            with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
                reader = csv.reader(f, strict=True)
                try:
                    header = next(reader)
                except StopIteration:
                    raise BadInput(f"{uri}: empty file: expected a canonical CSV header") from None
                if header0 is None:
                    header0 = header
                    missing = [n for n in needed if n not in header]
                    if missing:
                        raise BadInput(f"{uri}: the data has no column {', '.join(repr(m) for m in missing)} "
                                       f"(the contract names it; the header has {len(header)} columns)")
                    if len(set(header)) != len(header):
                        dup = sorted({h for h in header if header.count(h) > 1})
                        raise BadInput(f"{uri}: duplicate column names in the header: {dup}")
                    pick = itemgetter(*[header.index(n) for n in needed])
                elif header != header0:
                    raise BadInput(f"{uri}: its header differs from {uris[0]}'s: partitions of one dataset "
                                   "version must have the same header")
                width = len(header0)
                k = 0
                for row in reader:
                    if not row:
                        continue  # Go's encoding/csv skips empty lines too
                    if len(row) != width:
                        raise BadInput(f"{uri}: data row {k + 1} has {len(row)} fields; the header has {width}")
                    cells.append(pick(row))
                    k += 1
                file_of_row.append(np.full(k, fi, dtype=np.int32))
                row_in_file.append(np.arange(k, dtype=np.int64))
        except (OSError, EOFError, zlib.error) as e:
            raise BadInput(f"{uri}: not a readable gzip file: {e}") from None
        except UnicodeDecodeError as e:
            raise BadInput(f"{uri}: not UTF-8 text: {e}") from None
        except csv.Error as e:
            raise BadInput(f"{uri}: malformed CSV: {e}") from None
    if len(needed) == 1:
        cells = [(c,) for c in cells]
    columns = {}
    for j, name in enumerate(needed):
        arr = np.empty(len(cells), dtype=object)
        arr[:] = [c[j] for c in cells]
        columns[name] = arr
    return Data(columns, uris, np.concatenate(file_of_row), np.concatenate(row_in_file))


# ---------------------------------------------------------------------------
# The problem: what the contract and the spec ask for.

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


# ---------------------------------------------------------------------------
# Target, split.

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
            b = np.array([parse_boolean(v) if v.lower() in _TRUE | _FALSE else -1.0 for v in values])
            if (b < 0).any():
                i = int(np.flatnonzero(b < 0)[0])
                raise BadInput(f"{data.where(int(self.rows[i]))}, column {problem.target!r}: {values[i]!r} is "
                               "not a boolean")
            values = np.where(b == 1, "true", "false").astype(object)
            pos = problem.positive
            if pos and pos.lower() in _TRUE | _FALSE:
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


def dedupe(seq):
    out, seen = [], set()
    for v in seq:
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out


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


# ---------------------------------------------------------------------------
# Encoding: one row of strings → the model's feature vector. Serving applies the
# same, from encoding.json (shared/bundle).

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


# ---------------------------------------------------------------------------
# Training.

def choose_device():
    """("cuda", "gpu_hist") or ("cpu", "hist").

    MLOPS_DEVICE=cuda|cpu decides; otherwise a GPU is used when this xgboost
    was built with CUDA and nvidia-smi lists a GPU. XGBoost 1.7 selects the GPU
    with tree_method=gpu_hist (2.x would use device=cuda). This branch cannot be
    exercised on the development machines (no machine has both a GPU and
    xgboost), so it stays this small: the GPU only builds the trees; every
    prediction the bundle records is made on the CPU afterwards."""
    want = os.environ.get("MLOPS_DEVICE", "").strip().lower()
    cuda_built = bool(xgb.build_info().get("USE_CUDA"))
    if want == "cpu":
        return "cpu", "hist"
    if want == "cuda":
        if not cuda_built:
            raise RuntimeError("MLOPS_DEVICE=cuda but this xgboost was built without CUDA")
        return "cuda", "gpu_hist"
    if want not in ("", "auto"):
        raise RuntimeError(f"MLOPS_DEVICE={want!r}: expected cuda, cpu or auto")
    if cuda_built and shutil.which("nvidia-smi"):
        try:
            r = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
            if r.returncode == 0 and "GPU" in r.stdout:
                return "cuda", "gpu_hist"
        except (OSError, subprocess.SubprocessError):
            pass
    return "cpu", "hist"


def threads():
    """xgboost's nthread: OMP_NUM_THREADS when set (the usual way to share a
    machine between jobs), else the CPUs this process may run on. Setting it
    explicitly matters because OpenMP threads that outnumber the cores spin."""
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    quota = cgroup_cpus()
    return max(1, min(n, quota)) if quota else n


def cgroup_cpus():
    """The container's CPU limit (cgroup v2 cpu.max, or v1's CFS quota) rounded
    up, or None: a container limited to 4 CPUs on a 96-core host must not run
    96 threads."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
    except (OSError, ValueError):
        try:
            with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as f:
                quota = f.read().strip()
            with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
                period = f.read().strip()
        except OSError:
            return None
    try:
        q, p = int(quota), int(period)
    except ValueError:  # "max": no limit
        return None
    return math.ceil(q / p) if q > 0 and p > 0 else None


def train(problem, label, enc, X, split, device, tree_method):
    tr, va, _ = split
    params = dict(problem.params)
    params.update({"objective": problem.objective, "eval_metric": EVAL_METRIC[problem.objective],
                   "seed": problem.seed, "tree_method": tree_method, "nthread": threads()})
    if problem.objective == MULTI:
        params["num_class"] = len(label.classes)
    # Feature names go into the DMatrix so model.json carries them; names
    # xgboost's Python check refuses are set on the booster after training.
    names = enc.columns if xgboost_accepts(enc.columns) else None
    dtrain = xgb.DMatrix(X[tr], label=label.y[tr], feature_names=names, missing=np.nan)
    dvalid = xgb.DMatrix(X[va], label=label.y[va], feature_names=names, missing=np.nan)
    log(f"training {problem.objective} on {len(tr)} rows x {len(enc.columns)} columns ({device}, {tree_method}); "
        f"at most {problem.rounds} rounds, early stopping "
        f"{'after ' + str(problem.early_stopping) + ' rounds' if problem.early_stopping else 'off'}")
    try:
        booster = xgb.train(params, dtrain, num_boost_round=problem.rounds,
                            evals=[(dtrain, "train"), (dvalid, "validation")],  # the last one stops early
                            early_stopping_rounds=problem.early_stopping or None,
                            verbose_eval=max(1, min(50, problem.rounds // 10)))
    except xgb.core.XGBoostError as e:
        msg = str(e).strip().splitlines()
        # A parameter xgboost rejects came from the spec.
        if any("param" in m.lower() or "Invalid" in m for m in msg[:3]):
            raise BadInput(f"spec: xgboost refused the parameters: {msg[0]}") from None
        raise
    rounds = booster.num_boosted_rounds()
    best = booster.best_iteration if problem.early_stopping else rounds - 1
    # Keep only the trees up to the best iteration, so that plain predict() (and
    # the Go evaluator, which has no iteration_range) uses the model that won.
    booster = booster[: best + 1]
    for attr in ("best_iteration", "best_score", "best_ntree_limit"):
        booster.set_attr(**{attr: None})
    log(f"trained {rounds} rounds; best iteration {best} "
        f"(validation {EVAL_METRIC[problem.objective]} {booster_eval(booster, dvalid)})")
    booster.feature_names = list(enc.columns)
    return booster, best, params


def booster_eval(booster, d):
    return f'{float(booster.eval(d, "validation").rsplit(":", 1)[-1]):.4f}'


def predict(booster, X):
    """xgboost's own predictions (float32): 1-D for binary/regression,
    (n, classes) for multi:softprob. The booster's feature names are cleared
    (see run), so the DMatrix needs none."""
    return booster.predict(xgb.DMatrix(X, missing=np.nan))


def positive(p, threshold):
    """The decision: p ≥ threshold compared in float32, as numpy compares
    xgboost's float32 output with a Python float and as shared/bundle's
    Encoding.Label does (float32(0.42) is below 0.42)."""
    return p.astype(np.float32) >= np.float32(threshold)


# ---------------------------------------------------------------------------
# Metrics. Defined here with numpy (the definitions scikit-learn uses) so the
# trainer needs nothing else.

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


# ---------------------------------------------------------------------------
# Slices.

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


# ---------------------------------------------------------------------------
# The other bundle files.

def importance(booster, enc):
    # The booster has no feature names here (see run): xgboost names them f<i>.
    gain = booster.get_score(importance_type="total_gain")
    cols = [{"name": c, "gain": float(gain.get(f"f{i}", 0.0))} for i, c in enumerate(enc.columns)]
    feats = []
    for f, (start, width) in zip(enc.features, enc.slots):
        feats.append({"name": f["name"], "gain": float(sum(c["gain"] for c in cols[start:start + width]))})
    key = lambda e: (-e["gain"], e["name"])  # noqa: E731
    return {"type": "total_gain", "columns": sorted(cols, key=key), "features": sorted(feats, key=key)}


def distribution(name, v, probability):
    """One output's test-set histogram: 20 equal bins on [0, 1] for a
    probability, 20 quantile bins for a regression prediction."""
    v = v.astype(np.float64)
    if probability:
        edges = [round(i / 20, 2) for i in range(21)]
    else:
        edges = [float(e) for e in np.unique(np.quantile(v, np.linspace(0, 1, 21)))]
        if len(edges) < 2:
            edges = [edges[0] - 0.5, edges[0] + 0.5]
    counts, _ = np.histogram(v, bins=np.array(edges))
    qs = np.quantile(v, [float(q) for q in QUANTILES])
    return {"name": name, "edges": edges, "counts": [int(c) for c in counts],
            "quantiles": {q: float(x) for q, x in zip(QUANTILES, qs)}, "mean": float(v.mean()), "count": len(v)}


def baseline(problem, label, out):
    if problem.objective == BINARY:
        return {"outputs": [distribution(f"p({label.positive})", out, True)]}
    if problem.objective == REGRESSION:
        return {"outputs": [distribution("prediction", out, False)]}
    return {"outputs": [distribution(f"p({c})", out[:, j], True) for j, c in enumerate(label.classes)]}


def choose_samples(X_test, test_rows):
    """Up to MAX_SAMPLES test rows: those with a missing (or unseen) value
    first (up to half), because they exercise the trees' default branches,
    then the others, in row order."""
    has_nan = np.isnan(X_test).any(axis=1)
    with_missing = np.flatnonzero(has_nan)[: MAX_SAMPLES // 2]
    rest = np.flatnonzero(~has_nan)[: MAX_SAMPLES - len(with_missing)]
    pick = np.sort(np.concatenate([with_missing, rest]))
    if len(pick) < MAX_SAMPLES:
        more = np.setdiff1d(np.flatnonzero(has_nan), pick)[: MAX_SAMPLES - len(pick)]
        pick = np.sort(np.concatenate([pick, more]))
    return pick


def samples(problem, data, booster, enc, X_test, test_rows):
    pick = choose_samples(X_test, test_rows)
    out = predict(booster, X_test[pick])
    rows = []
    for j, i in enumerate(pick):
        r = int(test_rows[i])
        o = out[j]
        # float(np.float32) is exact: the JSON holds xgboost's float32 to the bit.
        values = [float(np.float32(x)) for x in np.atleast_1d(o)]
        rows.append({"row": r, "values": [str(data.columns[f][r]) for f in problem.features], "output": values})
    return {"columns": list(problem.features), "rows": rows}


def libraries():
    libs = {"python": platform.python_version(), "xgboost": xgb.__version__, "numpy": np.__version__}
    for mod in ("scipy", "boto3"):  # scipy: xgboost's dependency; boto3: S3, when used
        m = sys.modules.get(mod)
        if m is not None and getattr(m, "__version__", None):
            libs[mod] = m.__version__
    return libs


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="microseconds") \
        .replace("+00:00", "Z")


def to_plain(o):
    """numpy scalars and arrays as plain JSON values; NaN/Inf are refused later."""
    if isinstance(o, dict):
        return {str(k): to_plain(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [to_plain(v) for v in o]
    if isinstance(o, np.ndarray):
        return [to_plain(v) for v in o.tolist()]
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    return o


def json_bytes(obj, compact=False):
    """UTF-8 JSON; indented for the small files people read, compact for the
    long lists (samples, test rows). allow_nan=False: Go's encoding/json cannot
    read NaN or Infinity, so none may be written."""
    text = json.dumps(to_plain(obj), allow_nan=False, ensure_ascii=False,
                      indent=None if compact else 1, separators=(",", ":") if compact else None)
    return (text + "\n").encode("utf-8")


class Output:
    """The bundle's folder: local, or staged locally and uploaded to S3 with the
    manifest last."""

    def __init__(self, uri):
        self.uri = uri
        self.s3 = uri.startswith("s3://")
        if self.s3:
            self.dir = tempfile.mkdtemp(prefix="bundle-")
        else:
            self.dir = uri
            os.makedirs(self.dir, exist_ok=True)
            # A bundle from an earlier attempt in this folder must not look
            # complete while this one is being written.
            for stale in (MANIFEST, ERROR):
                p = os.path.join(self.dir, stale)
                if os.path.exists(p):
                    os.remove(p)
        self.files = []  # written, in order

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, data):
        tmp = self.path(name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, self.path(name))
        self.files.append(name)

    def added(self, name):
        self.files.append(name)

    def finish(self, manifest_bytes):
        """Uploads (S3) the files, then the manifest; locally the manifest is
        renamed into place last."""
        if self.s3:
            bucket, prefix = split_s3(self.uri)
            if prefix and not prefix.endswith("/"):
                prefix += "/"
            client = s3_client()
            self.write(MANIFEST, manifest_bytes)
            for name in self.files + [MANIFEST]:
                put_once(client, bucket, prefix + name, self.path(name))
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            self.write(MANIFEST, manifest_bytes)

    def error(self, msg, kind):
        """error.json: where the bundle would be, so the platform can show why."""
        body = json_bytes({"error": msg, "kind": kind})
        try:
            if self.s3:
                bucket, prefix = split_s3(self.uri)
                if prefix and not prefix.endswith("/"):
                    prefix += "/"
                s3_client().put_object(Bucket=bucket, Key=prefix + ERROR, Body=body,
                                       ContentType="application/json")
            else:
                with open(self.path(ERROR), "wb") as f:
                    f.write(body)
        except Exception as e:  # noqa: BLE001 - the exit code still tells
            print(f"trainer: could not write {ERROR}: {e}", file=sys.stderr)


# ---------------------------------------------------------------------------

class ArgumentParser(argparse.ArgumentParser):
    """Usage errors exit 1, not argparse's 2: a trainer started with the wrong
    arguments is the platform's fault, and 2 means the inputs are bad."""

    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"trainer: {message}", file=sys.stderr)
        sys.exit(1)


def parse_args(argv):
    ap = ArgumentParser(description="The platform's reference XGBoost trainer (trainer/README.md).")
    ap.add_argument("--data", required=True, help="comma-separated canonical CSV partitions (gzip), in order")
    ap.add_argument("--contract", required=True, help="the contract's canonical JSON")
    ap.add_argument("--spec", required=True, help="the model spec's canonical JSON")
    ap.add_argument("--output", required=True, help="folder or s3:// prefix the bundle goes to")
    ap.add_argument("--run-id", required=True)
    ap.add_argument("--dataset-version", required=True)
    ap.add_argument("--trainer", required=True, help="this trainer's identity (image digest or local hash)")
    return ap.parse_args(argv)


def run(args, out):
    started = time.time()
    durations = {}
    work = tempfile.mkdtemp(prefix="trainer-")
    try:
        t = time.time()
        uris = [u for u in args.data.split(",") if u]
        if not uris:
            raise BadInput("--data names no files")
        data_paths = [fetch(u, work) for u in uris]
        contract, contract_hash = load_json(fetch(args.contract, work), "contract")
        spec, spec_hash = load_json(fetch(args.spec, work), "model spec")
        problem = Problem(contract, spec)
        data_sha = [sha256_file(p) for p in data_paths]
        data = read_data(uris, data_paths, problem.needed())
        if not data.rows:
            raise BadInput(f"no data rows in {', '.join(uris)}")
        log(f"read {data.rows} rows from {len(uris)} file(s); target {problem.target!r}, "
            f"{len(problem.features)} features, objective {problem.objective}")
        label = Label(problem, data)
        if label.missing:
            log(f"{label.missing} rows have no target value and are left out")
        durations["load"] = time.time() - t

        t = time.time()
        split = split_rows(label.y, label.kind, problem.val_frac, problem.test_frac, problem.seed)
        tr, va, te = split
        for part, idx in (("training", tr), ("validation", va), ("test", te)):
            if not len(idx):
                raise BadInput(f"too few rows ({len(label.y)} with a target) to make a {part} set")
            if label.kind == "binary" and len(np.unique(label.y[idx])) < 2:
                raise BadInput(f"the {part} set has one class only: too few rows of the rarer class "
                               f"({int(min((label.y == 0).sum(), (label.y == 1).sum()))}) to split")
        if label.kind == "multiclass" and len(np.unique(label.y[tr])) < 2:
            raise BadInput("the training set has one class only")
        log(f"split (seed {problem.seed}): {len(tr)} train, {len(va)} validation, {len(te)} test")
        enc = Encoder(problem, data, label.rows[tr])
        X = enc.encode(problem, data, label.rows)
        check_features(problem, enc, X[tr], data, label.rows)
        durations["encode"] = time.time() - t

        t = time.time()
        device, tree_method = choose_device()
        booster, best, params = train(problem, label, enc, X, split, device, tree_method)
        durations["train"] = time.time() - t

        t = time.time()
        model_path = out.path(MODEL)
        booster.save_model(model_path)
        out.added(MODEL)
        # Everything below uses the model as saved, on the CPU predictor: the
        # numbers in the bundle are those of the file that ships.
        final = xgb.Booster(model_file=model_path)
        final.set_param({"predictor": "cpu_predictor", "nthread": threads()})
        # Names are positional from here on: xgboost's Python side would refuse
        # a DMatrix named like some of them ('[', ']', '<').
        final.feature_names = None
        num_trees = len(final.get_dump())
        k = len(label.classes)
        outs = {name: predict(final, X[idx]).astype(np.float64)
                for name, idx in (("train", tr), ("validation", va), ("test", te))}
        y = {"train": label.y[tr], "validation": label.y[va], "test": label.y[te]}
        metrics = {"objective": problem.objective,
                   "headline": headline(problem, y["test"], outs["test"], k, problem.seed),
                   "test": metrics_for(problem, y["test"], outs["test"], k),
                   "validation": metrics_for(problem, y["validation"], outs["validation"], k),
                   "train": metrics_for(problem, y["train"], outs["train"], k),
                   "rows": {"train": len(tr), "validation": len(va), "test": len(te)},
                   "bestIteration": int(best), "numTrees": num_trees}
        if problem.objective == BINARY:
            metrics["calibration"] = calibration(y["test"], outs["test"])
            metrics["threshold"] = problem.threshold
            pred = positive(outs["test"], problem.threshold).astype(np.int64)
            metrics["confusionMatrix"] = confusion(y["test"].astype(np.int64), pred, 2).astype(np.int64)
        elif problem.objective == MULTI:
            metrics["confusionMatrix"] = confusion(y["test"].astype(np.int64), outs["test"].argmax(axis=1),
                                                   k).astype(np.int64)
        h = metrics["headline"]
        log(f"test {h['name']} {h['value']:.4f} (95% CI {h['lower']:.4f} to {h['upper']:.4f}); "
            f"{num_trees} trees")
        slices = build_slices(problem, data, label, te, outs["test"], k)
        test_rows = label.rows[te]
        durations["evaluate"] = time.time() - t

        t = time.time()
        out.write(ENCODING, json_bytes(enc.to_json(label, problem)))
        out.write(METRICS, json_bytes(metrics))
        out.write(SLICES, json_bytes(slices))
        out.write(IMPORTANCE, json_bytes(importance(final, enc)))
        out.write(PREDICTIONS, json_bytes(baseline(problem, label, outs["test"])))
        out.write(SAMPLES, json_bytes(samples(problem, data, final, enc, X[te], test_rows), compact=True))
        out.write(TEST_ROWS, json_bytes({"datasetVersion": args.dataset_version, "seed": problem.seed,
                                         "rows": [int(r) for r in test_rows]}, compact=True))
        durations["write"] = time.time() - t
        finished = time.time()
        lineage = {"runId": args.run_id, "model": problem.model, "dataset": problem.dataset or spec.get("dataset", ""),
                   "datasetVersion": args.dataset_version, "contractHash": contract_hash, "specHash": spec_hash,
                   "dataSha256": data_sha, "trainer": args.trainer, "params": params,
                   "numBoostRound": problem.rounds, "seed": problem.seed, "libraries": libraries(),
                   "device": device, "treeMethod": tree_method, "startedAt": rfc3339(started),
                   "finishedAt": rfc3339(finished), "durationsSeconds": {k: round(v, 6) for k, v in durations.items()}}
        out.write(LINEAGE, json_bytes(lineage))

        files = []
        for name in sorted(out.files):
            p = out.path(name)
            files.append({"path": name, "sha256": sha256_file(p), "bytes": os.path.getsize(p)})
        manifest = {"format": BUNDLE_FORMAT, "runId": args.run_id, "model": problem.model,
                    "objective": problem.objective, "createdAt": rfc3339(time.time()), "files": files}
        out.finish(json_bytes(manifest))
        log(f"bundle written to {out.uri} ({len(files) + 1} files) in {time.time() - started:.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        out = Output(args.output)
    except OSError as e:
        print(f"trainer: cannot use the output folder {args.output}: {e}", file=sys.stderr)
        return 1
    try:
        run(args, out)
        return 0
    except BadInput as e:
        msg = str(e)
        print(f"trainer: bad input: {msg}", file=sys.stderr)
        out.error(msg, "bad_input")
        return 2
    except Exception as e:  # noqa: BLE001 - everything else is the trainer's failure
        traceback.print_exc()
        msg = f"{type(e).__name__}: {e}".splitlines()[0]
        print(f"trainer: failed: {msg}", file=sys.stderr)
        out.error(msg, "internal")
        return 1


if __name__ == "__main__":
    sys.exit(main())
