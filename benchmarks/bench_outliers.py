"""Outlier detection quality and speed of skae against IsolationForest and PyOD.

Run ``python benchmarks/bench_outliers.py DATA_DIR`` (``--help`` for options)
on a folder of ADBench-style ``.npz`` files (keys ``X`` and ``y``, ``y == 1``
for outliers).

Protocol, the same for every detector and data set:

- ``X`` is cast to float64.  Sets with more than 20,000 rows are subsampled
  to 20,000 rows once, stratified by ``y``, with seed 0.
- For each seed: a stratified 60/40 train/test split with that seed; the
  detector is fitted on the training rows without labels (``random_state``
  = the seed where it has one) and scores the test rows.
- ROC-AUC and average precision (outlier = positive class) on the test rows;
  seconds are wall time of fit + scoring.
- Every detector runs with its default settings, apart from PyOD's
  ``verbose=0`` (printing only).

Results are kept per ``(detector, data set, seed)`` in ``--cache`` (JSON), so
peers are computed once.  skae rows are keyed by a hash of skae's source
files and of ``--skae-params``: they are recomputed whenever either changes.

The machine may be shared: compare only detectors measured in one run.
"""

import argparse
import fcntl
import glob
import hashlib
import json
import os
import sys
import time
import warnings

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

MAX_ROWS = 20_000
PEERS = ["iforest", "pyod_ae", "pyod_vae", "ecod"]
SKAE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "skae")


# ------------------------------------------------------------------ data
def load(path):
    data = np.load(path)
    X, y = np.asarray(data["X"], dtype=np.float64), np.asarray(data["y"]).astype(int).ravel()
    if len(X) > MAX_ROWS:
        X, _, y, _ = train_test_split(X, y, train_size=MAX_ROWS, stratify=y, random_state=0)
    return X, y


def split(X, y, seed):
    return train_test_split(X, y, test_size=0.4, stratify=y, random_state=seed)


# ------------------------------------------------------------- detectors
def outlier_scores(name, X_train, X_test, seed, skae_params):
    """Fit on ``X_train`` and return outlier scores of ``X_test`` (higher = more abnormal)."""
    if name == "iforest":
        from sklearn.ensemble import IsolationForest

        return -IsolationForest(random_state=seed).fit(X_train).score_samples(X_test)
    if name == "pyod_ae":
        from pyod.models.auto_encoder import AutoEncoder

        return AutoEncoder(random_state=seed, verbose=0).fit(X_train).decision_function(X_test)
    if name == "pyod_vae":
        from pyod.models.vae import VAE

        return VAE(random_state=seed, verbose=0).fit(X_train).decision_function(X_test)
    if name == "ecod":
        from pyod.models.ecod import ECOD

        return ECOD().fit(X_train).decision_function(X_test)
    from skae import AutoencoderOutlierDetector

    det = AutoencoderOutlierDetector(random_state=seed, **skae_params)
    return -det.fit(X_train).score_samples(X_test)


def skae_version(params):
    """Hash of skae's source files and the parameters: the cache key of skae rows."""
    digest = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(SKAE_DIR, "*.py"))):
        with open(path, "rb") as f:
            digest.update(f.read())
    digest.update(json.dumps(params, sort_keys=True).encode())
    return digest.hexdigest()[:16]


# ----------------------------------------------------------------- cache
class Cache:
    """A JSON file of results, merged under a lock so parallel runs can share it."""

    def __init__(self, path):
        self.path = path
        self.data = self._read() if path else {}

    def _read(self):
        if not os.path.exists(self.path):
            return {}
        with open(self.path) as f:
            return json.load(f)

    def get(self, key):
        return self.data.get(key)

    def put(self, key, value):
        self.data[key] = value
        if not self.path:
            return
        with open(self.path + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            merged = self._read()
            merged[key] = value
            tmp = f"{self.path}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                json.dump(merged, f, indent=0, sort_keys=True)
            os.replace(tmp, self.path)
            self.data.update(merged)


# ------------------------------------------------------------------ main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", help="folder of .npz files with keys X and y")
    parser.add_argument(
        "--detectors",
        default="skae," + ",".join(PEERS),
        help=f"comma-separated subset of skae,{','.join(PEERS)} (default: all)",
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--cache", default=None, help="JSON file of per-run results to reuse")
    parser.add_argument(
        "--skae-params",
        default="{}",
        help="JSON of non-default skae parameters, e.g. '{\"dropout\": 0.3}'",
    )
    parser.add_argument(
        "--name", default=None, help="column name of the skae row (default: skae or skae+params)"
    )
    parser.add_argument("--datasets", default=None, help="comma-separated subset of file stems")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    seeds = [int(s) for s in args.seeds.split(",")]
    detectors = [d.strip() for d in args.detectors.split(",") if d.strip()]
    unknown = set(detectors) - {"skae", *PEERS}
    if unknown:
        parser.error(f"unknown detectors {sorted(unknown)}; choose from skae,{','.join(PEERS)}")
    skae_params = json.loads(args.skae_params)
    skae_name = args.name or ("skae" if not skae_params else "skae" + json.dumps(skae_params))
    version = skae_version(skae_params)
    paths = sorted(
        glob.glob(os.path.join(args.data_dir, "*.npz")),
        key=lambda p: (
            int(os.path.basename(p).split("_")[0])
            if os.path.basename(p).split("_")[0].isdigit()
            else 0
        ),
    )
    if args.datasets:
        wanted = set(args.datasets.split(","))
        paths = [p for p in paths if os.path.splitext(os.path.basename(p))[0] in wanted]
    if not paths:
        parser.error(f"no .npz files in {args.data_dir}")
    cache = Cache(args.cache)
    columns = [skae_name if d == "skae" else d for d in detectors]

    results = {}  # (column, dataset) -> list of (roc, ap, seconds)
    for path in paths:
        name = os.path.splitext(os.path.basename(path))[0]
        X, y = load(path)
        for seed in seeds:
            X_train, X_test, _, y_test = split(X, y, seed)
            for det, column in zip(detectors, columns):
                key = f"{det}|{name}|{seed}" + (f"|{version}" if det == "skae" else "")
                row = cache.get(key)
                if row is None:
                    tic = time.perf_counter()
                    scores = outlier_scores(det, X_train, X_test, seed, skae_params)
                    seconds = time.perf_counter() - tic
                    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=np.inf)
                    row = {
                        "roc_auc": float(roc_auc_score(y_test, scores)),
                        "ap": float(average_precision_score(y_test, scores)),
                        "seconds": seconds,
                    }
                    cache.put(key, row)
                results.setdefault((column, name), []).append(row)
        if not args.quiet:
            cells = "  ".join(
                f"{c}={np.mean([r['roc_auc'] for r in results[c, name]]):.3f}" for c in columns
            )
            print(f"# {name}: {cells}", file=sys.stderr, flush=True)

    names = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    width = max(len(n) for n in names + ["mean"])
    colw = max(12, *(len(c) for c in columns))

    def table(metric, title):
        print(f"\n{title} (mean over seeds {args.seeds})")
        print(f"{'data set':<{width}}  " + "  ".join(f"{c:>{colw}}" for c in columns))
        for n in names:
            vals = [100 * np.mean([r[metric] for r in results[c, n]]) for c in columns]
            best = max(vals)
            print(
                f"{n:<{width}}  "
                + "  ".join(f"{v:>{colw - 1}.1f}{'*' if v == best else ' '}" for v in vals)
            )
        means = [
            100 * np.mean([np.mean([r[metric] for r in results[c, n]]) for n in names])
            for c in columns
        ]
        print(f"{'mean':<{width}}  " + "  ".join(f"{v:>{colw - 1}.2f} " for v in means))

    table("roc_auc", "ROC-AUC x 100")
    table("ap", "Average precision x 100")
    print("\nTotal seconds (fit + score, all data sets and seeds)")
    for c in columns:
        total = sum(r["seconds"] for n in names for r in results[c, n])
        print(f"{c:<{colw}}  {total:9.1f}")
    return results


if __name__ == "__main__":
    main()
