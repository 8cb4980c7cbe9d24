"""skae in two minutes, on real data that ships with scikit-learn.

1. Dimensionality reduction: AutoencoderTransformer against PCA on the
   handwritten digits (8x8 images, 64 features), on held-out rows.
2. Outlier detection: AutoencoderOutlierDetector against IsolationForest on
   the Wisconsin breast cancer data, with malignant tumours as the rare class,
   plus the features that make the top outlier abnormal.

Run: python examples/demo.py
"""

import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderOutlierDetector, AutoencoderTransformer

warnings.simplefilter("ignore", ConvergenceWarning)


def reduction_demo(k=8):
    X, y = load_digits(return_X_y=True)
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

    tic = time.perf_counter()
    ae = AutoencoderTransformer(n_components=k, random_state=0).fit(X_train)
    seconds = time.perf_counter() - tic
    pca = PCA(n_components=k).fit(X_train)

    def error(model):
        return np.mean((model.inverse_transform(model.transform(X_test)) - X_test) ** 2)

    def accuracy(reducer):
        pipe = make_pipeline(StandardScaler(), reducer, LogisticRegression(max_iter=2000))
        return cross_val_score(pipe, X, y, cv=3).mean()

    print(f"Digits, {k} components, test reconstruction MSE (standardized units):")
    print(f"  PCA                     {error(pca):.3f}")
    print(f"  AutoencoderTransformer  {error(ae):.3f}   (fit in {seconds:.1f} s)")
    print("Digits, logistic regression on the codes, 3-fold accuracy:")
    ae_accuracy = accuracy(AutoencoderTransformer(n_components=k, random_state=0))
    print(f"  PCA                     {accuracy(PCA(n_components=k)):.3f}")
    print(f"  AutoencoderTransformer  {ae_accuracy:.3f}")


def detection_demo():
    data = load_breast_cancer()
    X, y = data.data, data.target  # 0 = malignant, 1 = benign
    rng = np.random.RandomState(0)
    benign = np.flatnonzero(y == 1)
    malignant = rng.choice(np.flatnonzero(y == 0), size=20, replace=False)
    rows = np.r_[benign, malignant]
    X, is_outlier = X[rows], (y[rows] == 0).astype(int)

    det = AutoencoderOutlierDetector(contamination=0.05, random_state=0).fit(X)
    forest = IsolationForest(random_state=0).fit(X)
    print("\nBreast cancer, 357 benign + 20 malignant rows, ROC-AUC of the outlier scores:")
    for name, model in [("IsolationForest", forest), ("AutoencoderOutlierDetector", det)]:
        print(f"  {name:<27} {roc_auc_score(is_outlier, -model.score_samples(X)):.3f}")
    flagged = det.predict(X) == -1
    print(f"  flagged {flagged.sum()} rows, {is_outlier[flagged].sum()} of them malignant")

    errors = det.feature_errors(X)
    top = int(np.argmin(det.score_samples(X)))
    worst = np.argsort(errors[top])[::-1][:3]
    names = ", ".join(f"{data.feature_names[j]} ({errors[top, j]:.1f})" for j in worst)
    kind = "malignant" if is_outlier[top] else "benign"
    print(f"  most abnormal row: {kind}; worst features: {names}")


if __name__ == "__main__":
    reduction_demo()
    detection_demo()
