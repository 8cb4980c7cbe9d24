"""Synthetic anomalies of ADBench's four kinds, made from a real set's normal rows.

ADBench (Han et al. 2022, section 3.3, and its ``data_generator.py``) fits a
generative model to the normal rows (``y == 0``) of a real set, samples as
many synthetic normal rows as it was fitted on, and plants anomalies of one
kind:

- ``local``: normals from a Gaussian mixture (full covariances, 1-9
  components chosen by BIC); anomalies from the same mixture with every
  covariance multiplied by ``ALPHA`` = 5.
- ``cluster``: the same mixture with every mean multiplied by ``ALPHA``.
- ``global``: normals from the mixture; anomalies uniform per feature between
  the synthetic normals' ``min * 1.1`` and ``max * 1.1`` (ADBench's rule taken
  literally: for a positive minimum the lower bound lies above it).
- ``dependency``: normals from a Gaussian copula on the rank-transformed
  features with the real normals' empirical marginals (ADBench fits a vine
  copula); anomalies draw every feature independently from the same
  marginals, so each value is plausible alone and the row is not.  ADBench
  draws them from a 1-D Gaussian KDE per feature, which also gives binary or
  integer features values the normals never take; the marginals themselves
  keep the anomalies different from the normals in their dependence only.

Caps, so the table runs in minutes on two cores (fixed before any result):

- at most ``MAX_NORMALS`` = 5,000 normal rows, a random subset (seed from the
  set's name) when the set has more; as many synthetic normals are drawn;
- features constant on those rows are dropped; of the rest at most
  ``MAX_FEATURES`` = 50, a random subset (seed from the set's name, original
  order kept), for every kind.  ADBench caps only the copula at 50; a
  full-covariance mixture on InternetAds' 1,308 features takes minutes per
  component count;
- anomalies: the real set's outlier share of the synthetic normals, but at
  least 1 % of them and at least ``MIN_ANOMALIES`` = 10 rows (smtp's 0.03 %
  would leave one or two anomalies per test split).

Everything is deterministic: the mixture of a set is fitted with a seed from
the set's name (shared by ``local``, ``cluster`` and ``global``), and each
``(set, kind)`` samples with its own seed.  ``version()`` hashes this file, so
cached results of an older generator are not reused.
"""

import copy
import hashlib
import warnings
import zlib

import numpy as np
from scipy.special import ndtr, ndtri
from scipy.stats import rankdata
from sklearn.mixture import GaussianMixture

KINDS = ("local", "global", "dependency", "cluster")
MAX_NORMALS = 5_000
MAX_FEATURES = 50
MIN_ANOMALY_SHARE = 0.01
MIN_ANOMALIES = 10
ALPHA = 5.0
PERCENTAGE = 0.1
N_COMPONENTS = range(1, 10)


def version():
    """Hash of this file: part of the cache key of every synthetic result."""
    with open(__file__, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


def seed_of(*parts):
    """A fixed 31-bit seed from names, the same in every process and platform."""
    return zlib.crc32("|".join(parts).encode()) & 0x7FFFFFFF


def normal_rows(X, y, name):
    """The real normal rows the generators are fitted on, and the anomaly count.

    Returns ``(X_normal, n_anomalies)`` after the row and feature caps.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(int).ravel()
    rng = np.random.default_rng(seed_of(name, "rows"))
    X_normal = X[y == 0]
    if len(X_normal) > MAX_NORMALS:
        X_normal = X_normal[np.sort(rng.choice(len(X_normal), MAX_NORMALS, replace=False))]
    varying = np.flatnonzero(np.ptp(X_normal, axis=0) > 0)
    if len(varying) > MAX_FEATURES:
        varying = np.sort(rng.choice(varying, MAX_FEATURES, replace=False))
    X_normal = X_normal[:, varying]
    share = max(float(np.mean(y == 1)), MIN_ANOMALY_SHARE)
    n_anomalies = max(round(share * len(X_normal)), MIN_ANOMALIES)
    return X_normal, n_anomalies


def fit_mixture(X_normal, seed):
    """ADBench's mixture: full covariances, 1-9 components, the lowest BIC."""
    best, best_bic = None, np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning on a few sets
        for n in N_COMPONENTS:
            if n > len(X_normal):
                break
            gm = GaussianMixture(n_components=n, random_state=seed).fit(X_normal)
            bic = gm.bic(X_normal)
            if bic < best_bic:
                best, best_bic = gm, bic
    return best


def _sample(gm, n, seed):
    # GaussianMixture.sample restarts an int random_state on every call, which
    # would pair each anomaly with a normal row; give it a running stream.
    gm = copy.copy(gm)
    gm.random_state = np.random.RandomState(seed)
    return gm.sample(n)[0]


def _marginal(X_normal, u):
    """Each column's empirical inverse CDF (observed values only) at ``u``."""
    out = np.empty_like(u)
    for j in range(X_normal.shape[1]):
        out[:, j] = np.quantile(X_normal[:, j], u[:, j], method="inverted_cdf")
    return out


def _copula(X_normal, n_normal, n_anomalies, rng):
    n, d = X_normal.shape
    scores = ndtri(rankdata(X_normal, axis=0) / (n + 1))  # normal scores, ties averaged
    corr = np.atleast_2d(np.corrcoef(scores, rowvar=False))
    z = rng.multivariate_normal(np.zeros(d), corr, size=n_normal, method="eigh")
    normals = _marginal(X_normal, np.clip(ndtr(z), 0.0, 1.0))
    anomalies = _marginal(X_normal, rng.uniform(size=(n_anomalies, d)))
    return normals, anomalies


def make(X, y, name, kinds=KINDS):
    """Synthetic data sets of the given kinds from the normal rows of ``(X, y)``.

    Parameters
    ----------
    X, y : arrays
        A real set, ``y == 1`` for its outliers (only the share is used).
    name : str
        The set's name; every seed derives from it.
    kinds : iterable of str
        Some of ``KINDS``.

    Returns
    -------
    dict
        ``kind -> (X_synthetic, y_synthetic)``, rows shuffled, ``y == 1`` for
        the planted anomalies.
    """
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}; choose from {KINDS}")
    X_normal, n_anomalies = normal_rows(X, y, name)
    n_normal = len(X_normal)
    gm = None
    out = {}
    for kind in kinds:
        seed = seed_of(name, kind)
        rng = np.random.default_rng(seed)
        if kind == "dependency":
            normals, anomalies = _copula(X_normal, n_normal, n_anomalies, rng)
        else:
            if gm is None:
                gm = fit_mixture(X_normal, seed_of(name, "mixture"))
            normals = _sample(gm, n_normal, seed)
            if kind == "local":
                shifted = copy.deepcopy(gm)
                shifted.covariances_ = ALPHA * gm.covariances_
                anomalies = _sample(shifted, n_anomalies, seed + 1)
            elif kind == "cluster":
                shifted = copy.deepcopy(gm)
                shifted.means_ = ALPHA * gm.means_
                anomalies = _sample(shifted, n_anomalies, seed + 1)
            else:  # global
                low = normals.min(axis=0) * (1 + PERCENTAGE)
                high = normals.max(axis=0) * (1 + PERCENTAGE)
                anomalies = rng.uniform(low, high, size=(n_anomalies, len(low)))
        X_syn = np.vstack([normals, anomalies])
        y_syn = np.r_[np.zeros(len(normals), dtype=int), np.ones(len(anomalies), dtype=int)]
        order = rng.permutation(len(y_syn))
        out[kind] = (X_syn[order], y_syn[order])
    return out
