"""How many torch threads should skae use?  Measures 1 thread, 2 threads and the shipped policy.

Run ``python benchmarks/bench_threads.py`` (a few minutes on 2 cores) or
``python benchmarks/bench_threads.py --quick`` (about a minute, fewer and
shorter repeats).  ``--help`` lists the options:

- ``--repeats N`` (default 3): interleaved repetitions; medians are reported.
- ``--target-seconds S`` (default 1.5): the training and scoring row counts of
  each network are calibrated so that one single-threaded call takes about
  ``S`` seconds on this machine.
- ``--threads N`` (default 2): the "many threads" count compared with 1
  (capped by the CPU affinity of this process).
- ``--networks small,medium,wide,xwide,large,large-b1024``: which networks to run.
- ``--score-rows N`` (default 200,000): the most rows a ``score_samples`` call
  scores (fewer for networks where that would take longer than the target).
- ``--no-busy`` / ``--no-idle``: skip a condition (both: only the joblib
  check runs); ``--no-joblib``: skip the joblib / GridSearchCV check.
- ``--wait-idle S`` (default 60): before each idle block, wait up to ``S``
  seconds for other processes to use less than 0.3 cores (on a shared
  machine the idle condition may still not be idle; see "other").

What it does, all in one process:

1. For each network (features -> hidden -> n_components, mirrored decoder) it
   times a short ``AutoencoderTransformer.fit`` (``max_iter=2``, every epoch
   run, ``random_state=0``) and a ``score_samples`` call, with torch's
   intra-op threads forced to 1, forced to ``--threads`` and chosen by the
   policy as shipped (``BaseAutoencoder._threads``).  Forcing is done by
   monkeypatching ``skae._base.BaseAutoencoder._threads`` to return a fixed
   number; the original method is restored afterwards.
2. It does so in two conditions: "idle" (nothing started by this script) and
   "busy" (a child process spinning a pure-Python loop, i.e. one core's worth
   of competing work, for the duration of the block; it is killed after, and
   exits by itself if this process dies).
   Repetitions interleave the conditions and rotate the order of the three
   thread settings.  The "other load" column is the CPU used by everything
   except this process during the timed calls, in cores, from /proc/stat: on
   a shared machine "idle" is not necessarily idle, so read it.
3. Prints one row per network, batch, task and condition (also after each
   repeat but the last, as partial results): the multiply-adds per batch
   (``rows * 2 * sum(in * out)`` over the encoder's layers, the quantity
   skae's policy compares with ``MULTITHREAD_WORK``), median seconds with
   1 thread, with N threads and with the policy, the threads the policy
   chose, and the policy's time over the better of the two fixed settings.
4. Prints, for candidate thresholds (every distinct multiply-add count, plus
   "always 1" and "always N"), the worst and the geometric-mean ratio to the
   best fixed setting over all rows: the threshold to ship is the one whose
   worst case is smallest.
5. Checks that a parallel grid search does not oversubscribe: inside
   ``joblib.Parallel(n_jobs=2)`` workers (loky, as ``GridSearchCV(n_jobs=2)``
   uses) it prints ``torch.get_num_threads()`` and ``skae._utils.thread_budget()``,
   then runs a tiny ``GridSearchCV(..., n_jobs=2)`` whose scorers report the
   same two numbers from inside the workers after each fit.  It also checks
   that this process's torch thread setting is unchanged at the end.

Nothing is hard-coded: every number printed was measured in this run.
"""

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
import torch

import skae
import skae._base as skae_base
from skae import AutoencoderTransformer
from skae._utils import thread_budget

# name -> (n_features, hidden_layer_sizes, n_components, batch_size)
NETWORKS = {
    "small": (40, (64,), 32, 256),
    "medium": (128, (256,), 32, 256),
    "wide": (256, (512,), 64, 256),
    "xwide": (512, (1024,), 64, 256),
    "large": (512, (1024, 512), 64, 256),
    "large-b1024": (512, (1024, 512), 64, 1024),
}
EPOCHS = 2
INFERENCE_BATCH = getattr(skae_base, "INFERENCE_BATCH", 2048)


# --------------------------------------------------------------------- data


def make_data(n_rows, n_features, seed=0, rank=8, noise=0.3):
    """Low-rank Gaussian data plus noise, float32."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_rows, rank), dtype=np.float32)
    w = rng.standard_normal((rank, n_features), dtype=np.float32) / np.sqrt(rank)
    X = z @ w
    X += noise * rng.standard_normal((n_rows, n_features), dtype=np.float32)
    return X


def work_per_batch(n_features, hidden, n_components, rows):
    """Multiply-adds of one forward pass over ``rows`` rows (encoder + mirrored decoder)."""
    widths = [n_features, *hidden, n_components]
    return rows * 2 * sum(a * b for a, b in zip(widths[:-1], widths[1:]))


def make_estimator(n_features, hidden, n_components, batch):
    return AutoencoderTransformer(
        n_components=n_components,
        hidden_layer_sizes=hidden,
        batch_size=batch,
        max_iter=EPOCHS,
        n_iter_no_change=EPOCHS + 100,
        tol=0.0,
        random_state=0,
    )


# ---------------------------------------------------------- thread settings


class ThreadSetting:
    """Context manager forcing ``BaseAutoencoder._threads`` to ``n`` (None: the policy).

    With the policy, the threads it chose are recorded in ``self.chosen``.
    """

    def __init__(self, n):
        self.n = n
        self.chosen = []

    def __enter__(self):
        self._original = skae_base.BaseAutoencoder.__dict__["_threads"]
        original, chosen, n = self._original, self.chosen, self.n
        if n is None:

            def _threads(est, batch_rows):
                result = original(est, batch_rows)
                chosen.append(result)
                return result

        else:

            def _threads(est, batch_rows):
                return n

        skae_base.BaseAutoencoder._threads = _threads
        return self

    def __exit__(self, *exc):
        skae_base.BaseAutoencoder._threads = self._original
        return False


# ------------------------------------------------------------- CPU counters


def _system_busy_seconds():
    """Busy CPU seconds of the whole machine so far (all cores, from /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:  # pragma: no cover - not Linux
        return float("nan")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds():
    t = os.times()
    return t.user + t.system


def timed(fn):
    """Run ``fn``; return (wall seconds, own CPU seconds, other processes' CPU in cores)."""
    sys0, own0, t0 = _system_busy_seconds(), _own_cpu_seconds(), time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    own = _own_cpu_seconds() - own0
    other = (_system_busy_seconds() - sys0 - own) / wall
    return wall, own, max(other, 0.0)


# ----------------------------------------------------------- busy process

# A pure-Python spin that exits by itself once this process is gone.
BUSY_CODE = """
import os
parent, i = os.getppid(), 0
while True:
    i += 1
    if i % 1000000 == 0 and os.getppid() != parent:
        break
"""


class BusyProcess:
    """A child process spinning a pure-Python loop (one core's worth of work)."""

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", BUSY_CODE])
        time.sleep(0.5)  # let it start spinning
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
        return False


class NoProcess:
    """The idle condition: optionally wait until other processes use little CPU."""

    def __init__(self, wait_seconds=0.0, max_other=0.3):
        self.wait_seconds, self.max_other = wait_seconds, max_other
        self.other = float("nan")

    def __enter__(self):
        deadline = time.perf_counter() + self.wait_seconds
        while True:
            self.other = timed(lambda: time.sleep(0.5))[2]
            if self.other <= self.max_other or time.perf_counter() >= deadline:
                return self

    def __exit__(self, *exc):
        return False


# ----------------------------------------------------------------- setup


def calibrate(name, spec, target, score_cap):
    """Pick training and scoring row counts so one 1-thread call takes ~``target`` s."""
    n_features, hidden, n_components, batch = spec
    with ThreadSetting(1):
        rows = max(20 * batch, 4096)
        X = make_data(rows, n_features, seed=1)
        est = make_estimator(n_features, hidden, n_components, batch)
        est.fit(X)  # warm-up
        t0 = time.perf_counter()
        make_estimator(n_features, hidden, n_components, batch).fit(X)
        per_row = (time.perf_counter() - t0) / rows
        fit_rows = int(min(max(target / per_row, 4 * batch), 500_000))
        fit_rows = max(batch, fit_rows // batch * batch)

        score_probe = 4 * INFERENCE_BATCH
        Xs = make_data(score_probe, n_features, seed=2)
        est.score_samples(Xs)  # warm-up
        t0 = time.perf_counter()
        est.score_samples(Xs)
        per_row = (time.perf_counter() - t0) / score_probe
        score_rows = int(min(max(target / per_row, INFERENCE_BATCH), score_cap))
        score_rows = max(INFERENCE_BATCH, score_rows // INFERENCE_BATCH * INFERENCE_BATCH)
    return fit_rows, score_rows


class Case:
    """One network: its data, a fitted model for scoring, and the timing calls."""

    def __init__(self, name, spec, fit_rows, score_rows):
        self.name, self.spec = name, spec
        n_features, hidden, n_components, batch = spec
        self.batch = batch
        self.X_fit = make_data(fit_rows, n_features, seed=3)
        self.X_score = make_data(score_rows, n_features, seed=4)
        with ThreadSetting(1):
            self.model = make_estimator(n_features, hidden, n_components, batch).fit(
                self.X_fit[: 8 * batch]
            )
        self.work = {
            "fit": work_per_batch(n_features, hidden, n_components, batch),
            "score": work_per_batch(n_features, hidden, n_components, INFERENCE_BATCH),
        }
        self.rows = {"fit": fit_rows, "score": score_rows}

    def fit(self):
        make_estimator(*self.spec).fit(self.X_fit)

    def score(self):
        self.model.score_samples(self.X_score)

    def warm_up(self, settings):
        for n in settings:
            with ThreadSetting(n):
                make_estimator(*self.spec).fit(self.X_fit[: 4 * self.batch])
                self.model.score_samples(self.X_score[: 2 * INFERENCE_BATCH])


# ------------------------------------------------------------------ report


def fmt_work(w):
    return f"{w:.2e}"


def print_table(cases, conditions, settings, results, chosen, many):
    head = (
        f"{'network':<12} {'layers':<24} {'batch':>5} {'task':<5} {'rows':>7} "
        f"{'madds/batch':>11} {'cond':<4} {'other':>5} {'o.max':>5} {'t1 s':>7} {f't{many} s':>7} "
        f"{'policy s':>8} {'pol.thr':>7} {'pol/best':>8} {f't{many}/t1':>7}"
    )
    print(head)
    print("-" * len(head))
    rows = []
    for case in cases:
        n_features, hidden, n_components, batch = case.spec
        layers = "-".join(str(v) for v in (n_features, *hidden, n_components))
        for task in ("fit", "score"):
            for cond in conditions:
                med = {}
                for n in settings:
                    walls = [r[0] for r in results[(case.name, task, cond, n)]]
                    med[n] = statistics.median(walls)
                others = [r[2] for n in settings for r in results[(case.name, task, cond, n)]]
                other, other_max = statistics.median(others), max(others)
                t1, tm, tp = med[1], med[many], med[None]
                best = min(t1, tm)
                chose = sorted(set(chosen[(case.name, task, cond)]))
                chose_s = ",".join(str(c) for c in chose) or "?"
                batch_shown = batch if task == "fit" else INFERENCE_BATCH
                print(
                    f"{case.name:<12} {layers:<24} {batch_shown:>5} {task:<5} "
                    f"{case.rows[task]:>7} {fmt_work(case.work[task]):>11} {cond:<4} "
                    f"{other:>5.2f} {other_max:>5.2f} {t1:>7.3f} {tm:>7.3f} {tp:>8.3f} "
                    f"{chose_s:>7} {tp / best:>8.2f} {tm / t1:>7.2f}"
                )
                rows.append((case.work[task], cond, t1, tm, tp))
    return rows


def print_thresholds(rows, many):
    """Worst and geometric-mean ratio to the best fixed setting for each candidate rule."""
    if not rows:
        return
    works = sorted({w for w, *_ in rows})
    candidates = [("always 1", math.inf)]
    candidates += [(f">= {fmt_work(w)}", w) for w in works]
    candidates += [(f"always {many}", 0.0), ("shipped policy", None)]
    print()
    print(f"Rule: use {many} threads when multiply-adds per batch >= threshold, else 1.")
    print("Ratios are the rule's median time over the better of 1 and N threads, over all rows;")
    print("the last line is the policy as shipped, measured (its own timings, not replayed).")
    head = (
        f"{'threshold':<14} {'worst':>6} {'geomean':>8} {'worst idle':>10} "
        f"{'worst busy':>10} {'total s':>8}"
    )
    print(head)
    print("-" * len(head))
    for label, thr in candidates:
        ratios, per_cond, total = [], {}, 0.0
        for w, cond, t1, tm, tp in rows:
            t = tp if thr is None else tm if w >= thr else t1
            r = t / min(t1, tm)
            ratios.append(r)
            per_cond.setdefault(cond, []).append(r)
            total += t
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        wi = max(per_cond.get("idle", [float("nan")]))
        wb = max(per_cond.get("busy", [float("nan")]))
        print(f"{label:<14} {max(ratios):>6.2f} {geo:>8.3f} {wi:>10.2f} {wb:>10.2f} {total:>8.2f}")


# ---------------------------------------------------------- joblib check


def _worker_threads(_):
    import torch

    from skae._utils import thread_budget

    return (
        os.getpid(),
        os.environ.get("OMP_NUM_THREADS"),
        torch.get_num_threads(),
        thread_budget(),
    )


def _scorer_torch_threads(estimator, X, y=None):
    import torch

    return float(torch.get_num_threads())


def _scorer_thread_budget(estimator, X, y=None):
    from skae._utils import thread_budget

    return float(thread_budget())


def _scorer_chosen(estimator, X, y=None):
    return float(estimator._threads(estimator.batch_size))


def joblib_check():
    from joblib import Parallel, delayed
    from sklearn.model_selection import GridSearchCV

    print()
    print("Parallel grid search (joblib loky backend, as GridSearchCV(n_jobs=2) uses):")
    print(
        f"  this process: torch.get_num_threads()={torch.get_num_threads()}, "
        f"thread_budget()={thread_budget()}, CPU affinity={len(os.sched_getaffinity(0))}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
    )
    X = make_data(2048, 20, seed=5)
    # A network big enough that the policy picks thread_budget() threads in
    # this process (on an idle machine), to show the workers still get one.
    # Asked before any worker runs: right after joblib workers finish, their
    # threads still spin for a moment and a load-aware policy sees busy cores.
    big = AutoencoderTransformer(
        n_components=8,
        hidden_layer_sizes=(2048, 2048),
        batch_size=1024,
        max_iter=1,
        random_state=0,
    )
    big.n_features_in_ = X.shape[1]
    try:
        in_main = big._threads(big.batch_size)
    except Exception as exc:  # private API changed: report, do not fail
        in_main = f"? ({type(exc).__name__})"
    print(f"  policy threads for that network in this process: {in_main}")
    out = Parallel(n_jobs=2)(delayed(_worker_threads)(i) for i in range(4))
    for pid, omp, nt, tb in out:
        print(
            f"  Parallel(n_jobs=2) worker pid {pid}: OMP_NUM_THREADS={omp}, "
            f"torch.get_num_threads()={nt}, thread_budget()={tb}"
        )
    search = GridSearchCV(
        big,
        {"learning_rate_init": [1e-3, 3e-3]},
        cv=2,
        n_jobs=2,
        refit=False,
        scoring={
            "torch_threads_after_fit": _scorer_torch_threads,
            "thread_budget": _scorer_thread_budget,
            "policy_threads": _scorer_chosen,
        },
    )
    search.fit(X)
    res = search.cv_results_
    for key in ("torch_threads_after_fit", "thread_budget", "policy_threads"):
        values = sorted({int(res[f"split{i}_test_{key}"][j]) for i in range(2) for j in range(2)})
        print(f"  GridSearchCV(n_jobs=2) workers, {key}: {values}")


# -------------------------------------------------------------------- main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="2 repeats of ~0.5 s calls")
    p.add_argument("--repeats", type=int, default=None, help="interleaved repeats (default 3)")
    p.add_argument("--target-seconds", type=float, default=None, help="seconds per 1-thread call")
    p.add_argument("--threads", type=int, default=2, help="the many-threads setting")
    p.add_argument("--networks", default=",".join(NETWORKS), help="comma-separated names")
    p.add_argument("--score-rows", type=int, default=200_000, help="most rows scored")
    p.add_argument("--no-busy", action="store_true", help="skip the busy condition")
    p.add_argument("--no-idle", action="store_true", help="skip the idle condition")
    p.add_argument(
        "--wait-idle",
        type=float,
        default=60.0,
        help="before each idle block, wait up to this many seconds for other load < 0.3 cores",
    )
    p.add_argument("--no-joblib", action="store_true", help="skip the joblib check")
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = 2 if args.quick else 3
    if args.target_seconds is None:
        args.target_seconds = 0.5 if args.quick else 1.5
    return args


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings("ignore")
    torch_before = torch.get_num_threads()
    cores = len(os.sched_getaffinity(0))
    many = max(1, min(args.threads, cores))
    settings = [1, many, None]  # None: the shipped policy
    conditions = [c for c, skip in (("idle", args.no_idle), ("busy", args.no_busy)) if not skip]
    names = [n.strip() for n in args.networks.split(",") if n.strip()]

    print(
        f"skae {skae.__version__}, torch {torch.__version__}, {cores} cores in affinity, "
        f"torch threads {torch_before}, "
        f"MULTITHREAD_WORK={getattr(skae_base, 'MULTITHREAD_WORK', '?')}, "
        f"INFERENCE_BATCH={INFERENCE_BATCH}"
    )
    print(f"load average at start: {os.getloadavg()}")
    print(
        f"repeats {args.repeats}, target {args.target_seconds} s per 1-thread call, "
        f"fit max_iter={EPOCHS}, threads compared: 1 vs {many} vs policy"
    )
    if many == 1:
        print("only one core available: nothing to compare")

    cases = []
    for name in names if conditions else []:
        spec = NETWORKS[name]
        fit_rows, score_rows = calibrate(name, spec, args.target_seconds, args.score_rows)
        case = Case(name, spec, fit_rows, score_rows)
        case.warm_up([1, many])
        cases.append(case)
        print(f"  {name}: fit on {fit_rows} rows, score {score_rows} rows", flush=True)

    results, chosen = {}, {}
    for rep in range(args.repeats):
        order = settings[rep % 3 :] + settings[: rep % 3]
        conds = conditions if rep % 2 == 0 else conditions[::-1]
        for cond in conds:
            t_cond = time.perf_counter()
            block = BusyProcess() if cond == "busy" else NoProcess(args.wait_idle)
            with block:
                for case in cases:
                    for task, fn in (("fit", case.fit), ("score", case.score)):
                        for n in order:
                            with ThreadSetting(n) as ts:
                                r = timed(fn)
                            results.setdefault((case.name, task, cond, n), []).append(r)
                            if n is None:
                                chosen.setdefault((case.name, task, cond), []).extend(ts.chosen)
            waited = "" if cond == "busy" else f" (other load at start {block.other:.2f} cores)"
            print(
                f"  repeat {rep + 1}/{args.repeats} {cond}: {time.perf_counter() - t_cond:.1f} s"
                f"{waited}",
                flush=True,
            )
        if rep + 1 < args.repeats:  # partial results, in case the run is cut short
            print(f"\nMedians of the first {rep + 1} repeat(s):")
            print_table(cases, conditions, settings, results, chosen, many)
            print(flush=True)

    print()
    print(
        "Median wall seconds. 'other' = median CPU used by other processes during the calls, "
        "in cores (busy adds ~1); 'o.max' = its maximum over the calls. "
        "pol.thr = threads the shipped policy chose. "
        f"pol/best = policy time / min(t1, t{many})."
    )
    rows = print_table(cases, conditions, settings, results, chosen, many)
    print_thresholds(rows, many)

    if not args.no_joblib:
        joblib_check()

    after = torch.get_num_threads()
    print()
    print(
        f"torch.get_num_threads() in this process: {torch_before} before, {after} after "
        f"({'restored' if after == torch_before else 'CHANGED'})"
    )


if __name__ == "__main__":
    main()
