"""AutoencoderTransformer against PCA on data sets that ship with scikit-learn.

Protocol: standardize with the training rows, 70/30 split (seed 0), and the
mean squared error of ``inverse_transform(transform(X_test))`` in
standardized units, for k in (2, 4, 8, 16) where k < n_features.  The codes
are also judged by a downstream model: 3-fold cross-validated accuracy of
``LogisticRegression`` (classification) or R^2 of ``Ridge`` (regression) on
the k-dimensional codes, with the reducer fitted inside each fold.

Run: python benchmarks/bench_reduction.py [--datasets digits,wine] [--k 2,8]
"""

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer

DATASETS = {
    "digits": (load_digits, "classification"),
    "breast_cancer": (load_breast_cancer, "classification"),
    "wine": (load_wine, "classification"),
    "diabetes": (load_diabetes, "regression"),
}


def reconstruction_error(reducer, X_test):
    return float(np.mean((reducer.inverse_transform(reducer.transform(X_test)) - X_test) ** 2))


def downstream(make_reducer, X, y, task):
    model = LogisticRegression(max_iter=2000) if task == "classification" else Ridge()
    pipe = make_pipeline(StandardScaler(), make_reducer(), model)
    return float(cross_val_score(pipe, X, y, cv=3).mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--k", default="2,4,8,16")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", ConvergenceWarning)

    print(
        f"{'data set':<14} {'k':>3} {'PCA err':>8} {'AE err':>8} {'ratio':>6} "
        f"{'PCA down':>9} {'AE down':>8} {'AE fit s':>9}"
    )
    for name in args.datasets.split(","):
        loader, task = DATASETS[name]
        X, y = loader(return_X_y=True)
        X_train, X_test = train_test_split(X, test_size=0.3, random_state=args.seed)
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        for k in (int(v) for v in args.k.split(",")):
            if k >= X.shape[1]:
                continue
            pca = PCA(n_components=k).fit(X_train)
            tic = time.perf_counter()
            ae = AutoencoderTransformer(n_components=k, random_state=args.seed).fit(X_train)
            fit_seconds = time.perf_counter() - tic
            pca_err, ae_err = reconstruction_error(pca, X_test), reconstruction_error(ae, X_test)
            pca_down = downstream(lambda k=k: PCA(n_components=k), X, y, task)
            ae_down = downstream(
                lambda k=k: AutoencoderTransformer(n_components=k, random_state=args.seed),
                X,
                y,
                task,
            )
            print(
                f"{name:<14} {k:>3} {pca_err:>8.4f} {ae_err:>8.4f} {ae_err / pca_err:>6.3f} "
                f"{pca_down:>9.4f} {ae_down:>8.4f} {fit_seconds:>9.2f}",
                flush=True,
            )
    print(
        "err: test MSE in standardized units; down: 3-fold accuracy (LogisticRegression) or "
        "R^2 (Ridge) on the codes; AE fit s: seconds to fit the default transformer."
    )


if __name__ == "__main__":
    main()
