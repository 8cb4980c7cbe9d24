"""Out-of-core outlier detection: stream chunks through partial_fit.

The data set lives in a raw float32 file larger than the memory budget.
Chunks are read from disk one at a time: each ``partial_fit`` call trains one
epoch on its chunk and updates the scaling statistics, ``calibrate`` sets the
threshold from a sample, and scoring runs chunk by chunk too.  The script
reports the peak resident memory above the baseline, against the budget.

Run: python examples/out_of_core.py [--rows 1500000] [--budget-mib 150]
"""

import argparse
import ctypes
import os
import resource
import tempfile
import time
import warnings

import numpy as np
import torch

from skae import AutoencoderOutlierDetector

N_FEATURES = 40


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fix_mmap_threshold():
    """On glibc, serve every block of 1 MiB or more from its own mapping.

    glibc raises its mmap threshold each time a large block is freed (up to
    32 MiB), after which chunk-sized blocks come from the heap and stay
    resident once freed: over many ``partial_fit`` calls the resident size
    creeps up by tens of MiB that the program no longer uses (measured: 135
    to 178 MiB above the baseline without this, 64 with a 128 KiB threshold,
    which was slower).  A fixed threshold (the same as
    ``MALLOC_MMAP_THRESHOLD_=1048576`` in the environment) returns chunk-sized
    blocks to the system.  Returns whether it applied (False off glibc).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_mmap_threshold = -3  # from glibc's malloc.h
    return bool(libc.mallopt(m_mmap_threshold, 2**20))


def warm_up_torch():
    """One training step of a throwaway network: torch's first step loads its
    kernels and buffers (about 80 MiB of resident memory, paid once by any
    torch program, whatever its data), so the baseline taken after it leaves
    what the detector itself holds."""
    layer = torch.nn.Linear(N_FEATURES, N_FEATURES)
    layer(torch.zeros(2, N_FEATURES)).sum().backward()
    torch.optim.Adam(layer.parameters()).step()


def read_chunk(path, start, stop):
    """Rows [start, stop) of the raw file, read into a fresh array."""
    count = (stop - start) * N_FEATURES
    offset = start * N_FEATURES * 4
    return np.fromfile(path, dtype=np.float32, count=count, offset=offset).reshape(-1, N_FEATURES)


def write_data(path, n_rows, chunk_rows, rng):
    """Low-rank rows plus noise, with 0.5 % planted outliers; returns their rows."""
    mixing = rng.normal(size=(4, N_FEATURES)).astype(np.float32)
    outliers = []
    with open(path, "wb") as f:
        for start in range(0, n_rows, chunk_rows):
            n = min(chunk_rows, n_rows - start)
            chunk = rng.normal(size=(n, 4)).astype(np.float32) @ mixing
            chunk += 0.1 * rng.normal(size=chunk.shape).astype(np.float32)
            planted = rng.random_sample(n) < 0.005
            chunk[planted] += rng.normal(scale=3.0, size=(planted.sum(), N_FEATURES))
            outliers.append(start + np.flatnonzero(planted))
            chunk.tofile(f)
    return np.concatenate(outliers)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--budget-mib", type=float, default=150.0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    fixed = fix_mmap_threshold()
    rng = np.random.RandomState(0)
    data_mib = args.rows * N_FEATURES * 4 / 2**20

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.f32")
        outliers = write_data(path, args.rows, args.chunk_rows, rng)
        warm_up_torch()
        baseline = peak_rss_mib()
        tic = time.perf_counter()

        det = AutoencoderOutlierDetector(contamination=0.005, random_state=0)
        for _ in range(args.passes):
            for start in range(0, args.rows, args.chunk_rows):
                det.partial_fit(read_chunk(path, start, min(start + args.chunk_rows, args.rows)))
        sample = np.sort(rng.choice(args.rows, size=20_000, replace=False))
        det.calibrate(np.vstack([read_chunk(path, i, i + 1) for i in sample]))

        flagged = []
        for start in range(0, args.rows, args.chunk_rows):
            labels = det.predict(read_chunk(path, start, min(start + args.chunk_rows, args.rows)))
            flagged.append(start + np.flatnonzero(labels == -1))
        flagged = np.concatenate(flagged)
        seconds = time.perf_counter() - tic
        used = peak_rss_mib() - baseline

    recall = np.isin(outliers, flagged).mean()
    print(f"data: {args.rows:,} x {N_FEATURES} float32 = {data_mib:.0f} MiB on disk")
    print(
        f"trained {det.n_iter_} chunk-epochs, flagged {len(flagged):,} rows, "
        f"recall of planted outliers {recall:.2f}, {seconds:.1f} s"
    )
    print(
        f"peak RSS above baseline: {used:.0f} MiB (budget {args.budget_mib:.0f} MiB, "
        f"data {data_mib:.0f} MiB; glibc mmap threshold fixed: {fixed})"
    )
    if used > args.budget_mib:
        raise SystemExit("peak memory exceeded the budget")


if __name__ == "__main__":
    main()
