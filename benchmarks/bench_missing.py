"""Outlier detection on data with missing values: skae's native holes against
skae behind ``SimpleImputer`` and against IsolationForest's native NaN.

Run ``python benchmarks/bench_missing.py DATA_DIR`` (``--help`` for options)
on the folder of ADBench ``.npz`` files that ``bench_outliers.py`` reads.

Protocol: that of ``bench_outliers.py`` (its ``load`` and ``split``):
``X`` as float64, sets over 20,000 rows subsampled to 20,000 once
(stratified, seed 0), for each seed a stratified 60/40 train/test split,
detectors fitted on the training rows without labels with
``random_state`` = the seed, ROC-AUC of the test rows' outlier scores.

Holes: for a missing fraction ``f`` (``--fractions``, default 10 % and
30 %) and a seed, every entry of the subsampled set, training and test rows
alike, is removed (set to NaN) independently with probability ``f``
(missing completely at random; generator seeded by the seed, ``f`` and the
set's name, so every detector sees the same holes).  A row that lost every
entry gets one back, drawn with the same generator.

Columns of the tables:

- ``complete``: skae (``AutoencoderOutlierDetector``, defaults) on the data
  without holes, the reference;
- ``native``: skae on the data with holes;
- ``imputer``: ``make_pipeline(SimpleImputer(), AutoencoderOutlierDetector())``
  (column means, then skae) on the same holes;
- ``iforest``: ``IsolationForest`` (defaults; scikit-learn >= 1.9 accepts
  NaN) on the same holes.

Results are kept per ``(column, fraction, set, seed)`` in ``--cache``
(JSON); skae rows are keyed by a hash of skae's source files, so they are
recomputed whenever skae changes.
"""

import argparse
import os
import sys
import time
import warnings
import zlib

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_outliers import Cache, data_paths, load, skae_version, split, stem  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CACHE = os.path.join(HERE, ".cache", "missing.json")
COLUMNS = ["complete", "native", "imputer", "iforest"]
SKAE_COLUMNS = {"complete", "native", "imputer"}


def remove_entries(X, fraction, seed, name):
    """``X`` with each entry set to NaN with probability ``fraction``; a row
    left without any entry gets one back at random."""
    rng = np.random.default_rng([seed, round(1000 * fraction), zlib.crc32(name.encode())])
    holes = rng.random(X.shape) < fraction
    empty = np.flatnonzero(holes.all(axis=1))
    holes[empty, rng.integers(0, X.shape[1], size=empty.size)] = False
    X = X.copy()
    X[holes] = np.nan
    return X


def build(column, seed, skae_params):
    from sklearn.ensemble import IsolationForest
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    from skae import AutoencoderOutlierDetector

    if column == "iforest":
        return IsolationForest(random_state=seed)
    detector = AutoencoderOutlierDetector(random_state=seed, **skae_params)
    if column == "imputer":
        return make_pipeline(SimpleImputer(), detector)
    return detector


def measure(column, X_train, X_test, y_test, seed, skae_params):
    model = build(column, seed, skae_params)
    tic = time.perf_counter()
    scores = -model.fit(X_train).score_samples(X_test)
    seconds = time.perf_counter() - tic
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=np.inf)
    return {
        "roc_auc": float(roc_auc_score(y_test, scores)),
        "seconds": seconds,
        "missing": float(np.mean(np.isnan(X_train))),
    }


def evaluate(paths, fractions, seeds, cache, skae_key, skae_params, quiet):
    """Results ``(column, fraction, set) -> [row per seed]``."""
    results = {}
    for path in paths:
        name, data = stem(path), None
        for fraction in fractions:
            for seed in seeds:
                parts = {}
                for column in COLUMNS:
                    # The complete-data reference does not depend on the fraction.
                    level = 0.0 if column == "complete" else fraction
                    key = f"{column}|{level}|{name}|{seed}"
                    key += f"|{skae_key}" if column in SKAE_COLUMNS else ""
                    row = cache.get(key)
                    if row is None:
                        if data is None:
                            data = load(path)
                        if level not in parts:
                            X, y = data
                            X = remove_entries(X, level, seed, name) if level else X
                            parts[level] = split(X, y, seed)
                        X_train, X_test, _, y_test = parts[level]
                        row = measure(column, X_train, X_test, y_test, seed, skae_params)
                        cache.put(key, row)
                    results.setdefault((column, fraction, name), []).append(row)
            if not quiet:
                cells = "  ".join(f"{c}={mean(results, c, fraction, [name]):.1f}" for c in COLUMNS)
                print(f"# {name} {fraction:.0%}: {cells}", file=sys.stderr, flush=True)
    return results


def mean(results, column, fraction, names, metric="roc_auc"):
    """x 100, mean over ``names`` of the mean over seeds."""
    return 100 * np.mean(
        [np.mean([r[metric] for r in results[column, fraction, n]]) for n in names]
    )


def report(results, fractions, names, seeds_text, quiet):
    if not quiet:
        for fraction in fractions:
            print(f"\nROC-AUC x 100 with {fraction:.0%} of entries missing, seeds {seeds_text}")
            width = max(len(n) for n in [*names, "mean"])
            print(f"{'data set':<{width}}  " + "  ".join(f"{c:>8}" for c in COLUMNS))
            for n in names:
                vals = [mean(results, c, fraction, [n]) for c in COLUMNS]
                print(f"{n:<{width}}  " + "  ".join(f"{v:>8.1f}" for v in vals))
    print(f"\nMean ROC-AUC x 100 over {len(names)} sets, seeds {seeds_text}")
    header = ["missing", *COLUMNS, "native - imputer", "native - complete", "seconds (native)"]
    rows = []
    for fraction in fractions:
        vals = {c: mean(results, c, fraction, names) for c in COLUMNS}
        secs = sum(r["seconds"] for n in names for r in results["native", fraction, n])
        rows.append(
            [
                f"{fraction:.0%}",
                *(f"{vals[c]:.2f}" for c in COLUMNS),
                f"{vals['native'] - vals['imputer']:+.2f}",
                f"{vals['native'] - vals['complete']:+.2f}",
                f"{secs:.0f}",
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for r in [header, *rows]:
        print("  ".join(f"{str(x):>{w}}" for x, w in zip(r, widths)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", help="folder of .npz files with keys X and y")
    parser.add_argument(
        "--fractions", default="0.1,0.3", help="missing fractions (default 0.1,0.3)"
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--datasets", default=None, help="comma-separated subset of file stems")
    parser.add_argument(
        "--cache",
        default=DEFAULT_CACHE,
        help="JSON file of per-run results to reuse; '' for none "
        "(default benchmarks/.cache/missing.json)",
    )
    parser.add_argument(
        "--skae-params",
        default="{}",
        help="JSON of non-default skae parameters, e.g. '{\"n_estimators\": 1}'",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)

    import json

    import torch

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    fractions = [float(f) for f in args.fractions.split(",")]
    if not all(0 < f < 1 for f in fractions):
        parser.error(f"--fractions must lie in (0, 1), got {args.fractions}")
    seeds = [int(s) for s in args.seeds.split(",")]
    skae_params = json.loads(args.skae_params)
    paths = data_paths(args.data_dir)
    if args.datasets:
        wanted = set(args.datasets.split(","))
        paths = [p for p in paths if stem(p) in wanted]
    if not paths:
        parser.error(f"no (matching) .npz files in {args.data_dir}")
    cache = Cache(args.cache or None)
    results = evaluate(
        paths, fractions, seeds, cache, skae_version(skae_params), skae_params, args.quiet
    )
    report(results, fractions, [stem(p) for p in paths], ",".join(map(str, seeds)), args.quiet)
    return results


if __name__ == "__main__":
    main()
