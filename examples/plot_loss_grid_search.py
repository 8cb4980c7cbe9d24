"""
Choosing the loss with a grid search
====================================

``GridSearchCV`` without ``scoring`` ranks candidates by ``score(X)``: minus
the mean reconstruction error in standardized units, which is the same unit
whatever the training loss. That makes the losses comparable, so the search
can pick one. Here it compares the six losses on the wine data.
"""

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer

warnings.simplefilter("ignore", ConvergenceWarning)
X, _ = load_wine(return_X_y=True)
losses = ["mse", "bce", "mae", "huber", "sparse", "denoise"]
pipe = make_pipeline(StandardScaler(), AutoencoderTransformer(n_components=2, random_state=0))
search = GridSearchCV(pipe, {"autoencodertransformer__loss": losses}, cv=3, n_jobs=2)
search.fit(X)

results = search.cv_results_
errors = -results["mean_test_score"]
order = np.argsort(errors)
fig, ax = plt.subplots(figsize=(7, 4))
ax.bar(
    [losses[i] for i in order],
    errors[order],
    yerr=results["std_test_score"][order],
    color=["tab:green" if i == order[0] else "tab:blue" for i in range(len(order))],
)
ax.set_ylabel("held-out reconstruction error\n(standardized MSE, lower is better)")
ax.set_title(
    f"Wine, 2 components: best loss = {search.best_params_['autoencodertransformer__loss']}"
)
fig.tight_layout()
fig.savefig("loss_grid_search.png", dpi=100)
print(dict(zip(losses, np.round(errors, 3))))
print("saved loss_grid_search.png")
