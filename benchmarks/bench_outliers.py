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
  seconds are wall time of fit + scoring.  The rank of a detector is its
  place by ROC-AUC among all detectors of the run on one data set and seed
  (1 = best, ties share the mean place), averaged over sets and seeds.
- Every detector runs with its default settings, apart from PyOD's
  ``verbose=0`` (printing only).

Tables (``--tables``):

- ``real``: the sets themselves, with means over all sets and over two fixed
  halves (files in the order of their ADBench number; half A the 1st, 3rd,
  5th ... file of the folder, half B the 2nd, 4th ...), and for skae and
  IsolationForest the share of test rows ``predict`` flags with
  ``contamination="auto"`` against the true outlier share.
- ``synthetic``: the four anomaly kinds of ADBench made from each set's
  normal rows (``synthetic.py``), same splits and metrics.
- ``large``: skae and IsolationForest only, fitted on all rows and scoring the
  same rows, fit and score timed apart: the sets over 20,000 rows at full
  size and a synthetic 1,000,000 x 20 table (``large_table``).

Results are kept per ``(detector, data set, seed)`` in ``--cache`` (JSON), so
peers are computed once.  skae rows are keyed by a hash of skae's source
files and of ``--skae-params``, synthetic rows also by a hash of
``synthetic.py``: they are recomputed whenever either changes.  The large
table is always measured afresh, both detectors side by side.

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
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synthetic  # noqa: E402

MAX_ROWS = 20_000
PEERS = ["iforest", "pyod_ae", "pyod_vae", "ecod", "copod", "pca", "knn"]
# PyOD's VAE takes three times PyOD's AutoEncoder (634 s against 195 s on the
# twenty sets): available through --detectors, not run by default.
DEFAULT_DETECTORS = ["skae", "iforest", "pyod_ae", "ecod", "copod", "pca", "knn"]
FLAGGING = ["skae", "iforest"]  # detectors whose contamination="auto" is reported
TABLES = ["real", "synthetic", "large"]
HERE = os.path.dirname(os.path.abspath(__file__))
SKAE_DIR = os.path.join(HERE, os.pardir, "skae")
DEFAULT_CACHE = os.path.join(HERE, ".cache", "outliers.json")
LARGE_ROWS, LARGE_FEATURES, LARGE_SHARE, LARGE_SEED = 1_000_000, 20, 0.01, 0


# ------------------------------------------------------------------ data
def stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def data_paths(data_dir):
    """The folder's ``.npz`` files in the order of their ADBench number."""
    prefix = [(stem(p).split("_")[0], p) for p in glob.glob(os.path.join(data_dir, "*.npz"))]
    return [p for _, p in sorted((int(n) if n.isdigit() else 0, p) for n, p in prefix)]


def halves(paths):
    """Fixed halves of the folder: alternate files in the order of ``data_paths``."""
    names = [stem(p) for p in paths]
    return {"A": names[0::2], "B": names[1::2]}


def load(path, max_rows=MAX_ROWS):
    data = np.load(path)
    X, y = np.asarray(data["X"], dtype=np.float64), np.asarray(data["y"]).astype(int).ravel()
    if max_rows and len(X) > max_rows:
        X, _, y, _ = train_test_split(X, y, train_size=max_rows, stratify=y, random_state=0)
    return X, y


def split(X, y, seed):
    return train_test_split(X, y, test_size=0.4, stratify=y, random_state=seed)


def synthetic_sets(path, cache_dir):
    """The four synthetic sets made from one real set, kept on disk when possible."""
    name = stem(path)
    file = cache_dir and os.path.join(cache_dir, f"{name}-{synthetic.version()}.npz")
    if file and os.path.exists(file):
        data = np.load(file)
        return {k: (data[f"{k}_X"], data[f"{k}_y"]) for k in synthetic.KINDS}
    X, y = load(path, max_rows=None)
    sets = synthetic.make(X, y, name)
    if file:
        os.makedirs(cache_dir, exist_ok=True)
        tmp = f"{file}.{os.getpid()}.tmp.npz"
        arrays = {
            f"{k}_{a}": v for k, (X_k, y_k) in sets.items() for a, v in (("X", X_k), ("y", y_k))
        }
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, file)
    return sets


def large_synthetic():
    """1,000,000 x 20: correlated Gaussian normals and 1 % planted anomalies.

    Normals: N(0, C), C a random correlation matrix (a random rotation of
    eigenvalues spaced geometrically from 1 to 0.01, rescaled to unit
    variances).  Anomalies: N(0, I), the same unit marginals without the
    correlation.  Seed 0; rows shuffled.
    """
    rng = np.random.default_rng(LARGE_SEED)
    d, n_out = LARGE_FEATURES, round(LARGE_SHARE * LARGE_ROWS)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    cov = (q * np.geomspace(1.0, 0.01, d)) @ q.T
    std = np.sqrt(np.diag(cov))
    corr = cov / np.outer(std, std)
    normals = rng.multivariate_normal(np.zeros(d), corr, size=LARGE_ROWS - n_out)
    X = np.vstack([normals, rng.standard_normal((n_out, d))])
    y = np.r_[np.zeros(LARGE_ROWS - n_out, dtype=int), np.ones(n_out, dtype=int)]
    order = rng.permutation(LARGE_ROWS)
    return X[order], y[order]


# ------------------------------------------------------------- detectors
def build(name, seed, skae_params):
    """An unfitted detector with its defaults."""
    if name == "iforest":
        from sklearn.ensemble import IsolationForest

        return IsolationForest(random_state=seed)
    if name == "pyod_ae":
        from pyod.models.auto_encoder import AutoEncoder

        return AutoEncoder(random_state=seed, verbose=0)
    if name == "pyod_vae":
        from pyod.models.vae import VAE

        return VAE(random_state=seed, verbose=0)
    if name == "ecod":
        from pyod.models.ecod import ECOD

        return ECOD()
    if name == "copod":
        from pyod.models.copod import COPOD

        return COPOD()
    if name == "pca":
        from pyod.models.pca import PCA

        return PCA(random_state=seed)
    if name == "knn":
        from pyod.models.knn import KNN

        return KNN()
    from skae import AutoencoderOutlierDetector

    return AutoencoderOutlierDetector(random_state=seed, **skae_params)


def abnormality(name, model, X):
    """Outlier scores of ``X``, higher = more abnormal."""
    if name in ("skae", "iforest"):
        return -model.score_samples(X)
    return model.decision_function(X)


def measure(name, X_train, X_test, y_test, seed, skae_params):
    """Fit, score and (for ``FLAGGING``) predict: one result row."""
    model = build(name, seed, skae_params)
    tic = time.perf_counter()
    scores = abnormality(name, model.fit(X_train), X_test)
    seconds = time.perf_counter() - tic
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=np.inf)
    row = {
        "roc_auc": float(roc_auc_score(y_test, scores)),
        "ap": float(average_precision_score(y_test, scores)),
        "seconds": seconds,
    }
    if name == "skae":  # optimizer steps taken, where the optimizer counts them (Adam)
        steps = [state.get("step") for state in model.net_.optimizer_.state.values()]
        if steps and None not in steps:
            row["steps"] = max(int(step) for step in steps)
    if name in FLAGGING:  # predict with contamination="auto", not timed
        flagged = model.predict(X_test) == -1
        hits = int(np.sum(flagged & (y_test == 1)))
        row["true"] = float(np.mean(y_test == 1))
        row["flagged"] = float(np.mean(flagged))
        row["precision"] = hits / int(flagged.sum()) if flagged.any() else None
        row["recall"] = hits / int(np.sum(y_test == 1))
    return row


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
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(self.path + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            merged = self._read()
            merged[key] = value
            tmp = f"{self.path}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                json.dump(merged, f, indent=0, sort_keys=True)
            os.replace(tmp, self.path)
            self.data.update(merged)


# ------------------------------------------------------------ evaluation
def evaluate(tasks, detectors, columns, seeds, cache, skae_key, skae_params, quiet):
    """Results ``(column, label) -> [row per seed]`` of every task.

    ``tasks`` is a list of ``(label, key, get_data)``: ``key`` names the data
    set in the cache, ``get_data()`` returns ``(X, y)`` and is only called
    when some row is missing.
    """
    results = {}
    for label, key, get_data in tasks:
        data = None
        for seed in seeds:
            parts = None
            for det, column in zip(detectors, columns):
                cache_key = f"{det}|{key}|{seed}" + (f"|{skae_key}" if det == "skae" else "")
                row = cache.get(cache_key)
                if row is None or (det in FLAGGING and "true" not in row):
                    if data is None:
                        data = get_data()
                    if parts is None:
                        parts = split(*data, seed)
                    X_train, X_test, _, y_test = parts
                    row = measure(det, X_train, X_test, y_test, seed, skae_params)
                    cache.put(cache_key, row)
                results.setdefault((column, label), []).append(row)
        if not quiet:
            cells = "  ".join(f"{c}={mean(results, c, [label]):.1f}" for c in columns)
            print(f"# {label}: {cells}", file=sys.stderr, flush=True)
    return results


def mean(results, column, labels, metric="roc_auc"):
    """x 100, mean over ``labels`` of the mean over seeds."""
    return 100 * np.mean([np.mean([r[metric] for r in results[column, n]]) for n in labels])


def mean_rank(results, columns, labels):
    """Per column: place by ROC-AUC on each (label, seed), averaged."""
    ranks = []
    for n in labels:
        for i in range(len(results[columns[0], n])):
            ranks.append(rankdata([-results[c, n][i]["roc_auc"] for c in columns]))
    return dict(zip(columns, np.mean(ranks, axis=0)))


def seconds(results, column, labels):
    return sum(r["seconds"] for n in labels for r in results[column, n])


# -------------------------------------------------------------- printing
def per_set_table(results, columns, labels, metric, title):
    width = max(len(n) for n in [*labels, "mean"])
    colw = max(8, *(len(c) for c in columns))
    print(f"\n{title}")
    print(f"{'data set':<{width}}  " + "  ".join(f"{c:>{colw}}" for c in columns))
    for n in labels:
        vals = [mean(results, c, [n], metric) for c in columns]
        best = max(vals)
        print(
            f"{n:<{width}}  "
            + "  ".join(f"{v:>{colw - 1}.1f}{'*' if v == best else ' '}" for v in vals)
        )
    vals = [mean(results, c, labels, metric) for c in columns]
    print(f"{'mean':<{width}}  " + "  ".join(f"{v:>{colw - 1}.2f} " for v in vals))


def summary(header, rows):
    """Print ``rows`` (lists of cells) under ``header``, columns aligned."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *(r for r in rows))]
    for r in [header, *rows]:
        print(
            "  ".join(
                f"{str(x):<{w}}" if i == 0 else f"{str(x):>{w}}"
                for i, (x, w) in enumerate(zip(r, widths))
            )
        )


def report_real(results, columns, names, split_halves, seeds_text, quiet):
    if not quiet:
        per_set_table(
            results, columns, names, "roc_auc", f"ROC-AUC x 100 (mean over seeds {seeds_text})"
        )
        per_set_table(
            results, columns, names, "ap", f"Average precision x 100 (mean over seeds {seeds_text})"
        )
    ranks = mean_rank(results, columns, names)
    in_half = {h: [n for n in members if n in names] for h, members in split_halves.items()}
    print(
        f"\nSummary, {len(names)} real sets, seeds {seeds_text}: means x 100; rank by ROC-AUC"
        f" among {len(columns)}; seconds = fit + score, summed"
    )
    header = ["detector", "ROC-AUC", "AP", "rank"]
    header += [f"half {h} ({len(m)})" for h, m in in_half.items()] + ["seconds"]
    rows = []
    for c in columns:
        cells = [
            f"{mean(results, c, names):.2f}",
            f"{mean(results, c, names, 'ap'):.2f}",
            f"{ranks[c]:.2f}",
        ]
        cells += [f"{mean(results, c, m):.2f}" if m else "-" for m in in_half.values()]
        rows.append([c, *cells, f"{seconds(results, c, names):.1f}"])
    summary(header, rows)
    for h, members in split_halves.items():
        print(f"half {h}: {', '.join(members)}")
    for c in columns:
        steps = [r.get("steps") for n in names for r in results[c, n]]
        if steps and None not in steps:
            print(f"{c}: {sum(steps):,} training steps over the sets and seeds")


def report_flagging(results, columns, detectors, names):
    shown = [c for c, d in zip(columns, detectors) if d in FLAGGING]
    if not shown:
        return
    print(
        '\ncontamination="auto" on the test rows (means over seeds): outlier share (%), and per'
        " detector the share flagged (%), flagged / true share, precision and recall (%)"
    )
    header = ["data set", "true"]
    for c in shown:
        header += [f"{c} flagged", "ratio", "precision", "recall"]
    rows, ratios = [], {c: [] for c in shown}
    for n in names:
        true = 100 * np.mean([r["true"] for r in results[shown[0], n]])
        cells = [f"{true:.2f}"]
        for c in shown:
            rs = results[c, n]
            flagged = 100 * np.mean([r["flagged"] for r in rs])
            ratios[c].append(flagged / true)
            precision = [r["precision"] for r in rs if r["precision"] is not None]
            cells += [
                f"{flagged:.2f}",
                f"{flagged / true:.2f}",
                f"{100 * np.mean(precision):.1f}" if precision else "-",
                f"{100 * np.mean([r['recall'] for r in rs]):.1f}",
            ]
        rows.append([n, *cells])
    summary(header, rows)
    medians = ", ".join(f"{c} {np.median(v):.2f}" for c, v in ratios.items())
    print(f"median over sets of flagged / true share: {medians}")


def report_synthetic(results, columns, kinds, names, seeds_text, quiet):
    labels = {k: [f"{k}/{n}" for n in names] for k in kinds}
    every = [label for k in kinds for label in labels[k]]
    if not quiet:
        for k in kinds:
            per_set_table(
                results,
                columns,
                labels[k],
                "roc_auc",
                f"Synthetic {k}: ROC-AUC x 100 (mean over seeds {seeds_text})",
            )
    ranks = mean_rank(results, columns, every)
    print(
        f"\nSynthetic anomalies from {len(names)} sets' normal rows, seeds {seeds_text}: mean"
        f" ROC-AUC x 100 per kind; overall = mean over kinds and sets; rank among {len(columns)}"
    )
    header = ["detector", *kinds, "overall", "AP", "rank", "seconds"]
    rows = []
    for c in columns:
        cells = [f"{mean(results, c, labels[k]):.2f}" for k in kinds]
        cells += [
            f"{mean(results, c, every):.2f}",
            f"{mean(results, c, every, 'ap'):.2f}",
            f"{ranks[c]:.2f}",
        ]
        rows.append([c, *cells, f"{seconds(results, c, every):.1f}"])
    summary(header, rows)


def large_table(paths, detectors, columns, skae_params, seed):
    """Fit on all rows and score them, timed apart, skae beside IsolationForest."""
    shown = [(d, c) for d, c in zip(detectors, columns) if d in FLAGGING]
    if not shown:
        print("\nLarge tables: nothing to run (choose skae and/or iforest)")
        return {}
    tasks = [
        (stem(p), lambda p=p: load(p, max_rows=None))
        for p in paths
        if len(np.load(p)["y"]) > MAX_ROWS
    ]
    tasks.append(("synthetic", large_synthetic))
    rows, out = [], {}
    for label, get_data in tasks:
        X, y = get_data()
        totals = {}
        for det, column in shown:
            model = build(det, seed, skae_params)
            tic = time.perf_counter()
            model.fit(X)
            fitted = time.perf_counter()
            scores = abnormality(det, model, X)
            done = time.perf_counter()
            scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=np.inf)
            totals[det] = done - tic
            out[column, label] = {
                "fit": fitted - tic,
                "score": done - fitted,
                "roc_auc": float(roc_auc_score(y, scores)),
            }
            print(f"# large {label} {column}: {done - tic:.1f} s", file=sys.stderr, flush=True)
        for det, column in shown:
            r = out[column, label]
            ratio = f"{totals[det] / totals['iforest']:.1f}" if "iforest" in totals else "-"
            rows.append(
                [
                    label,
                    f"{X.shape[0]:,} x {X.shape[1]}",
                    column,
                    f"{r['fit']:.2f}",
                    f"{r['score']:.2f}",
                    f"{r['fit'] + r['score']:.2f}",
                    ratio,
                    f"{100 * r['roc_auc']:.2f}",
                ]
            )
    print(
        f"\nLarge tables, seed {seed}: fit on all rows and score the same rows; seconds; total"
        " relative to IsolationForest's; ROC-AUC x 100 on those rows"
    )
    summary(
        ["table", "rows x features", "detector", "fit", "score", "total", "x iforest", "ROC-AUC"],
        rows,
    )
    return out


# ------------------------------------------------------------------ main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", help="folder of .npz files with keys X and y")
    parser.add_argument(
        "--detectors",
        default=",".join(DEFAULT_DETECTORS),
        help=f"comma-separated subset of skae,{','.join(PEERS)} (default: all but pyod_vae)",
    )
    parser.add_argument(
        "--tables",
        default="real,synthetic",
        help=f"comma-separated subset of {','.join(TABLES)} (default real,synthetic)",
    )
    parser.add_argument("--large", action="store_true", help="also run the large table")
    parser.add_argument(
        "--kinds",
        default=",".join(synthetic.KINDS),
        help=f"synthetic anomaly kinds (default {','.join(synthetic.KINDS)})",
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument(
        "--cache",
        default=DEFAULT_CACHE,
        help="JSON file of per-run results to reuse; '' for none (default benchmarks/.cache/"
        "outliers.json; the synthetic sets are kept in a folder 'synthetic' beside it)",
    )
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
    parser.add_argument("--quiet", action="store_true", help="print only the summaries")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    seeds = [int(s) for s in args.seeds.split(",")]
    detectors = [d.strip() for d in args.detectors.split(",") if d.strip()]
    unknown = set(detectors) - {"skae", *PEERS}
    if unknown:
        parser.error(f"unknown detectors {sorted(unknown)}; choose from skae,{','.join(PEERS)}")
    tables = [t.strip() for t in args.tables.split(",") if t.strip()] + ["large"] * args.large
    if set(tables) - set(TABLES):
        parser.error(f"unknown tables {sorted(set(tables) - set(TABLES))}; choose from {TABLES}")
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if set(kinds) - set(synthetic.KINDS):
        parser.error(f"unknown kinds {sorted(set(kinds) - set(synthetic.KINDS))}")
    skae_params = json.loads(args.skae_params)
    skae_name = args.name or ("skae" if not skae_params else "skae" + json.dumps(skae_params))
    skae_key = skae_version(skae_params)
    all_paths = data_paths(args.data_dir)
    paths = all_paths
    if args.datasets:
        wanted = set(args.datasets.split(","))
        paths = [p for p in all_paths if stem(p) in wanted]
    if not paths:
        parser.error(f"no (matching) .npz files in {args.data_dir}")
    cache = Cache(args.cache or None)
    syn_dir = (
        os.path.join(os.path.dirname(os.path.abspath(args.cache)), "synthetic")
        if args.cache
        else None
    )
    columns = [skae_name if d == "skae" else d for d in detectors]
    names = [stem(p) for p in paths]
    seeds_text = ",".join(map(str, seeds))
    common = dict(
        detectors=detectors,
        columns=columns,
        seeds=seeds,
        cache=cache,
        skae_key=skae_key,
        skae_params=skae_params,
        quiet=args.quiet,
    )
    out = {}

    if "real" in tables:
        tasks = [(stem(p), stem(p), lambda p=p: load(p)) for p in paths]
        out["real"] = results = evaluate(tasks, **common)
        report_real(results, columns, names, halves(all_paths), seeds_text, args.quiet)
        report_flagging(results, columns, detectors, names)

    if "synthetic" in tables:
        made = {}

        def get_data(path, kind):
            if path not in made:
                made.clear()  # one real set's synthetic sets in memory at a time
                made[path] = synthetic_sets(path, syn_dir)
            return made[path][kind]

        version = synthetic.version()
        tasks = [
            (
                f"{k}/{stem(p)}",
                f"synthetic-{version}/{k}/{stem(p)}",
                lambda p=p, k=k: get_data(p, k),
            )
            for p in paths
            for k in kinds
        ]
        out["synthetic"] = results = evaluate(tasks, **common)
        report_synthetic(results, columns, kinds, names, seeds_text, args.quiet)

    if "large" in tables:
        out["large"] = large_table(paths, detectors, columns, skae_params, seeds[0])
    return out


if __name__ == "__main__":
    main()
