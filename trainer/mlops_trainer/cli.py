"""The command line (trainer/README.md is its contract): arguments, exit
codes, and error.json for every failure that knows where the output goes.
Only the standard library is imported before the arguments are read, so that
a Python without numpy or xgboost says so in error.json, not only in a
traceback."""

import argparse
import importlib.util
import sys
import traceback

from . import BadInput
from .output import Output


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


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        out = Output(args.output)
    except OSError as e:
        print(f"trainer: cannot use the output folder {args.output}: {e}", file=sys.stderr)
        return 1
    try:
        # numpy and xgboost are imported once the output is known, so that a
        # Python without them fails the run with a reason, not only exit code 1.
        from .pipeline import run
    except Exception as e:  # noqa: BLE001 - ImportError, or a library that fails as it loads
        msg = cannot_import(e)
        print(f"trainer: {msg}", file=sys.stderr)
        out.error(msg, "internal")
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


def cannot_import(e):
    """error.json's message for a Python that cannot import (or load) what the
    trainer needs: which interpreter, which modules, and how to get one that
    can."""
    names = []
    for mod in ("numpy", "xgboost"):
        try:
            if importlib.util.find_spec(mod) is None:
                names.append(mod)
        except (ImportError, ValueError):
            names.append(mod)
    name = getattr(e, "name", None)
    if name and name not in names:  # a dependency of theirs, or a broken install
        names.append(name)
    what = " and ".join(names) if names else "the trainer's libraries"
    why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return (f"{sys.executable} cannot import {what} ({why}): the reference trainer needs numpy and xgboost. "
            "Install Debian's python3-xgboost (make setup, or scripts/setup.sh demo) and run the trainer with "
            "/usr/bin/python3, or run the trainer image")
