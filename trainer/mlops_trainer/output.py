"""Where the bundle goes: a local folder, or a folder staged locally and
uploaded to an s3:// prefix with the manifest last; and the JSON the bundle's
files are written as. numpy is optional here: without it the trainer can still
write error.json to say that it cannot run."""

import datetime
import json
import os
import shutil
import sys
import tempfile

try:
    import numpy as np
except ImportError:  # cli reports it in error.json, which holds no numpy values
    np = None

from .s3 import put_once, s3_client, split_s3

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


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="microseconds") \
        .replace("+00:00", "Z")


def to_plain(o):
    """numpy scalars and arrays as plain JSON values; NaN/Inf are refused later."""
    if isinstance(o, dict):
        return {str(k): to_plain(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [to_plain(v) for v in o]
    if np is None:  # no numpy, no numpy values
        return o
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
