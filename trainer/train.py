#!/usr/bin/env python3
"""The platform's reference trainer: canonical CSV + contract + model spec in,
model bundle out (trainer/README.md is the container contract).

    python3 train.py --data P1[,P2...] --contract C --spec S --output OUTDIR \
        --run-id R --dataset-version V --trainer T

Inputs are local paths or s3:// URIs; the output is a local folder or an s3://
prefix. The bundle's JSON shapes are the Go types in shared/bundle/format.go;
manifest.json is written last, so a bundle without a manifest does not exist.

Exit codes: 0 success; 2 bad input (error.json {"kind": "bad_input"} beside
where the bundle would be, no manifest); 1 anything else (error.json
{"kind": "internal"} where the output is known, a Python that cannot import
numpy or xgboost included).

It runs with Debian's python3-xgboost 1.7.4 (locally, /usr/bin/python3) and with
xgboost 1.7.6 in the container, on Python 3.10 or later. It needs numpy and
xgboost only (plus boto3 for s3:// URIs): metrics are computed here with numpy so
that their definitions are written down in one place and nothing differs
between the two environments.

The program is the mlops_trainer package beside this file; this file is its
entry point, and `import train` still gives the package's functions by their
old names (train.parse_number, train.binary_metrics, ...), as the tests use
them.
"""

import importlib
import os
import sys

# The package sits beside this file; with python3 -I (or -P) the script's own
# folder is not on sys.path.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from mlops_trainer.cli import main  # noqa: E402  (the standard library only: see cli)

_MODULES = ("values", "timefmt", "s3", "inputs", "problem", "split", "encoding", "training", "metrics", "slices",
            "bundle", "output", "pipeline", "cli")


def __getattr__(name):
    """train.<name>: the package's (or one of its modules') <name>, imported on
    first use so that importing train alone needs neither numpy nor xgboost."""
    pkg = importlib.import_module("mlops_trainer")
    if hasattr(pkg, name):
        return getattr(pkg, name)
    for mod in _MODULES:
        m = importlib.import_module("mlops_trainer." + mod)
        if hasattr(m, name):
            return getattr(m, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    sys.exit(main())
