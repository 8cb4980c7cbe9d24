"""Training and scoring speed of skae against plain torch, skorch, PyOD and sklearn.

Run ``python benchmarks/bench_fit.py`` (``--help`` for options).  Everything
runs in one process, except ``--memory``, which measures peak memory in a
child process so that nothing else inflates it.

Tables printed:

1. fit: the same network (d -> 64 -> 32 -> 64 -> d, ReLU, linear output,
   MSE, Adam lr=1e-3, batch 256, no batch norm or dropout) trained the same
   number of epochs on the same data by each way of training; samples per
   second and time relative to the first row (a plain torch loop with the
   default Adam).  With ``--repeats N > 1`` the rows run interleaved N times
   and the median time of each row is reported.  The final training loss of
   each row is printed as a quality check.
2. scoring: skae's ``score_samples`` and ``transform`` on many rows against
   a bare batched forward pass of the same module; 2b the outlier detector
   with its defaults beside IsolationForest; 2c the detector's cost per
   training step on a table so small that little arithmetic remains.
3. scaling: skae's fit time at several row counts, per row.
4. memory (``--memory``): peak resident memory of a child process that fits
   skae on a large float32 array, against the size of the input.

Nothing here is hard-coded: every number printed was measured in this run.
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
import torch
from torch import nn

# --------------------------------------------------------------------- data


def make_data(n_rows, n_features, seed=0, rank=8, noise=0.3, chunk_rows=65536):
    """Low-rank Gaussian data plus noise, float32, about unit variance per column.

    Rows are generated in float32 chunks (one generator per chunk, seeded by
    ``(seed, chunk)``), so the peak memory of making the array is the array
    itself and the first ``k`` rows are the same whatever ``n_rows`` is.
    Columns are divided by their exact population standard deviation, so
    ``scaling="standard"`` is close to the identity and losses of scaled and
    unscaled training are in the same units.
    """
    weights = np.random.default_rng([seed, 2**31 - 1]).standard_normal((rank, n_features))
    std = np.sqrt((weights**2).sum(axis=0) + noise**2)
    weights = (weights / std).astype(np.float32)
    noise_scale = (noise / std).astype(np.float32)
    X = np.empty((n_rows, n_features), dtype=np.float32)
    for i, start in enumerate(range(0, n_rows, chunk_rows)):
        stop = min(start + chunk_rows, n_rows)
        rng = np.random.default_rng([seed, i])
        z = rng.standard_normal((stop - start, rank), dtype=np.float32)
        eps = rng.standard_normal((stop - start, n_features), dtype=np.float32)
        np.matmul(z, weights, out=X[start:stop])
        X[start:stop] += eps * noise_scale
    return X


# ------------------------------------------------------------------ network

HIDDEN, CODE, LR = 64, 32, 1e-3


class PlainAutoencoder(nn.Module):
    """d -> 64 -> ReLU -> 32 (linear code) -> 64 -> ReLU -> d, as skae builds it."""

    def __init__(self, n_features, hidden=HIDDEN, code=CODE):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, code),
            nn.Linear(code, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_features),
        )

    def forward(self, x):
        return self.net(x)


# -------------------------------------------------------- ways of training
# Each takes (X, epochs, batch_size, seed) and returns the final epoch's mean
# training loss (MSE over all elements) or None when the library hides it.
# The timed region is the whole call: from a float32 numpy array to a
# trained model, including model construction and any validation.


def fit_plain(X, epochs, batch_size, seed, fused=False):
    torch.manual_seed(seed)
    data = torch.from_numpy(X)
    n = data.shape[0]
    model = PlainAutoencoder(X.shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, fused=True if fused else None)
    loss_fn = nn.MSELoss()
    generator = torch.Generator().manual_seed(seed)
    last = float("nan")
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        total = torch.zeros(())
        for start in range(0, n, batch_size):
            xb = data.index_select(0, order[start : start + batch_size])
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), xb)
            loss.backward()
            optimizer.step()
            total += loss.detach() * xb.shape[0]
        last = total.item() / n
    return last


def fit_plain_fused(X, epochs, batch_size, seed):
    return fit_plain(X, epochs, batch_size, seed, fused=True)


def make_skae(epochs, batch_size, seed, scaling):
    from skae import AutoencoderTransformer

    return AutoencoderTransformer(
        n_components=CODE,
        hidden_layer_sizes=(HIDDEN,),
        max_iter=epochs,
        batch_size=batch_size,
        learning_rate_init=LR,
        n_iter_no_change=epochs + 1,
        tol=0.0,
        scaling=scaling,
        random_state=seed,
    )


def fit_skae(X, epochs, batch_size, seed, scaling="standard", return_estimator=False):
    est = make_skae(epochs, batch_size, seed, scaling)
    with warnings.catch_warnings():
        # "Reached max_iter" is expected: the stopping rule is disabled.
        warnings.simplefilter("ignore")
        est.fit(X)
    if est.n_iter_ != epochs:
        raise RuntimeError(f"skae trained {est.n_iter_} epochs, expected {epochs}")
    return est if return_estimator else est.loss_curve_[-1]


def fit_skae_unscaled(X, epochs, batch_size, seed):
    return fit_skae(X, epochs, batch_size, seed, scaling=None)


def fit_skorch(X, epochs, batch_size, seed):
    from skorch import NeuralNetRegressor

    torch.manual_seed(seed)
    net = NeuralNetRegressor(
        PlainAutoencoder,
        module__n_features=X.shape[1],
        max_epochs=epochs,
        batch_size=batch_size,
        optimizer=torch.optim.Adam,
        lr=LR,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
    )
    net.fit(X, X)
    return net.history[-1, "train_loss"]


def fit_pyod(X, epochs, batch_size, seed):
    from pyod.models.auto_encoder import AutoEncoder

    # hidden_neuron_list=[64, 32] builds d -> 64 -> 32 -> 64 -> d; PyOD puts
    # a ReLU after the 32-wide code layer too (skae's code is linear).  Its
    # fit also scores the training rows (decision_scores_) and drops the
    # last incomplete batch of each epoch.
    det = AutoEncoder(
        hidden_neuron_list=[HIDDEN, CODE],
        batch_norm=False,
        dropout_rate=0.0,
        preprocessing=False,
        epoch_num=epochs,
        batch_size=batch_size,
        lr=LR,
        optimizer_params={"weight_decay": 0.0},
        device="cpu",
        random_state=seed,
        verbose=0,
    )
    det.fit(X)
    return None


def fit_mlp(X, epochs, batch_size, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    # ReLU after every hidden layer, the 32-wide one included; alpha=0 so
    # that the objective is plain MSE like the others.
    mlp = MLPRegressor(
        hidden_layer_sizes=(HIDDEN, CODE, HIDDEN),
        solver="adam",
        max_iter=epochs,
        batch_size=batch_size,
        learning_rate_init=LR,
        alpha=0.0,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        shuffle=True,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, X)
    # sklearn's squared error is mean((y - y_hat)**2) / 2.
    return 2 * mlp.loss_curve_[-1]


def pyod_available():
    try:
        import pyod.models.auto_encoder  # noqa: F401
    except ImportError:
        return False
    return True


FIT_ROWS = [
    ("plain torch loop, Adam (default)", fit_plain, None),
    ("plain torch loop, Adam(fused=True)", fit_plain_fused, None),
    ("skae, scaling='standard'", fit_skae, None),
    ("skae, scaling=None", fit_skae_unscaled, None),
    ("skorch NeuralNetRegressor", fit_skorch, None),
    ("PyOD AutoEncoder", fit_pyod, pyod_available),
    ("sklearn MLPRegressor (numpy)", fit_mlp, None),
]


# ------------------------------------------------------------------ helpers


def timed(fn, *args, **kwargs):
    """Wall-clock seconds of one call, and its result."""
    tic = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - tic, result


def interleaved_times(rows, repeats):
    """``{name: [seconds, ...]}`` of ``(name, fn)`` rows run in turn, ``repeats`` times."""
    times = {name: [] for name, _ in rows}
    for _ in range(repeats):
        for name, fn in rows:
            times[name].append(timed(fn)[0])
    return times


def timed_cpu(fn, *args, **kwargs):
    """(wall seconds, process CPU seconds, result) of one call.

    CPU time is less disturbed than wall time by other processes on a
    shared machine; with one thread the two agree on an idle machine.
    """
    cpu = time.process_time()
    seconds, result = timed(fn, *args, **kwargs)
    return seconds, time.process_time() - cpu, result


def print_table(headers, rows, title=None):
    cells = [[str(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    if title:
        print(f"\n{title}")
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells:
        print(
            "| "
            + " | ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))
            )
            + " |"
        )
    sys.stdout.flush()


def fmt_loss(value):
    return "n/a" if value is None else f"{value:.5f}"


# ---------------------------------------------------------------- table 1


def bench_fit(args):
    X = make_data(args.rows, args.features, seed=args.seed)
    rows = []
    for name, fn, available in FIT_ROWS:
        if available is not None and not available():
            rows.append((name, None))
        else:
            rows.append((name, fn))

    # Warm-up: one-time costs (lazy imports, first kernel calls) outside the timing.
    warm = X[: min(len(X), 4 * args.batch_size)]
    for _, fn in rows:
        if fn is not None:
            fn(warm, 1, args.batch_size, args.seed)

    times = {name: [] for name, _ in rows}
    cpu_times = {name: [] for name, _ in rows}
    losses = {name: [] for name, _ in rows}
    for rep in range(args.repeats):
        for name, fn in rows:
            if fn is None:
                continue
            seconds, cpu, loss = timed_cpu(fn, X, args.epochs, args.batch_size, args.seed)
            times[name].append(seconds)
            cpu_times[name].append(cpu)
            losses[name].append(loss)
        if args.repeats > 1:
            print(f"  fit repeat {rep + 1}/{args.repeats} done", flush=True)

    reference = statistics.median(times[rows[0][0]])
    cpu_reference = statistics.median(cpu_times[rows[0][0]])
    samples = args.rows * args.epochs
    table = []
    for name, fn in rows:
        if fn is None:
            table.append((name, "skipped (pip install pyod)", "", "", "", "", ""))
            continue
        t = statistics.median(times[name])
        cpu = statistics.median(cpu_times[name])
        spread = f"{min(times[name]):.2f}-{max(times[name]):.2f}"
        loss = losses[name][-1]
        table.append(
            (
                name,
                f"{t:.3f}",
                spread,
                f"{samples / t:,.0f}",
                f"{t / reference:.2f}x",
                f"{cpu / cpu_reference:.2f}x",
                fmt_loss(loss),
            )
        )
    print_table(
        [
            "way of training",
            "seconds (median)",
            "min-max",
            "samples/s",
            "vs row 1",
            "CPU time vs row 1",
            "final train MSE",
        ],
        table,
        title=(
            f"Table 1 - fit: {args.rows:,} x {args.features} float32, "
            f"d->{HIDDEN}->{CODE}->{HIDDEN}->d, "
            f"{args.epochs} epochs, batch {args.batch_size}, Adam lr={LR:g}, "
            f"{args.threads} torch thread(s), median of {args.repeats}"
        ),
    )
    print(
        "  final train MSE: mean loss of the last epoch (same seed each repeat); "
        "skae's scaling='standard' is ~identity on this data, so all are in the same units."
    )
    med = {name: statistics.median(v) for name, v in times.items() if v}
    skae_t = med.get("skae, scaling='standard'")
    if skae_t:
        pairs = [
            ("skae / fused loop", med.get("plain torch loop, Adam(fused=True)"), False),
            ("skorch / skae", med.get("skorch NeuralNetRegressor"), True),
            ("PyOD / skae", med.get("PyOD AutoEncoder"), True),
            ("skae / MLPRegressor", med.get("sklearn MLPRegressor (numpy)"), False),
        ]
        shown = [
            f"{label} = {(other / skae_t) if inverse else (skae_t / other):.2f}"
            for label, other, inverse in pairs
            if other
        ]
        print("  median ratios (skae = scaling='standard' row): " + ", ".join(shown))
    return med, X


# ---------------------------------------------------------------- table 2


def bare_forward(module, X, batch, out, encoder_only=False):
    module.eval()
    with torch.inference_mode():
        for start in range(0, X.shape[0], batch):
            xb = torch.from_numpy(X[start : start + batch])
            stop = start + xb.shape[0]
            if encoder_only:
                out[start:stop] = module.encode(xb)
            else:
                out[start:stop] = module(xb)[0]
    return out


def bench_score(args, X_train):
    est = fit_skae(X_train, args.epochs, args.batch_size, args.seed, return_estimator=True)
    module = est.net_.module_
    X = make_data(args.score_rows, args.features, seed=args.seed + 1)
    recon = torch.empty(X.shape, dtype=torch.float32)
    codes = torch.empty((X.shape[0], CODE), dtype=torch.float32)
    # skae's INFERENCE_BATCH, to separate batch-size effects from skae's overhead.
    from skae import _base

    skae_batch = getattr(_base, "INFERENCE_BATCH", 2048)
    rows = [
        ("bare module forward, batches of 8192", lambda: bare_forward(module, X, 8192, recon)),
        (
            f"bare module forward, batches of {skae_batch}",
            lambda: bare_forward(module, X, skae_batch, recon),
        ),
        (
            "bare encoder forward, batches of 8192",
            lambda: bare_forward(module, X, 8192, codes, encoder_only=True),
        ),
        ("skae score_samples", lambda: est.score_samples(X)),
        ("skae transform", lambda: est.transform(X)),
    ]
    # Warm-up on a slice.
    small = X[:20000]
    bare_forward(module, small, 8192, recon)
    est.score_samples(small)
    est.transform(small)
    times = interleaved_times(rows, args.repeats)
    reference = statistics.median(times[rows[0][0]])
    table = []
    for name, _ in rows:
        t = statistics.median(times[name])
        table.append((name, f"{t:.3f}", f"{args.score_rows / t:,.0f}", f"{t / reference:.2f}x"))
    print_table(
        ["scoring", "seconds (median)", "rows/s", "vs bare forward 8192"],
        table,
        title=(
            f"Table 2 - scoring {args.score_rows:,} x {args.features} float32 "
            "with a fitted skae model "
            f"(scaling='standard'), {args.threads} torch thread(s), median of {args.repeats}"
        ),
    )
    print(
        "  bare forward: est.net_.module_ in eval mode under torch.inference_mode(), "
        "output written into a preallocated float32 tensor; no input scaling."
    )
    return {name: statistics.median(v) for name, v in times.items()}


def bench_detector(args):
    """Table 2b: the outlier detector with its defaults, beside IsolationForest.

    Fit on ``--detector-rows`` x ``--features`` rows, then score
    ``--score-rows`` rows: skae's ``score_samples`` against a bare batched
    forward pass of the fitted module (the whole ensemble), and
    IsolationForest's fit and ``score_samples`` on the same data.
    """
    from sklearn.ensemble import IsolationForest

    from skae import AutoencoderOutlierDetector

    X_fit = make_data(args.detector_rows, args.features, seed=args.seed)
    X = make_data(args.score_rows, args.features, seed=args.seed + 1)
    det_time, det = timed(lambda: AutoencoderOutlierDetector(random_state=args.seed).fit(X_fit))
    forest_time, forest = timed(lambda: IsolationForest(random_state=args.seed).fit(X_fit))
    module = det.net_.module_
    members = getattr(module, "n_members", 1)
    recon = torch.empty((members, X.shape[0], X.shape[1]), dtype=torch.float32)

    def bare():
        module.eval()
        with torch.inference_mode():
            for start in range(0, X.shape[0], 8192):
                xb = torch.from_numpy(X[start : start + 8192])
                recon[:, start : start + xb.shape[0]] = module(xb)[0]

    rows = [
        ("bare ensemble forward, batches of 8192", bare),
        ("skae detector score_samples", lambda: det.score_samples(X)),
        ("IsolationForest score_samples", lambda: forest.score_samples(X)),
    ]
    small = X[:20000]
    det.score_samples(small)
    times = interleaved_times(rows, args.repeats)
    reference = statistics.median(times[rows[0][0]])
    table = [
        (name, f"{statistics.median(v):.3f}", f"{statistics.median(v) / reference:.2f}x")
        for name, v in times.items()
    ]
    table += [
        (f"skae detector fit, {args.detector_rows:,} rows", f"{det_time:.3f}", ""),
        (f"IsolationForest fit, {args.detector_rows:,} rows", f"{forest_time:.3f}", ""),
    ]
    print_table(
        ["detector (defaults)", "seconds", "vs bare ensemble forward"],
        table,
        title=(
            f"Table 2b - AutoencoderOutlierDetector() ({members} members) and "
            f"IsolationForest(): fit on {args.detector_rows:,} x {args.features}, score "
            f"{args.score_rows:,} rows, {args.threads} torch thread(s), median of {args.repeats}"
        ),
    )
    ratio = statistics.median(times["skae detector score_samples"]) / reference
    print(f"  score_samples / bare ensemble forward = {ratio:.2f} (target <= 1.5)")
    return times


def bench_step(args):
    """Table 2c: the detector's cost per training step where little
    arithmetic is left (``--step-rows`` x 3 features: 8 members of hidden
    widths 2-3, code 1).

    What remains is the dispatch of the step's small torch operations, the
    Python around them and the epochs' bookkeeping: what any fit pays per
    step on this machine, however small its table.  Fits at ``max_steps=200``
    and ``1000`` with the defaults otherwise, but no trimming and no stopping
    rule (``n_iter_no_change`` and ``max_iter`` out of reach, so that each
    fit takes its whole budget), are timed interleaved; the per-step cost is
    their time difference over their difference in optimizer steps, counted
    by Adam.  IsolationForest's fit + score on the same table is beside it.
    """
    from sklearn.ensemble import IsolationForest

    from skae import AutoencoderOutlierDetector

    X = np.random.RandomState(args.seed).normal(size=(args.step_rows, 3)).astype(np.float32)
    steps = {}

    def fit(budget):
        det = AutoencoderOutlierDetector(
            max_steps=budget,
            trim_fraction=0,
            n_iter_no_change=10**9,
            max_iter=10**9,
            random_state=args.seed,
        ).fit(X)
        steps[budget] = max(int(s["step"]) for s in det.net_.optimizer_.state.values())

    def forest():
        IsolationForest(random_state=args.seed).fit(X).score_samples(X)

    fit(50)
    rows = [("fit, max_steps=200", lambda: fit(200)), ("fit, max_steps=1000", lambda: fit(1000))]
    rows.append(("IsolationForest fit + score_samples", forest))
    times = interleaved_times(rows, args.repeats)
    median = {name: statistics.median(v) for name, v in times.items()}
    taken = steps[1000] - steps[200]
    per_step = (median["fit, max_steps=1000"] - median["fit, max_steps=200"]) / taken
    table = [(name, f"{t:.3f}") for name, t in median.items()]
    table.append((f"per step (difference / {taken} steps)", f"{per_step:.5f}"))
    print_table(
        ["detector (defaults, no trimming or stopping rule)", "seconds"],
        table,
        title=(
            f"Table 2c - AutoencoderOutlierDetector() training steps on {args.step_rows:,} x 3 "
            f"rows ({steps[200]} and {steps[1000]} steps taken), {args.threads} torch "
            f"thread(s), median of {args.repeats}"
        ),
    )
    print(f"  cost per step = {per_step * 1e3:.3f} ms")
    return per_step


# ---------------------------------------------------------------- table 3


def bench_scaling(args):
    counts = [int(c) for c in args.scaling_rows.split(",") if c.strip()]
    datasets = {n: make_data(n, args.features, seed=args.seed) for n in counts}
    fit_skae(datasets[counts[0]][: 4 * args.batch_size], 1, args.batch_size, args.seed)
    times = {n: [] for n in counts}
    for _ in range(args.repeats):
        for n in counts:
            times[n].append(
                timed(fit_skae, datasets[n], args.scaling_epochs, args.batch_size, args.seed)[0]
            )
    first = statistics.median(times[counts[0]]) / counts[0]
    table = []
    for n in counts:
        t = statistics.median(times[n])
        per_row = t / (n * args.scaling_epochs)
        table.append((f"{n:,}", f"{t:.3f}", f"{per_row * 1e6:.2f}", f"{(t / n) / first:.2f}x"))
    print_table(
        ["rows", "seconds (median)", "us per row-epoch", "per-row time vs first"],
        table,
        title=(
            f"Table 3 - skae fit scaling: {args.features} features, {args.scaling_epochs} epochs, "
            f"batch {args.batch_size}, scaling='standard', median of {args.repeats}"
        ),
    )
    return {n: statistics.median(v) for n, v in times.items()}


# ---------------------------------------------------------------- table 4


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def memory_child(args):
    """Runs in the child: make data, fit skae, print RSS numbers as JSON."""
    import skae  # noqa: F401  (import cost is part of the baseline)

    rss_import = _status_kb("VmRSS")
    X = make_data(args.memory_rows, args.memory_features, seed=args.seed)
    # Give freed generation temporaries back to the OS, so that the baseline
    # is imports + the live input array and nothing the allocator kept.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    rss_data = _status_kb("VmRSS")
    hwm_before = _status_kb("VmHWM")
    # Reset the high-water mark so that VmHWM below is the peak during fit
    # (Linux >= 4.0); if it cannot be reset, the peak includes data creation.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = _status_kb("VmHWM") <= rss_data + 1024
    except OSError:
        reset = False
    seconds, est = timed(
        fit_skae, X, args.memory_epochs, args.batch_size, args.seed, return_estimator=True
    )
    model_bytes = sum(p.numel() * p.element_size() for p in est.net_.module_.parameters())
    print(
        "MEMORY-JSON "
        + json.dumps(
            {
                "rss_import_kb": rss_import,
                "rss_data_kb": rss_data,
                "hwm_before_fit_kb": hwm_before,
                "hwm_reset": reset,
                "peak_fit_kb": _status_kb("VmHWM"),
                "rss_after_fit_kb": _status_kb("VmRSS"),
                "input_bytes": X.nbytes,
                "model_bytes": model_bytes,
                "fit_seconds": seconds,
            }
        ),
        flush=True,
    )


def bench_memory(args):
    import resource

    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--_memory-child",
        "--memory-rows",
        str(args.memory_rows),
        "--memory-features",
        str(args.memory_features),
        "--memory-epochs",
        str(args.memory_epochs),
        "--batch-size",
        str(args.batch_size),
        "--threads",
        str(args.threads),
        "--seed",
        str(args.seed),
    ]
    gnu_time = shutil.which("time") or (
        "/usr/bin/time" if os.path.exists("/usr/bin/time") else None
    )
    if gnu_time and subprocess.run([gnu_time, "-v", "true"], capture_output=True).returncode == 0:
        cmd = [gnu_time, "-v", *cmd]
    else:
        gnu_time = None
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, file=sys.stderr)
        raise RuntimeError("memory child failed")
    found = re.search(r"^MEMORY-JSON (.*)$", proc.stdout, re.M)
    info = json.loads(found.group(1))
    if gnu_time:
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        process_peak_kb = int(found.group(1))
        source = "/usr/bin/time -v"
    else:
        process_peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        source = "getrusage(RUSAGE_CHILDREN)"
    mib = 1024 * 1024
    kb = 1024
    input_bytes = info["input_bytes"]
    # Training also holds gradients and two Adam moments per parameter.
    model_bytes = 4 * info["model_bytes"]
    baseline = info["rss_data_kb"] * kb
    peak = info["peak_fit_kb"] * kb
    extra = peak - baseline
    over_imports = peak - info["rss_import_kb"] * kb
    rows = [
        ("input (float32)", f"{input_bytes / mib:.1f}", ""),
        ("model + grads + Adam state", f"{model_bytes / mib:.2f}", ""),
        ("RSS after imports (torch, skae)", f"{info['rss_import_kb'] * kb / mib:.1f}", ""),
        ("RSS baseline: after imports + data", f"{baseline / mib:.1f}", ""),
        (
            "peak RSS during fit (VmHWM)",
            f"{info['peak_fit_kb'] * kb / mib:.1f}",
            "reset before fit" if info["hwm_reset"] else "not reset: includes data creation",
        ),
        (f"peak RSS of whole child ({source})", f"{process_peak_kb * kb / mib:.1f}", ""),
        ("peak - baseline", f"{extra / mib:.1f}", f"{extra / input_bytes:.2f}x input"),
        (
            "peak - RSS after imports (data + fit)",
            f"{over_imports / mib:.1f}",
            f"{over_imports / (input_bytes + model_bytes):.2f}x (input + model)",
        ),
    ]
    print_table(
        ["memory", "MiB", "note"],
        rows,
        title=(
            f"Table 4 - peak memory fitting skae on {args.memory_rows:,} x {args.memory_features} "
            f"float32, {args.memory_epochs} epochs, scaling='standard' (child process, "
            f"fit took {info['fit_seconds']:.1f} s)"
        ),
    )
    return {
        "extra_over_input": extra / input_bytes,
        "data_memory_ratio": over_imports / (input_bytes + model_bytes),
    }


# --------------------------------------------------------------------- main


def git_state(path):
    """' (git <commit>, N files modified)' for the checkout holding ``path``, if any."""
    folder = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    try:
        commit = subprocess.run(
            ["git", "-C", folder, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        changed = subprocess.run(
            ["git", "-C", folder, "status", "--porcelain", "--", "skae"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    if commit.returncode != 0:
        return ""
    n = len([line for line in changed.stdout.splitlines() if line.strip()])
    return f" (git {commit.stdout.strip()}, {n} file(s) under skae/ modified)"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=1, help="interleaved repeats; medians reported")
    p.add_argument("--rows", type=int, default=50_000, help="training rows (table 1)")
    p.add_argument("--features", type=int, default=40)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=1, help="torch and BLAS threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--score-rows", type=int, default=1_000_000, help="rows scored (table 2)")
    p.add_argument(
        "--detector-rows", type=int, default=200_000, help="detector training rows (table 2b)"
    )
    p.add_argument("--step-rows", type=int, default=2560, help="rows of table 2c's tiny table")
    p.add_argument("--scaling-rows", default="10000,100000,1000000", help="row counts (table 3)")
    p.add_argument("--scaling-epochs", type=int, default=2)
    p.add_argument("--memory", action="store_true", help="also measure peak memory (table 4)")
    p.add_argument("--memory-rows", type=int, default=1_000_000)
    p.add_argument("--memory-features", type=int, default=100)
    p.add_argument("--memory-epochs", type=int, default=2)
    p.add_argument(
        "--tables",
        default="fit,score,detector,step,scaling",
        help="comma-separated subset of fit,score,detector,step,scaling (memory is --memory)",
    )
    p.add_argument(
        "--_memory-child", dest="memory_child", action="store_true", help=argparse.SUPPRESS
    )
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    before = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(limits=args.threads)
    except ImportError:
        limits = None
    try:
        if args.memory_child:
            memory_child(args)
            return
        import sklearn
        import skorch

        import skae

        versions = (
            f"torch {torch.__version__}, skorch {skorch.__version__}, "
            f"sklearn {sklearn.__version__}, skae {skae.__version__}"
        )
        if pyod_available():
            import pyod

            versions += f", pyod {pyod.__version__}"
        print(f"{platform.python_implementation()} {platform.python_version()}; {versions}")
        print(f"skae imported from {os.path.dirname(skae.__file__)}{git_state(skae.__file__)}")
        print(
            f"cores visible: {len(os.sched_getaffinity(0))}; "
            f"threadpoolctl: {'yes' if limits else 'no'}"
        )
        tables = {t.strip() for t in args.tables.split(",")}
        X_train = None
        if "fit" in tables:
            _, X_train = bench_fit(args)
        if "score" in tables:
            if X_train is None:
                X_train = make_data(args.rows, args.features, seed=args.seed)
            bench_score(args, X_train)
        if "detector" in tables:
            bench_detector(args)
        if "step" in tables:
            bench_step(args)
        if "scaling" in tables:
            bench_scaling(args)
        if args.memory:
            bench_memory(args)
    finally:
        if limits is not None:
            limits.restore_original_limits()
        torch.set_num_threads(before)


if __name__ == "__main__":
    main()
