"""
Your own autoencoder in a Pipeline and a grid search
====================================================

Most autoencoders are written the way tutorials write them: an ``encoder``
and a ``decoder`` (``nn.Sequential``) and ``forward = decoder(encoder(x))``.
Pass such a class as ``module`` and skae gives it scikit-learn's API: here
it reduces the 64 pixels of the handwritten digits to 8 numbers inside a
``Pipeline`` with a classifier, and ``GridSearchCV`` chooses its width
through ``module_params``. skae passes ``n_features`` and ``n_components``
because the constructor takes them.
"""

import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from torch import nn

from skae import AutoencoderTransformer

warnings.simplefilter("ignore", ConvergenceWarning)


class TutorialAutoencoder(nn.Module):
    def __init__(self, n_features, n_components=8, width=64):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_features, width), nn.ReLU(), nn.Linear(width, n_components)
        )
        self.decoder = nn.Sequential(
            nn.Linear(n_components, width), nn.ReLU(), nn.Linear(width, n_features)
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))


X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

pipe = make_pipeline(
    AutoencoderTransformer(module=TutorialAutoencoder, n_components=8, max_iter=30, random_state=0),
    LogisticRegression(max_iter=2000),
)
grid = {"autoencodertransformer__module_params": [{"width": 16}, {"width": 64}, {"width": 128}]}
search = GridSearchCV(pipe, grid, cv=3).fit(X_train, y_train)
print("best:", search.best_params_["autoencodertransformer__module_params"])
for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
    print(f"  {params['autoencodertransformer__module_params']}: CV accuracy {score:.3f}")
print(f"test accuracy of the refitted pipeline: {search.score(X_test, y_test):.3f}")
