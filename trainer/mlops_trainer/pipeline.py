"""One training run, inputs to bundle: each step is one of the package's
modules; this is their order and what goes from one to the next."""

import os
import shutil
import tempfile
import time

import numpy as np
import xgboost as xgb

from . import BadInput, log
from .bundle import baseline, importance, libraries, samples
from .encoding import Encoder, check_features
from .inputs import fetch, load_json, read_data, sha256_file
from .metrics import calibration, confusion, headline, metrics_for, positive
from .output import (BUNDLE_FORMAT, ENCODING, IMPORTANCE, LINEAGE, METRICS, MODEL, PREDICTIONS, SAMPLES, SLICES,
                     TEST_ROWS, json_bytes, rfc3339)
from .problem import BINARY, MULTI, Problem
from .slices import build_slices
from .split import Label, split_rows
from .training import choose_device, predict, threads, train


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
