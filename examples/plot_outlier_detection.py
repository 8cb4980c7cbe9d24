"""
Outlier detection and explanations on breast cancer data
========================================================

ADBench's ``breastw`` set, like this one, treats malignant tumours as the rare
class among benign ones. We keep all 357 benign rows and 20 malignant ones,
fit :class:`~skae.AutoencoderOutlierDetector` without labels, and look at
the scores, the threshold, and which features make the top outliers abnormal.
"""

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score

from skae import AutoencoderOutlierDetector

warnings.simplefilter("ignore", ConvergenceWarning)
data = load_breast_cancer()
rng = np.random.RandomState(0)
rows = np.r_[
    np.flatnonzero(data.target == 1),
    rng.choice(np.flatnonzero(data.target == 0), size=20, replace=False),
]
X, malignant = data.data[rows], data.target[rows] == 0

det = AutoencoderOutlierDetector(contamination=0.05, random_state=0).fit(X)
scores = det.score_samples(X)
forest = IsolationForest(random_state=0).fit(X)
print("ROC-AUC of the scores against the malignant labels (defaults, one split):")
print(f"  AutoencoderOutlierDetector {roc_auc_score(malignant, -scores):.3f}")
print(f"  IsolationForest            {roc_auc_score(malignant, -forest.score_samples(X)):.3f}")

fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5), width_ratios=[1, 1.6])
bins = np.linspace(np.log10(-scores).min(), np.log10(-scores).max(), 40)
left.hist(np.log10(-scores[~malignant]), bins=bins, alpha=0.7, label="benign")
left.hist(np.log10(-scores[malignant]), bins=bins, alpha=0.7, label="malignant")
left.axvline(np.log10(-det.offset_), color="k", linestyle="--", label="threshold (offset_)")
left.set_xlabel("log10 outlier score (minus score_samples)")
left.set_ylabel("rows")
left.legend()

top = np.argsort(scores)[:10]
errors = det.feature_errors(X[top])
image = right.imshow(np.log10(errors + 1e-3), aspect="auto", cmap="magma")
right.set_yticks(range(len(top)), [f"row {i} ({'M' if malignant[i] else 'B'})" for i in top])
right.set_xticks(range(X.shape[1]), data.feature_names, rotation=90, fontsize=7)
right.set_title("feature_errors of the 10 most abnormal rows (log10)")
fig.colorbar(image, ax=right)
fig.tight_layout()
fig.savefig("outlier_detection.png", dpi=100)
print("saved outlier_detection.png")
