"""Fuzzing: whatever the data and parameters, outputs are finite or the error is clear
(arrays, and DataFrames with categorical columns, holes and unseen categories).

Every example either raises ``ValueError`` or ``TypeError`` with a message,
or fits and gives finite ``score_samples``, ``transform`` and ``predict``.
inf in the training rows must be refused by ``fit``, and in the scored rows
by every scoring method; clean rows must always score.  NaN is a missing
value: rows with holes score like clean rows, and only a row with every
entry missing may be refused.
"""

import math
import re

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skae import AutoencoderOutlierDetector, AutoencoderTransformer
from skae._base import OPTIMIZERS
from skae._losses import LOSSES
from skae._networks import ACTIVATIONS

DTYPES = ["float64", "float32", "int64", "int32", "uint8", "bool"]


@st.composite
def matrices(draw):
    """A small matrix: Gaussian at any scale, or arbitrary values of its dtype."""
    shape = (draw(st.integers(1, 30)), draw(st.integers(1, 6)))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    if draw(st.booleans()):
        rng = np.random.RandomState(draw(st.integers(0, 2**31 - 1)))
        top = {"f": 30 if dtype == np.float32 else 150, "i": 8, "u": 1, "b": 0}[dtype.kind]
        scale = 10.0 ** draw(st.integers(-top, top))
        X = rng.normal(size=shape) * scale + draw(st.sampled_from([0.0, 1.0, -5.0])) * scale
        if dtype.kind == "b":
            X = X > 0
        elif dtype.kind in "iu":
            X = np.clip(np.rint(X), np.iinfo(dtype).min, np.iinfo(dtype).max)
        X = X.astype(dtype)
    elif dtype.kind == "f":
        elements = st.floats(allow_nan=False, allow_infinity=False, width=8 * dtype.itemsize)
        X = draw(hnp.arrays(dtype, shape, elements=elements))
    else:
        X = draw(hnp.arrays(dtype, shape))
    for column in draw(st.sets(st.integers(0, shape[1] - 1), max_size=2)):
        X[:, column] = X[0, column]  # constant columns
    return X


@st.composite
def cases(draw):
    X = draw(matrices())
    bad = where = None
    X_bad = X
    if X.dtype.kind == "f" and draw(st.booleans()):
        where = draw(st.sampled_from(["fit", "score"]))
        X_bad = X.copy()
        value = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        for _ in range(draw(st.integers(1, 3))):
            X_bad[draw(st.integers(0, X.shape[0] - 1)), draw(st.integers(0, X.shape[1] - 1))] = (
                value
            )
        bad = None if np.isnan(value) else where  # NaN is a hole, not an error
    params = {
        "loss": draw(st.sampled_from(sorted(LOSSES))),
        "activation": draw(st.sampled_from(sorted(ACTIVATIONS))),
        "optimizer": draw(st.sampled_from(sorted(OPTIMIZERS))),
        "n_components": draw(st.integers(1, 8)),
        "batch_size": draw(st.integers(1, 64)),
        "learning_rate_init": 10 ** draw(st.floats(-7, math.log10(9.99))),
        "scaling": draw(st.sampled_from(["auto", "standard", "minmax", None])),
        "max_iter": draw(st.integers(1, 2)),
        "dropout": draw(st.sampled_from([0.0, 0.5])),
    }
    cls = draw(st.sampled_from([AutoencoderTransformer, AutoencoderOutlierDetector]))
    if cls is AutoencoderOutlierDetector:
        params["contamination"] = draw(st.sampled_from(["auto", 0.5, 0.1, 1e-3]))
        if draw(st.booleans()):
            params["n_components"] = None
    X_fit = X_bad if where == "fit" else X
    X_score = X_bad if where == "score" else X
    return cls, params, X_fit, X_score, bad


def assert_clear(exc):
    assert isinstance(exc, (ValueError, TypeError))
    assert str(exc).strip(), f"{type(exc).__name__} without a message"


def fits_or_refuses_clearly(est, X):
    """Fit ``est``; a refusal must be a clear error.  Whether it fitted."""
    try:
        est.fit(X)
    except (ValueError, TypeError) as exc:
        assert_clear(exc)
        event(f"fit refused: {re.sub(r'[-+.e0-9]{2,}', '#', str(exc))[:48]}")
        return False
    event("fitted")
    return True


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=cases())
def test_outputs_are_finite_or_the_error_is_clear(case):
    cls, params, X_fit, X_score, bad = case
    est = cls(hidden_layer_sizes=(3,), random_state=0, **params)
    if not fits_or_refuses_clearly(est, X_fit):
        return
    assert bad != "fit", "fit accepted inf"
    assert est.n_iter_ == len(est.loss_curve_)
    assert np.all(np.isfinite(est.loss_curve_))
    for method in ("score_samples", "transform", "predict"):
        if not hasattr(est, method):
            continue
        try:
            out = getattr(est, method)(X_score)
        except (ValueError, TypeError) as exc:
            empty_rows = np.isnan(X_score).all(axis=1).any() if X_score.dtype.kind == "f" else False
            assert bad == "score" or empty_rows, f"{method} refused clean rows: {exc}"
            assert_clear(exc)
            continue
        assert bad != "score", f"{method} accepted inf"
        assert out.shape[0] == X_score.shape[0]
        assert np.all(np.isfinite(out)), method


@st.composite
def tables(draw):
    """A small DataFrame: numeric columns at any scale and categorical ones of
    any dtype pandas gives them, with holes, and rows to score that may hold
    categories never seen in training."""
    n_rows = draw(st.integers(1, 25))
    rng = np.random.RandomState(draw(st.integers(0, 2**31 - 1)))
    columns = {}
    for j in range(draw(st.integers(0, 3))):
        scale = 10.0 ** draw(st.integers(-100, 100))
        columns[f"x{j}"] = rng.normal(size=n_rows) * scale
    for j in range(draw(st.integers(1, 3))):
        levels = [f"l{i}" for i in range(draw(st.integers(1, 6)))]
        values = rng.choice(levels, size=n_rows).astype(object)
        dtype = draw(st.sampled_from(["category", "object", "string"]))
        columns[f"c{j}"] = pd.Series(values, dtype=dtype)
    frame = pd.DataFrame(columns)
    for _ in range(draw(st.integers(0, 4))):  # holes
        frame.iat[draw(st.integers(0, n_rows - 1)), draw(st.integers(0, frame.shape[1] - 1))] = None
    score = frame.copy()
    if draw(st.booleans()):  # a category unseen in training
        name = draw(st.sampled_from([c for c in frame.columns if c.startswith("c")]))
        values = score[name].astype(object)
        values.iat[0] = "never seen"
        score[name] = values
    return frame, score


@settings(max_examples=60, deadline=None, database=None)
@given(
    data=tables(),
    cls=st.sampled_from([AutoencoderTransformer, AutoencoderOutlierDetector]),
    loss=st.sampled_from(sorted(LOSSES)),
    max_categories=st.sampled_from([None, 2, 64]),
)
def test_tables_give_finite_outputs_or_a_clear_error(data, cls, loss, max_categories):
    frame, score = data
    est = cls(
        hidden_layer_sizes=(3,),
        max_iter=2,
        loss=loss,
        max_categories=max_categories,
        random_state=0,
    )
    if not fits_or_refuses_clearly(est, frame):
        return
    assert np.all(np.isfinite(est.loss_curve_))
    assert est.is_categorical_.sum() == sum(c.startswith("c") for c in frame.columns)
    every_entry_missing = score.isna().all(axis=1).any()
    for method in ("score_samples", "transform", "predict"):
        if not hasattr(est, method):
            continue
        try:
            out = getattr(est, method)(score)
        except ValueError as exc:
            assert every_entry_missing, f"{method} refused rows with entries: {exc}"
            assert_clear(exc)
            continue
        assert out.shape[0] == len(score)
        assert np.all(np.isfinite(out)), method
    if not every_entry_missing and hasattr(est, "inverse_transform"):
        back = est.inverse_transform(est.transform(score))
        assert back.shape == score.shape
