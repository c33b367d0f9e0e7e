"""Unit tests of the reference trainer: /usr/bin/python3 -m unittest test_train (in trainer/).

trainer_test.go runs them too, and checks the bundles against the Go side
(manifest, encoding, the native evaluator, Go's own time.Parse).
"""

import contextlib
import csv
import gzip
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402


class ParseTest(unittest.TestCase):
    def test_number(self):
        for s, want in [("1", 1.0), ("-1.5", -1.5), (".5", 0.5), ("5.", 5.0), ("1e5", 1e5), ("1E-3", 1e-3),
                        ("+2", 2.0), ("-0", -0.0), ("0.1", 0.1), ("1e-400", 0.0),
                        ("123456789012345678901234567890", 1.2345678901234568e29)]:
            self.assertEqual(train.parse_number(s), want, s)
        for s in ["", "inf", "-Infinity", "nan", "1_000", " 1", "1 ", "0x10", "1e", "e5", "1..2", "+-1",
                  "\u0661", "1e400", "--1", "1,5"]:
            with self.assertRaises(ValueError, msg=s):
                train.parse_number(s)

    def test_integer(self):
        self.assertEqual(train.parse_integer("42"), 42.0)
        self.assertEqual(train.parse_integer("-7"), -7.0)
        self.assertEqual(train.parse_integer("+3"), 3.0)
        # 2^53 + 1 rounds to even, as Go's float64(int64) does.
        self.assertEqual(train.parse_integer("9007199254740993"), 9007199254740992.0)
        for s in ["1.0", "1e3", "9223372036854775808", "", "-", "\u0661"]:
            with self.assertRaises(ValueError, msg=s):
                train.parse_integer(s)

    def test_boolean(self):
        for s in ["true", "TRUE", "True", "1", "yes", "YES"]:
            self.assertEqual(train.parse_boolean(s), 1.0)
        for s in ["false", "False", "0", "no", "NO"]:
            self.assertEqual(train.parse_boolean(s), 0.0)
        for s in ["", "t", "y", "2", "truee", "\uff34RUE"]:
            with self.assertRaises(ValueError, msg=s):
                train.parse_boolean(s)


class GoLayoutTest(unittest.TestCase):
    """Spot checks; trainer_test.go compares many more cases with Go's time.Parse."""

    def test_rfc3339(self):
        rfc = train.GoLayout("")
        self.assertEqual(rfc.parse("2024-01-31T09:30:00Z"), (1706693400, 0))
        self.assertEqual(rfc.parse("2024-01-31T09:30:00+01:00"), (1706693400 - 3600, 0))
        self.assertEqual(rfc.parse("2024-01-31T09:30:00.25-00:30"), (1706693400 + 1800, 250000000))
        self.assertEqual(rfc.unix("1970-01-01T00:00:01.5Z"), 1.5)
        # Go's generic parser reads a one-digit hour for "15".
        self.assertEqual(rfc.parse("2024-01-31T9:30:00Z"), (1706693400, 0))
        self.assertEqual(rfc.parse("1969-12-31T23:59:59Z"), (-1, 0))
        self.assertEqual(rfc.parse("0000-01-01T00:00:00Z"), (-62167219200, 0))
        for bad in ["2024-02-30T00:00:00Z", "2024-01-31T24:00:00Z", "2024-01-31 09:30:00Z", "2024-01-31T09:30:00",
                    "2024-01-31T09:30:00Zx", "2024-1-31T09:30:00Z", "", "2024-01-31T09:30:60Z"]:
            with self.assertRaises(ValueError, msg=bad):
                rfc.parse(bad)

    def test_layouts(self):
        self.assertEqual(train.GoLayout("2006-01-02").parse("2024-02-29"), (1709164800, 0))
        us = train.GoLayout("01/02/2006 3:04 PM")
        self.assertEqual(us.parse("12/25/2023 1:05 PM"), (1703509500, 0))
        self.assertEqual(us.parse("12/25/2023 12:05 AM"), (1703462700, 0))
        named = train.GoLayout("Monday, Jan _2 2006 15:04:05.000 -0700")
        self.assertEqual(named.parse("wednesday, jan  3 2024 10:00:00.123 +0200"), (1704268800, 123000000))
        self.assertEqual(train.GoLayout("2006-01-02 15:04:05").parse("2024-01-01   00:00:00"), (1704067200, 0))
        for layout in ["2006-01-02 15:04:05 MST", "2006.002"]:
            with self.assertRaises(ValueError, msg=layout):
                train.GoLayout(layout)


def make_csv(path, header, rows):
    with gzip.open(path, "wt", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def synthetic(n=600, seed=1):
    """A small dataset with every feature kind, missing values, and category
    values xgboost refuses in feature names."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        x = rng.normal()
        cat = ["a", "b[1]", "c<d"][int(rng.integers(0, 3))]
        flag = bool(rng.integers(0, 2))
        ts = 1700000000 + int(rng.integers(0, 86400 * 365))
        score = x + (1.0 if cat == "a" else 0.0) + (0.5 if flag else 0) + rng.normal() * 0.5
        rows.append([
            "yes" if score > 0.7 else "no",
            "" if i % 17 == 0 else repr(round(x, 4)),
            cat if i % 23 else "",
            (["true", "1"] if flag else ["FALSE", "no"])[int(rng.integers(0, 2))],
            np.datetime_as_string(np.datetime64(ts, "s")) + "Z",
            str(int(rng.integers(18, 80))),
            ["x", "y", "z"][int(rng.integers(0, 3))],
            repr(round(score * 10 + 50, 3)),
        ])
    header = ["label", "num", "cat", "flag", "when", "age", "group", "amount"]
    return header, rows


def contract(**over):
    c = {"dataset": "synth", "mode": "replace",
         "dialect": {"delimiter": ",", "quote": "\"", "header": True, "compression": "gzip"},
         "columns": [
             {"name": "label", "type": "category", "allowed": ["yes", "no"]},
             {"name": "num", "type": "number"},
             {"name": "cat", "type": "category"},
             {"name": "flag", "type": "boolean"},
             {"name": "when", "type": "timestamp"},
             {"name": "age", "type": "integer"},
             {"name": "group", "type": "string"},
             {"name": "amount", "type": "number"},
         ],
         "target": "label", "features": ["num", "cat", "flag", "when", "age", "group"],
         "sensitive": ["age", "group"]}
    c.update(over)
    return c


def spec(**over):
    s = {"name": "synth-model", "dataset": "synth", "target": {"positiveClass": "yes"},
         "objective": "binary:logistic", "params": {"max_depth": 3, "eta": 0.3}, "numBoostRound": 60,
         "earlyStoppingRounds": 10, "split": {"validation": 0, "test": 0},
         "trainer": {"timeoutSeconds": 0, "gpus": 0, "vcpus": 0, "memoryMiB": 0}, "trigger": {}}
    s.update(over)
    return s


class Run:
    """One trainer run in a temporary folder."""

    def __init__(self, tmp, header, rows, contract_doc, spec_doc, parts=1):
        self.tmp = tmp
        self.data = []
        step = max(1, math.ceil(len(rows) / parts))
        for k in range(parts):
            p = os.path.join(tmp, f"part{k}.csv.gz")
            make_csv(p, header, rows[k * step:(k + 1) * step])
            self.data.append(p)
        self.contract = os.path.join(tmp, "contract.json")
        self.spec = os.path.join(tmp, "spec.json")
        with open(self.contract, "w") as f:
            json.dump(contract_doc, f, separators=(",", ":"))
        with open(self.spec, "w") as f:
            json.dump(spec_doc, f, separators=(",", ":"))
        self.out = os.path.join(tmp, "out")

    def __call__(self):
        argv = ["--data", ",".join(self.data), "--contract", self.contract, "--spec", self.spec,
                "--output", self.out, "--run-id", "run-1", "--dataset-version", "v1", "--trainer", "test"]
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = train.main(argv)
        self.stdout, self.stderr = stdout.getvalue(), stderr.getvalue()
        return code

    def load(self, name):
        with open(os.path.join(self.out, name), encoding="utf-8") as f:
            return json.load(f)


class EndToEndTest(unittest.TestCase):
    def setUp(self):
        os.environ["MLOPS_DEVICE"] = "cpu"
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def test_binary_bundle(self):
        header, rows = synthetic()
        r = Run(self.tmp, header, rows, contract(), spec(), parts=3)
        self.assertEqual(r(), 0, r.stderr)
        m = r.load("manifest.json")
        self.assertEqual(m["format"], "mlops-bundle/1")
        names = [f["path"] for f in m["files"]]
        self.assertEqual(names, sorted(train_required()))
        for f in m["files"]:
            p = os.path.join(r.out, f["path"])
            self.assertEqual(f["bytes"], os.path.getsize(p))
            self.assertEqual(f["sha256"], train.sha256_file(p))
        enc = r.load("encoding.json")
        kinds = {f["name"]: f["kind"] for f in enc["features"]}
        self.assertEqual(kinds, {"num": "numeric", "cat": "onehot", "flag": "boolean", "when": "timestamp",
                                 "age": "numeric", "group": "onehot"})
        cat = next(f for f in enc["features"] if f["name"] == "cat")
        self.assertEqual(sorted(cat["categories"]), ["a", "b[1]", "c<d"])
        # Names xgboost's DMatrix refuses ('[', '<') are the model's names all the same.
        self.assertIn("cat=b[1]", enc["columns"])
        self.assertIn("cat=c<d", enc["columns"])
        model = r.load("model.json")
        self.assertEqual(model["learner"]["feature_names"], enc["columns"])
        self.assertEqual(enc["target"], {"column": "label", "kind": "binary", "classes": ["no", "yes"],
                                         "positiveClass": "yes"})
        met = r.load("metrics.json")
        self.assertEqual(met["numTrees"], met["bestIteration"] + 1)
        self.assertGreater(met["headline"]["value"], 0.8)
        self.assertLessEqual(met["headline"]["lower"], met["headline"]["value"])
        self.assertGreaterEqual(met["headline"]["upper"], met["headline"]["value"])
        self.assertEqual(sum(met["rows"].values()), 600)
        tr = r.load("test_rows.json")
        self.assertEqual(len(tr["rows"]), met["rows"]["test"])
        self.assertEqual(tr["rows"], sorted(tr["rows"]))
        self.assertEqual(tr["seed"], 42)
        s = r.load("samples.json")
        self.assertEqual(s["columns"], ["num", "cat", "flag", "when", "age", "group"])
        self.assertTrue(any("" in row["values"] for row in s["rows"]), "no sample with a missing value")
        for row in s["rows"][:5]:
            # Values are the CSV's strings, row numbers index the concatenated partitions.
            self.assertEqual(row["values"], [rows[row["row"]][header.index(c)] for c in s["columns"]])
        sl = r.load("slices.json")
        self.assertEqual([a["name"] for a in sl["attributes"]], ["age", "group"])
        self.assertEqual(sl["attributes"][0]["kind"], "numeric")
        self.assertEqual(sum(x["rows"] for x in sl["attributes"][1]["slices"]), met["rows"]["test"])
        lin = r.load("lineage.json")
        self.assertEqual(lin["dataSha256"], [train.sha256_file(p) for p in r.data])
        self.assertEqual(lin["contractHash"], train.sha256_file(r.contract))
        self.assertEqual(lin["params"]["tree_method"], "hist")
        self.assertEqual(lin["device"], "cpu")
        imp = r.load("importance.json")
        self.assertEqual(len(imp["columns"]), len(enc["columns"]))
        self.assertAlmostEqual(sum(c["gain"] for c in imp["columns"]), sum(f["gain"] for f in imp["features"]))

    def test_regression_and_multiclass(self):
        header, rows = synthetic()
        c = contract(target="amount", features=["num", "cat", "flag", "age"])
        r = Run(os.path.join(self.tmp), header, rows, c, spec(objective="reg:squarederror", target={}))
        self.assertEqual(r(), 0, r.stderr)
        met = r.load("metrics.json")
        self.assertEqual(met["headline"]["name"], "rmse")
        self.assertIn("r2", met["test"])
        self.assertEqual(r.load("encoding.json")["target"], {"column": "amount", "kind": "regression"})
        self.assertEqual(r.load("predictions.json")["outputs"][0]["name"], "prediction")

        os.makedirs(os.path.join(self.tmp, "m"))
        c = contract(target="group", features=["num", "cat", "flag", "age", "amount"])
        r = Run(os.path.join(self.tmp, "m"), header, rows, c, spec(objective="multi:softprob", target={}))
        self.assertEqual(r(), 0, r.stderr)
        met = r.load("metrics.json")
        self.assertEqual(met["headline"]["name"], "macro_f1")
        self.assertEqual(len(met["confusionMatrix"]), 3)
        self.assertEqual(met["numTrees"], 3 * (met["bestIteration"] + 1))
        self.assertEqual(len(r.load("predictions.json")["outputs"]), 3)
        self.assertEqual(len(r.load("samples.json")["rows"][0]["output"]), 3)

    def bad(self, header, rows, c, s, want):
        r = Run(self.tmp, header, rows, c, s)
        self.assertEqual(r(), 2, r.stdout + r.stderr)
        self.assertFalse(os.path.exists(os.path.join(r.out, "manifest.json")))
        err = r.load("error.json")
        self.assertEqual(err["kind"], "bad_input")
        self.assertIn(want, err["error"])
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        return err["error"]

    def test_bad_inputs(self):
        header, rows = synthetic(200)
        one = [["yes"] + r[1:] for r in rows]
        self.bad(header, one, contract(), spec(), "one class only")
        self.bad(header, rows, contract(target="nope"), spec(), "'nope' is not a column of the contract")
        self.bad(header, rows, contract(), spec(target={"positiveClass": "maybe"}), "'maybe' does not occur")
        blank = [r[:1] + [""] + r[2:] for r in rows]
        self.bad(header, blank, contract(), spec(), "feature column 'num' has no values")
        self.bad(header, rows, contract(), spec(objective="rank:pairwise"), "objective 'rank:pairwise'")
        self.bad(header, rows, contract(features=["num", "ghost"]), spec(), "feature 'ghost' is not a column")
        broken = [list(r) for r in rows]
        broken[57][5] = "forty"
        msg = self.bad(header, broken, contract(), spec(), "column 'age': 'forty' is not an integer")
        self.assertIn("data row 58", msg)
        self.bad(header, [], contract(), spec(), "no data rows")
        self.bad([h for h in header if h != "label"], [r[1:] for r in rows], contract(), spec(),
                 "no column 'label'")
        self.bad(header, rows, contract(), spec(params={"seed": 1}), "params.seed is set by the trainer")
        self.bad(header, rows, contract(), spec(params={"max_depth": "deep"}), "xgboost refused")

    def test_early_stopping_off(self):
        header, rows = synthetic(300)
        r = Run(self.tmp, header, rows, contract(), spec(earlyStoppingRounds=0, numBoostRound=15,
                                                          split={"seed": 0}))
        self.assertEqual(r(), 0, r.stderr)
        met = r.load("metrics.json")
        self.assertEqual((met["bestIteration"], met["numTrees"]), (14, 15))
        self.assertEqual(r.load("test_rows.json")["seed"], 0)  # an explicit 0 is a seed like any other

    def test_broken_files(self):
        header, rows = synthetic(200)
        r = Run(self.tmp, header, rows, contract(), spec(), parts=2)
        make_csv(r.data[1], header[::-1], [x[::-1] for x in rows[100:]])
        self.assertEqual(r(), 2)
        self.assertIn("header differs", r.load("error.json")["error"])
        with open(r.data[1], "wb") as f:
            f.write(b"\x1f\x8b\x08\x00garbage")
        self.assertEqual(r(), 2)
        self.assertIn("part1.csv.gz: not a readable gzip file", r.load("error.json")["error"])
        with gzip.open(r.data[1], "wt") as f:
            f.write(",".join(header) + "\n" + "a,b\n")
        self.assertEqual(r(), 2)
        self.assertIn("part1.csv.gz: data row 1 has 2 fields; the header has 8", r.load("error.json")["error"])

    def test_usage_and_s3(self):
        header, rows = synthetic(100)
        r = Run(self.tmp, header, rows, contract(), spec())
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit) as e:
            train.main(["--data", r.data[0]])
        self.assertEqual(e.exception.code, 1)  # the platform's mistake, not bad input
        try:
            import boto3  # noqa: F401
        except ImportError:
            r.data = ["s3://bucket/part-0.csv.gz"]
            self.assertEqual(r(), 1)
            self.assertIn("boto3 is not installed", r.stderr)
            self.assertEqual(r.load("error.json")["kind"], "internal")

    def test_missing_target_rows_are_left_out(self):
        header, rows = synthetic(300)
        rows = [list(r) for r in rows]
        for i in range(0, 300, 10):
            rows[i][0] = ""
        r = Run(self.tmp, header, rows, contract(), spec())
        self.assertEqual(r(), 0, r.stderr)
        self.assertEqual(sum(r.load("metrics.json")["rows"].values()), 270)
        self.assertFalse(set(range(0, 300, 10)) & set(r.load("test_rows.json")["rows"]))
        self.assertIn("30 rows have no target value", r.stdout)


def train_required():
    return [train.MODEL, train.ENCODING, train.METRICS, train.SLICES, train.IMPORTANCE, train.PREDICTIONS,
            train.SAMPLES, train.TEST_ROWS, train.LINEAGE]


class EncodingTest(unittest.TestCase):
    def problem(self, columns, features):
        c = {"dataset": "d", "columns": [{"name": "t", "type": "category"}] + columns, "target": "t",
             "features": features}
        return train.Problem(c, {"name": "m", "objective": "multi:softprob"})

    def data(self, cols):
        n = len(next(iter(cols.values())))
        return train.Data({k: np.array(v, dtype=object) for k, v in cols.items()}, ["f.csv.gz"],
                          np.zeros(n, dtype=np.int32), np.arange(n))

    def test_onehot_categories(self):
        p = self.problem([{"name": "c", "type": "string"}, {"name": "k", "type": "category",
                                                            "allowed": ["z", "y"]}], ["c", "k"])
        d = self.data({"t": ["a"] * 9, "c": ["b", "a", "b", "c", "", "b", "a", "a", "a"],
                       "k": ["y", "z", "q", "", "y", "y", "z", "z", "z"]})
        enc = train.Encoder(p, d, np.arange(6))  # rows 6-8 are not training data
        self.assertEqual(enc.features[0]["categories"], ["b", "a", "c"])  # by count, then value
        self.assertEqual(enc.features[1]["categories"], ["z", "y"])       # the contract's order
        self.assertEqual(enc.columns, ["c=b", "c=a", "c=c", "k=z", "k=y"])
        X = enc.encode(p, d, np.arange(9))
        np.testing.assert_array_equal(X[0], [1, 0, 0, 0, 1])
        np.testing.assert_array_equal(X[1], [0, 1, 0, 1, 0])
        self.assertTrue(np.isnan(X[4, :3]).all())   # missing
        self.assertTrue(np.isnan(X[2, 3:]).all())   # unseen "q"
        self.assertTrue(np.isnan(X[3, 3:]).all())

    def test_category_cap(self):
        p = self.problem([{"name": "c", "type": "category"}], ["c"])
        vals = [f"v{i:03d}" for i in range(150)] + ["v149"] * 3
        d = self.data({"t": ["a"] * len(vals), "c": vals})
        with contextlib.redirect_stdout(io.StringIO()) as out:
            enc = train.Encoder(p, d, np.arange(len(vals)))
        self.assertIn("150 distinct values", out.getvalue())
        cats = enc.features[0]["categories"]
        self.assertEqual(len(cats), train.MAX_CATEGORIES)
        self.assertEqual(cats[:3], ["v149", "v000", "v001"])
        X = enc.encode(p, d, np.arange(len(vals)))
        self.assertTrue(np.isnan(X[120]).all())  # v120 has no column: read as missing

    def test_colliding_names(self):
        p = self.problem([{"name": "c", "type": "category", "allowed": ["x", "y"]},
                          {"name": "c=x", "type": "number"}], ["c", "c=x"])
        d = self.data({"t": ["a"] * 2, "c": ["x", "y"], "c=x": ["1", "2"]})
        with self.assertRaisesRegex(train.BadInput, "'c=x'"):
            train.Encoder(p, d, np.arange(2))
        self.assertFalse(train.xgboost_accepts(["a", "b[1]"]))
        self.assertTrue(train.xgboost_accepts(["a", "b=(1)"]))


class SplitTest(unittest.TestCase):
    def test_stratified_and_deterministic(self):
        y = np.array([0] * 800 + [1] * 200, dtype=float)
        a = train.split_rows(y, "binary", 0.15, 0.15, 7)
        b = train.split_rows(y, "binary", 0.15, 0.15, 7)
        c = train.split_rows(y, "binary", 0.15, 0.15, 8)
        for x, z in zip(a, b):
            np.testing.assert_array_equal(x, z)
        self.assertFalse(np.array_equal(a[2], c[2]))
        tr, va, te = a
        self.assertEqual(len(np.intersect1d(tr, te)) + len(np.intersect1d(tr, va)) + len(np.intersect1d(va, te)), 0)
        self.assertEqual(len(tr) + len(va) + len(te), 1000)
        self.assertEqual((len(va), len(te)), (150, 150))
        self.assertEqual(int(y[te].sum()), 30)
        self.assertEqual(int(y[va].sum()), 30)

    def test_regression_bins(self):
        y = np.random.default_rng(0).exponential(size=1000)
        tr, va, te = train.split_rows(y, "regression", 0.2, 0.1, 1)
        self.assertEqual((len(va), len(te)), (200, 100))
        # Every decile is represented in the test set.
        deciles = np.quantile(y, np.linspace(0, 1, 11))
        self.assertEqual(len(np.unique(np.searchsorted(deciles[1:-1], y[te]))), 10)

    def test_tiny_strata_stay_in_training(self):
        y = np.array([0] * 50 + [1, 2], dtype=float)
        tr, va, te = train.split_rows(y, "multiclass", 0.15, 0.15, 1)
        self.assertIn(50, tr)
        self.assertIn(51, tr)


class MetricsTest(unittest.TestCase):
    def test_auc_matches_pairs(self):
        rng = np.random.default_rng(3)
        y = rng.integers(0, 2, 300).astype(float)
        p = np.round(rng.random(300), 1)  # many ties
        pos, neg = p[y == 1], p[y == 0]
        pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
        self.assertAlmostEqual(train.auc_score(y, p), pairs / (len(pos) * len(neg)), places=12)
        self.assertIsNone(train.auc_score(np.ones(5), np.arange(5.0)))

    def test_weighted_auc_is_the_resample(self):
        rng = np.random.default_rng(4)
        y = rng.integers(0, 2, 100).astype(float)
        p = rng.random(100)
        idx = rng.integers(0, 100, 100)
        w = np.bincount(idx, minlength=100)
        self.assertAlmostEqual(train.auc_score(y, p, w), train.auc_score(y[idx], p[idx]), places=12)

    def test_binary_metrics(self):
        y = np.array([1, 1, 0, 0, 1, 0], dtype=float)
        p = np.array([0.9, 0.4, 0.6, 0.1, 0.7, 0.5])
        m = train.binary_metrics(y, p, 0.5)
        # Predicted positive: 0.9, 0.6, 0.7, 0.5 → tp 2, fp 2, fn 1.
        self.assertAlmostEqual(m["precision"], 0.5)
        self.assertAlmostEqual(m["recall"], 2 / 3)
        self.assertAlmostEqual(m["f1"], 4 / 7)
        self.assertAlmostEqual(m["accuracy"], 3 / 6)
        self.assertAlmostEqual(m["brier"], np.mean((p - y) ** 2))
        self.assertAlmostEqual(m["log_loss"], -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
        m = train.binary_metrics(np.zeros(4), np.array([0.1, 0.2, 0.3, 0.4]), 0.5)
        self.assertNotIn("auc", m)
        self.assertNotIn("recall", m)
        self.assertEqual(m["precision"], 0.0)

    def test_regression_and_multiclass(self):
        y = np.array([1.0, 2.0, 3.0, 4.0])
        p = np.array([1.5, 2.0, 2.5, 5.0])
        m = train.regression_metrics(y, p)
        self.assertAlmostEqual(m["rmse"], math.sqrt((0.25 + 0 + 0.25 + 1) / 4))
        self.assertAlmostEqual(m["mae"], 0.5)
        self.assertAlmostEqual(m["r2"], 1 - 1.5 / 5)
        yc = np.array([0, 1, 2, 2], dtype=float)
        P = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.6, 0.3], [0.1, 0.1, 0.8]])
        m = train.multiclass_metrics(yc, P, 3)
        self.assertAlmostEqual(m["accuracy"], 0.75)
        # F1 per class: 1, 2/3, 2/3.
        self.assertAlmostEqual(m["macro_f1"], (1 + 2 / 3 + 2 / 3) / 3)
        self.assertAlmostEqual(m["log_loss"], -np.mean(np.log([0.8, 0.7, 0.3, 0.8])))

    def test_headline_interval(self):
        rng = np.random.default_rng(5)
        y = rng.integers(0, 2, 400).astype(float)
        p = np.clip(y * 0.3 + rng.random(400) * 0.7, 0, 1)
        prob = type("P", (), {"objective": train.BINARY})()
        h = train.headline(prob, y, p, 2, 42)
        self.assertEqual(h["replicates"], 1000)
        self.assertLess(h["lower"], h["value"])
        self.assertGreater(h["upper"], h["value"])
        self.assertEqual(h, train.headline(prob, y, p, 2, 42))  # seeded

    def test_calibration(self):
        y = np.array([0, 1, 1, 0], dtype=float)
        p = np.array([0.05, 0.95, 1.0, 0.55])
        bins = train.calibration(y, p)
        self.assertEqual([b["count"] for b in bins], [1, 0, 0, 0, 0, 1, 0, 0, 0, 2])
        self.assertEqual(bins[9]["fractionPositive"], 1.0)
        self.assertEqual((bins[0]["lower"], bins[9]["upper"]), (0.0, 1.0))


class SlicesTest(unittest.TestCase):
    def test_bands(self):
        ages = np.array([18, 22, 25, 27, 30, 31, 33, 36, 40, 44, 47, 52, 58, 63, 68], dtype=float)
        edges, unit = train.numeric_bands(ages)
        self.assertEqual(unit, 5.0)
        self.assertEqual(edges[0], 15)
        self.assertGreater(edges[-1], 68)
        self.assertTrue(all(e % 5 == 0 for e in edges))
        self.assertEqual(train._fmt(25.0, unit), "25")
        edges, unit = train.numeric_bands(np.array([0.01, 0.2, 0.33, 0.5, 0.9]))
        self.assertEqual(unit, 0.1)
        self.assertEqual(train._fmt(edges[1], unit), "0.2")
        edges, _ = train.numeric_bands(np.array([3.0, 3.0]))  # one band that holds the value
        self.assertEqual(len(edges), 2)
        self.assertTrue(edges[0] <= 3 < edges[1])

    def test_gaps(self):
        c = {"dataset": "d", "target": "t", "features": ["x"], "sensitive": ["g"],
             "columns": [{"name": "t", "type": "category"}, {"name": "x", "type": "number"},
                         {"name": "g", "type": "category"}]}
        p = train.Problem(c, {"name": "m", "objective": "binary:logistic", "target": {"positiveClass": "1"}})
        g = ["a"] * 20 + ["b"] * 20 + ["c"] * 5
        y = np.array([1, 0] * 10 + [1, 0] * 10 + [1] * 5, dtype=float)
        # a: 80% predicted positive, tpr 0.8; b: 50%, tpr 1; c: too small to compare.
        out = np.concatenate([np.where(np.arange(20) < 16, 0.9, 0.1), np.tile([0.9, 0.1], 10), np.full(5, 0.9)])
        data = train.Data({"g": np.array(g, dtype=object)}, ["f"], np.zeros(45, dtype=np.int32), np.arange(45))
        label = type("L", (), {"rows": np.arange(45), "y": y})()
        s = train.build_slices(p, data, label, np.arange(45), out, 2)["attributes"][0]
        self.assertEqual([x["value"] for x in s["slices"]], ["a", "b", "c"])
        self.assertEqual([x["rows"] for x in s["slices"]], [20, 20, 5])
        self.assertAlmostEqual(s["demographicParityDifference"], 0.3)
        self.assertAlmostEqual(s["disparateImpactRatio"], 0.5 / 0.8)
        self.assertAlmostEqual(s["equalOpportunityDifference"], 0.2)


class MissingLibraryTest(unittest.TestCase):
    """A Python without numpy or xgboost is told so in error.json, with the fix."""

    def test_python_without_dist_packages(self):
        if subprocess.run([sys.executable, "-S", "-c", "import xgboost"], capture_output=True).returncode == 0:
            self.skipTest(f"{sys.executable} -S still imports xgboost")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out")
            argv = ["--data", os.path.join(tmp, "part-0.csv.gz"), "--contract", os.path.join(tmp, "c.json"),
                    "--spec", os.path.join(tmp, "s.json"), "--output", out, "--run-id", "run-1",
                    "--dataset-version", "v1", "--trainer", "test"]
            train_py = os.path.join(os.path.dirname(os.path.abspath(__file__)), "train.py")
            r = subprocess.run([sys.executable, "-S", train_py] + argv, capture_output=True, text=True, cwd=tmp)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertNotIn("Traceback", r.stderr)
            with open(os.path.join(out, "error.json"), encoding="utf-8") as f:
                err = json.load(f)
        self.assertEqual(err["kind"], "internal")
        self.assertIn(f"{sys.executable} cannot import numpy and xgboost", err["error"])
        self.assertIn("python3-xgboost", err["error"])

    def test_message_names_the_module(self):
        e = ModuleNotFoundError("No module named 'xgboost'", name="xgboost")
        msg = train.cannot_import(e)
        # numpy is here (this test imports it), so xgboost alone is named.
        self.assertTrue(msg.startswith(f"{sys.executable} cannot import xgboost (No module named 'xgboost'): "), msg)
        self.assertIn("make setup", msg)
        e = ModuleNotFoundError("No module named 'xgboost.libpath'", name="xgboost.libpath")
        self.assertIn("cannot import xgboost.libpath (", train.cannot_import(e))


if __name__ == "__main__":
    unittest.main()
