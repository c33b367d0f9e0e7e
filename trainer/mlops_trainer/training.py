"""Training: the device, the threads, and the booster itself (XGBoost 1.7)."""

import math
import os
import shutil
import subprocess

import numpy as np
import xgboost as xgb

from . import BadInput, log
from .encoding import xgboost_accepts
from .problem import BINARY, MULTI, REGRESSION

EVAL_METRIC = {BINARY: "auc", REGRESSION: "rmse", MULTI: "mlogloss"}


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
    (see pipeline.run), so the DMatrix needs none."""
    return booster.predict(xgb.DMatrix(X, missing=np.nan))
