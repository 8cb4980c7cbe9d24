"""Progress output: bars on terminals and in notebooks, plain lines elsewhere.

A bar redrawn in place with carriage returns only makes sense where
something renders it.  Files and pipes (logs, CI, ``nohup``) get one line
per epoch and, for long scoring calls, a few plain lines; never a ``\\r``.

On a terminal the epoch bar keeps to the terminal's width, and the metrics
go on rows of their own below it, laid out for that width, so that every
name and value stays readable however narrow the terminal is.  tqdm would
cut a long postfix off at the edge ("val_m").
"""

import os
import shutil
import time

from tqdm import tqdm as terminal_bar
from tqdm.auto import tqdm as notebook_bar

#: Terminal size assumed when a terminal reports none (some pseudo-terminals
#: report 0 x 0, which would make tqdm draw nothing).
FALLBACK_SIZE = (100, 20)

#: Widest value ``f"{v:.4g}"`` writes for a finite float: ``-1.234e-05``.
VALUE_WIDTH = 10

#: Seconds between the progress lines of a long scoring call in a log.
SCORING_LINE_INTERVAL = 10.0

METRIC_INDENT = "  "


def _short(metric):
    """``train_mse`` -> ``mse``, ``valid_mse`` -> ``val_mse``."""
    return metric.replace("train_", "").replace("valid_", "val_")


def _in_notebook(stream):
    """Whether ``stream`` is a Jupyter kernel's output (notebooks, Colab)."""
    return type(stream).__module__.split(".")[0] == "ipykernel"


def _on_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed file
        return False


def _terminal_size(stream):
    """The size of the terminal ``stream`` writes to, else of the process's."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, ValueError, OSError):
        size = None
    if size is None or size.columns <= 0 or size.lines <= 0:
        size = shutil.get_terminal_size(FALLBACK_SIZE)
    return size


def _metric_rows(names, width):
    """Group metric names into rows of at most ``width`` characters.

    Everything on one row when it fits; otherwise the training metrics and
    the validation metrics on rows of their own, each wrapped as needed.
    Widths assume the widest value, so the layout holds for every epoch.
    """

    def fits(row):
        return sum(len(name) + 1 + VALUE_WIDTH for name in row) + len(row) - 1 <= width

    if fits(names):
        return [list(names)]
    rows = []
    for group in (
        [name for name in names if not name.startswith("val_")],
        [name for name in names if name.startswith("val_")],
    ):
        row = []
        for name in group:
            if row and not fits(row + [name]):
                rows.append(row)
                row = []
            row.append(name)
        if row:
            rows.append(row)
    return rows


class Progress:
    """Per-epoch feedback: a tqdm bar on terminals and in notebooks, else lines.

    On a terminal, the bar shows the epoch count and the time, and the
    metrics sit on rows below it laid out for the terminal's width.  In a
    notebook the metrics follow the bar.  Elsewhere each epoch prints one
    line, ``epoch 3: loss=..., mse=..., 0.12s``.

    Parameters
    ----------
    total : int
        Epochs planned.
    stream : file-like
        Where to write (``sys.stderr``).
    metrics : sequence of str
        History keys to show, in order (``train_loss``, ``valid_mse``, ...);
        the ones missing from an epoch's row are skipped.
    """

    def __init__(self, total, stream, metrics):
        self.stream = stream
        self.metrics = tuple(metrics)
        self.bar = None
        self.size = None  # the terminal's, when writing to one
        self.rows = None  # the terminal's metric rows: [(tqdm, names)]
        if _in_notebook(stream):
            self.bar = notebook_bar(total=total, unit="epoch", file=stream)
        elif _on_terminal(stream):
            self.size = _terminal_size(stream)
            self.bar = terminal_bar(
                total=total,
                desc="epoch",
                file=stream,
                ncols=self.size.columns,
                nrows=self.size.lines,
                bar_format="{desc} {n_fmt}/{total_fmt} |{bar}| {elapsed}<{remaining}",
            )

    def update(self, epoch, row, seconds):
        """Show the metrics of ``row``, the history row of epoch ``epoch``,
        ``seconds`` after training began."""
        shown = {_short(k): row[k] for k in self.metrics if k in row}
        if self.bar is None:
            values = ", ".join(f"{k}={v:.6g}" for k, v in shown.items())
            print(f"epoch {epoch}: {values}, {seconds:.2f}s", file=self.stream, flush=True)
            return
        if self.rows is None and self.size is not None:
            # Leave the last column free: some terminals wrap a full line.
            width = max(self.size.columns - len(METRIC_INDENT) - 1, 1)
            self.rows = [(self._row(), names) for names in _metric_rows(list(shown), width)]
        if self.rows is None:  # a notebook: the postfix is never cut off
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in shown.items()}, refresh=False)
            self.bar.update(1)
            return
        for bar, names in self.rows:
            text = " ".join(f"{name}={shown[name]:.4g}" for name in names if name in shown)
            bar.set_description_str(METRIC_INDENT + text, refresh=False)
        if self.bar.update(1):  # the bar redrew itself: redraw the metrics too
            for bar, _ in self.rows:
                bar.refresh()

    def _row(self):
        """One line of text under the bar, redrawn in place."""
        return terminal_bar(
            file=self.stream,
            ncols=self.size.columns,
            nrows=self.size.lines,
            bar_format="{desc}",
        )

    def close(self):
        """Leave the final state on screen (rows close top to bottom)."""
        if self.bar is not None:
            self.bar.close()
        for bar, _ in self.rows or ():
            bar.close()


def _scoring_lines(batches, stream):
    """Yield from ``batches`` and print a plain progress line every
    :data:`SCORING_LINE_INTERVAL` seconds and one at the end."""
    total = len(batches)
    start = last = time.perf_counter()
    for done, batch in enumerate(batches, 1):
        yield batch
        now = time.perf_counter()
        if done == total or now - last >= SCORING_LINE_INTERVAL:
            print(f"scoring: {done}/{total} batches, {now - start:.2f}s", file=stream, flush=True)
            last = now


def scoring_progress(batches, verbose, stream):
    """``batches`` with progress shown when ``verbose >= 2`` and there are several.

    A tqdm bar on a terminal or in a notebook; plain lines elsewhere (see
    :func:`_scoring_lines`).

    Parameters
    ----------
    batches : sized iterable
        What the scoring loop iterates over, one item per batch.
    verbose : int
        The estimator's ``verbose``.
    stream : file-like
        Where to write (``sys.stderr``).
    """
    if verbose < 2 or len(batches) <= 1:
        return batches
    if _in_notebook(stream):
        return notebook_bar(batches, desc="scoring", unit="batch", file=stream)
    if _on_terminal(stream):
        size = _terminal_size(stream)
        return terminal_bar(
            batches,
            desc="scoring",
            unit="batch",
            file=stream,
            ncols=size.columns,
            nrows=size.lines,
        )
    return _scoring_lines(batches, stream)
