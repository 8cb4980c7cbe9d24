"""ONNX Runtime against skae itself: scoring speed, equality and file size (issue #15).

Run ``python benchmarks/bench_onnx.py`` (needs ``pip install skae[onnx]``;
about two minutes on 2 cores).  ``--help`` lists the options:

- ``--rows N`` (default 1,000,000): rows scored per timed call.
- ``--features N`` (default 32): columns of the synthetic data.
- ``--repeats N`` (default 3): interleaved repetitions; medians are reported.
- ``--chunk N`` (default 2048, skae's own scoring batch): rows per ONNX
  Runtime ``run`` call; the timed loop feeds the rows chunk by chunk.

What it does, in one process, on one thread for both (``torch.set_num_threads(1)``;
``SessionOptions.intra_op_num_threads = inter_op_num_threads = 1``):

1. Fits, with ``random_state=0``, the default ``AutoencoderOutlierDetector``
   (8 members, one hidden layer as wide as the input) and the default
   ``AutoencoderTransformer`` (hidden layer 128, code 2; 5 epochs: speed does
   not depend on training) on 20,000 rows of correlated Gaussian data
   (float32).
2. Exports each with ``skl2onnx.to_onnx`` (importing ``skae.onnx`` registers
   the converters) and checks on the first 10,000 rows that ONNX Runtime
   equals skae: the largest relative difference of ``score_samples`` (the
   detector's ``scores`` output is ``decision_function``; ``offset_`` is
   added back) and of ``transform``, and the number of differing labels.
3. Times, ``--repeats`` times with the order alternating, skae's
   ``score_samples`` (detector) and ``transform`` (transformer) on all the
   rows in one call, and the ONNX Runtime session over the same rows.
4. Prints the median seconds, the ratio ONNX Runtime / skae (the target of
   #15 is at most 1.2), and the size of the serialized ONNX model against
   the bytes of the network's parameters.
"""

import argparse
import statistics
import time
import warnings

import numpy as np
import torch

try:
    import onnxruntime as ort
    import skl2onnx

    import skae.onnx  # noqa: F401  (registers the converters)
except ImportError as exc:  # pragma: no cover
    raise SystemExit(f"bench_onnx needs the onnx extra: pip install skae[onnx] ({exc})") from None

from skae import AutoencoderOutlierDetector, AutoencoderTransformer

TRAIN_ROWS = 20_000
CHECK_ROWS = 10_000


def make_data(n_rows, n_features, seed=0):
    rng = np.random.RandomState(seed)
    latent = max(2, n_features // 4)
    mixing = rng.normal(size=(latent, n_features))
    X = rng.normal(size=(n_rows, latent)) @ mixing + 0.3 * rng.normal(size=(n_rows, n_features))
    return X.astype(np.float32)


def session(model):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def ort_scorer(sess, outputs, chunk):
    def score(X):
        parts = [sess.run(outputs, {"X": X[i : i + chunk]})[-1] for i in range(0, len(X), chunk)]
        return np.concatenate(parts)

    return score


def weight_bytes(est):
    return sum(p.numel() * p.element_size() for p in est.net_.module_.parameters())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=2048)
    args = parser.parse_args()
    torch.set_num_threads(1)

    X_train = make_data(TRAIN_ROWS, args.features, seed=0)
    X = make_data(args.rows, args.features, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the short fits
        det = AutoencoderOutlierDetector(random_state=0).fit(X_train)
        tr = AutoencoderTransformer(max_iter=5, random_state=0).fit(X_train)

    cases = []
    for name, est, skae_call, outputs in (
        ("detector score_samples", det, det.score_samples, ["label", "scores"]),
        ("transformer transform", tr, tr.transform, None),
    ):
        model = skl2onnx.to_onnx(est, X[:1])
        onnx_call = ort_scorer(session(model), outputs, args.chunk)
        check = X[:CHECK_ROWS]
        expected, got = skae_call(check), onnx_call(check)
        note = ""
        if est is det:
            got = got[:, 0] + det.offset_  # scores = score_samples - offset_
            labels = np.where(got - det.offset_ >= 0, 1, -1)
            note = f", labels differing: {int(np.sum(labels != det.predict(check)))}"
        rel = np.max(np.abs(got - expected)) / np.max(np.abs(expected))
        print(f"{name}: largest difference / largest value = {rel:.2e}{note}")
        size = len(model.SerializeToString())
        cases.append((name, skae_call, onnx_call, size, weight_bytes(est)))

    times = {(name, who): [] for name, *_ in cases for who in ("skae", "onnx")}
    for repeat in range(args.repeats):
        for name, skae_call, onnx_call, *_ in cases:
            order = [("skae", skae_call), ("onnx", onnx_call)]
            for who, call in order if repeat % 2 == 0 else order[::-1]:
                start = time.perf_counter()
                call(X)
                times[name, who].append(time.perf_counter() - start)

    print(
        f"\n{args.rows:,} rows x {args.features} features (float32), one thread, "
        f"medians of {args.repeats}; ONNX Runtime {ort.__version__} in chunks of "
        f"{args.chunk:,} rows, torch {torch.__version__}"
    )
    header = f"{'task':<24} {'skae s':>8} {'ONNX RT s':>10} {'ratio':>6} {'.onnx bytes':>12}"
    print(header + f" {'weight bytes':>13}")
    for name, _, _, size, weights in cases:
        skae_s = statistics.median(times[name, "skae"])
        onnx_s = statistics.median(times[name, "onnx"])
        print(
            f"{name:<24} {skae_s:8.3f} {onnx_s:10.3f} {onnx_s / skae_s:6.2f} "
            f"{size:12,} {weights:13,}"
        )


if __name__ == "__main__":
    main()
