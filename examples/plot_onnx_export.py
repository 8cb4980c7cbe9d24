"""
Export an outlier detection Pipeline to ONNX
============================================

A Pipeline of ``StandardScaler`` and :class:`~skae.AutoencoderOutlierDetector`
becomes one ONNX file, which ONNX Runtime scores without PyTorch or
scikit-learn. We export it, score the rows in ONNX Runtime, check that the
scores equal the Pipeline's own, and time both on one thread. Needs the
``onnx`` extra: ``pip install "skae[onnx]"``.
"""

import time
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as ort
import torch
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skae.onnx  # noqa: F401  (registers skae's converters with skl2onnx)
from skae import AutoencoderOutlierDetector

warnings.simplefilter("ignore", ConvergenceWarning)
data = load_breast_cancer()
X = data.data.astype(np.float32)

pipe = make_pipeline(StandardScaler(), AutoencoderOutlierDetector(random_state=0)).fit(X)

# %%
# Export. The example row fixes the input: float32, 30 columns, any number
# of rows; the file holds the scaler, the eight autoencoders and the score.
# The outputs are named as for ``IsolationForest``: ``label`` (+1 / -1) and
# ``scores`` (``decision_function``).
model = to_onnx(pipe, X[:1])
with open("breast_cancer_detector.onnx", "wb") as f:
    f.write(model.SerializeToString())

# %%
# Score in ONNX Runtime, on one thread, and compare with the Pipeline.
options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(
    "breast_cancer_detector.onnx", options, providers=["CPUExecutionProvider"]
)
for kind, values in (("input", session.get_inputs()), ("output", session.get_outputs())):
    for value in values:
        print(f"{kind} {value.name!r}: {value.type}, shape {value.shape}")
label, scores = session.run(None, {"X": X})

expected = pipe.decision_function(X)
tolerance = 1e-5 * abs(pipe[-1].offset_)
print("largest difference:", float(np.max(np.abs(scores[:, 0] - expected))))
print("scores equal:", np.allclose(scores[:, 0], expected, rtol=1e-5, atol=tolerance))
clear = np.abs(expected) > tolerance  # rows not on the threshold itself
print("labels equal:", np.array_equal(label[clear, 0], pipe.predict(X)[clear]))
print("rows flagged:", int(np.sum(label == -1)), "of", len(X))

# %%
# Both on one thread, on 100 copies of the data (56,900 rows).
threads = torch.get_num_threads()
torch.set_num_threads(1)
many = np.tile(X, (100, 1))
timings = {}
for name, score in (
    ("skae (PyTorch)", pipe.decision_function),
    ("ONNX Runtime", lambda rows: session.run(["scores"], {"X": rows})[0]),
):
    start = time.perf_counter()
    score(many)
    timings[name] = time.perf_counter() - start
    print(f"{name:<15} {timings[name]:.3f} s")
torch.set_num_threads(threads)

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
left.scatter(expected, scores[:, 0], s=8, c=np.where(label[:, 0] == 1, "C0", "C3"))
left.axline((0, 0), slope=1, color="k", linewidth=0.8)
left.axvline(0, color="grey", linestyle="--", linewidth=0.8)
left.set_xscale("symlog")
left.set_yscale("symlog")
left.set_xlabel("Pipeline.decision_function (skae, PyTorch)")
left.set_ylabel("ONNX Runtime 'scores' output")
left.set_title("The same scores, on the diagonal (red: label -1)")
right.barh(list(timings), list(timings.values()))
right.set_xlabel("seconds for 56,900 rows, one thread")
right.set_title("Scoring time")
fig.tight_layout()
fig.savefig("onnx_export.png", dpi=100)
print("saved onnx_export.png")
