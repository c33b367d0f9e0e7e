"""Inputs: the dataset version's canonical CSV partitions, the contract and the
model spec, local or fetched from S3."""

import csv
import gzip
import hashlib
import json
import os
import zlib
from operator import itemgetter

import numpy as np

from . import BadInput
from .s3 import s3_client, split_s3


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
