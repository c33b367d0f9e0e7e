"""The platform's reference trainer as a package; train.py (beside it) is the
program, trainer/README.md its contract. One module per step: values and
timefmt read cells as Go does, inputs and s3 fetch the inputs, problem checks
the contract and spec, split makes the label and the split, encoding the
feature matrix, training the booster, metrics and slices the evaluation,
bundle and output the bundle's files, pipeline runs them in order, and cli is
the command line.

This file imports nothing beyond the standard library, and neither do cli,
output and s3: numpy and xgboost are imported when the run starts, so that a
Python without them can still say so in error.json."""


class BadInput(Exception):
    """The inputs cannot make a model: exit 2 with error.json (kind bad_input)."""


def log(msg):
    """One progress line on stdout: the run log."""
    print(f"trainer: {msg}", flush=True)
