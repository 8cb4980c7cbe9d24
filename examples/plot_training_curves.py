"""
Training curves and early stopping
==================================

With ``early_stopping=True`` the estimator holds out ``validation_fraction``
of the rows, stops when their loss has not improved by ``tol`` for
``n_iter_no_change`` epochs, and keeps the weights of the best epoch.
``loss_curve_`` and ``validation_loss_curve_`` record both losses per epoch.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from skae import AutoencoderTransformer

X, _ = load_digits(return_X_y=True)
ae = AutoencoderTransformer(
    n_components=8,
    hidden_layer_sizes=(256,),
    early_stopping=True,
    validation_fraction=0.2,
    n_iter_no_change=15,
    max_iter=500,
    learning_rate_init=3e-3,
    random_state=0,
).fit(X)
best = int(np.argmin(ae.validation_loss_curve_))
print(f"stopped after {ae.n_iter_} epochs; best validation epoch {best + 1}")

fig, ax = plt.subplots(figsize=(7, 4))
epochs = np.arange(1, ae.n_iter_ + 1)
ax.plot(epochs, ae.loss_curve_, label="training loss")
ax.plot(epochs, ae.validation_loss_curve_, label="validation loss")
ax.axvline(best + 1, color="k", linestyle="--", label="best epoch (weights kept)")
ax.set_xlabel("epoch")
ax.set_ylabel("MSE (scaled units)")
ax.set_yscale("log")
ax.legend()
fig.tight_layout()
fig.savefig("training_curves.png", dpi=100)
print("saved training_curves.png")
