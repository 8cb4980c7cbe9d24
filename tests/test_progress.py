"""Progress output: a bar in a terminal, lines in a pipe or file, nothing at verbose=0."""

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import numpy as np
import pytest

from skae import AutoencoderTransformer
from skae._progress import _metric_rows

SCRIPT = """
import json, warnings, numpy as np
warnings.simplefilter("ignore")
from skae import AutoencoderTransformer
X = np.random.RandomState(0).normal(size=(300, 4))
est = AutoencoderTransformer(
    max_iter=3, verbose={verbose}, early_stopping={early_stopping}, random_state=0
).fit(X)
est.score_samples(np.repeat(X, 20, axis=0))
if {last!r}:
    with open({last!r}, "w") as f:
        json.dump(est.history_[-1], f)
"""

NAMES = ("loss", "mse", "mae", "val_loss", "val_mse", "val_mae")
needs_pty = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")


def script(verbose, early_stopping=False, last=""):
    return SCRIPT.format(verbose=verbose, early_stopping=early_stopping, last=str(last))


def run_in_terminal(code, columns=100):
    """Run ``code`` with stdout and stderr on a pseudo-terminal of ``columns`` x 30."""
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 30, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=child, stderr=child)
    os.close(child)
    output = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    proc.wait(timeout=60)
    os.close(main)
    return output.decode(errors="replace")


def drawn_pieces(output):
    """The pieces of text drawn between carriage returns, newlines and cursor moves."""
    return [piece for piece in re.split(r"\r|\n|\x1b\[[0-9;]*[A-Za-z]", output) if piece]


@needs_pty
def test_progress_bars_in_a_terminal():
    output = run_in_terminal(script(verbose=2))
    assert "3/3" in output and "epoch" in output  # tqdm's counter and unit
    assert "loss=" in output and "mae=" in output
    assert "\r" in output  # redrawn in place
    assert "scoring" in output  # verbose=2 adds a bar for long scoring calls


@needs_pty
@pytest.mark.parametrize("columns", [80, 40])
def test_metrics_readable_in_a_narrow_terminal(tmp_path, columns):
    # Six metrics with early stopping: tqdm's postfix cut them off at 80
    # columns ("va").  Every name and its full value must be on screen, and
    # nothing drawn may be wider than the terminal (a wrapped line breaks
    # the redrawing).
    last = tmp_path / "last.json"
    output = run_in_terminal(script(verbose=1, early_stopping=True, last=last), columns)
    final = json.loads(last.read_text())
    for name in NAMES:
        key = name.replace("val_", "valid_") if name.startswith("val_") else "train_" + name
        assert re.search(rf"(?<!\w){name}={final[key]:.4g}(?![\w.])", output), (name, output)
    assert max(len(piece) for piece in drawn_pieces(output)) <= columns
    assert "epoch 3/3" in output


@needs_pty
def test_silent_at_verbose_0():
    assert run_in_terminal(script(verbose=0)).strip() == ""


def test_plain_lines_when_not_a_terminal():
    result = subprocess.run(
        [sys.executable, "-c", script(verbose=1)], capture_output=True, text=True
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("epoch")]
    assert len(lines) == 3
    assert "\r" not in result.stderr
    assert "scoring" not in result.stderr  # only at verbose >= 2


@pytest.mark.parametrize("target", ["pipe", "file"])
def test_verbose_2_writes_lines_to_pipes_and_files(tmp_path, target):
    # A log must never get tqdm's carriage-return bars: one line per epoch,
    # and a plain line for the scoring call.
    code = script(verbose=2, early_stopping=True)
    if target == "pipe":
        stderr = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stderr
    else:
        with open(tmp_path / "log.txt", "w") as log:
            subprocess.run([sys.executable, "-c", code], stderr=log, check=True)
        stderr = (tmp_path / "log.txt").read_text()
    assert "\r" not in stderr and "\x1b" not in stderr
    lines = stderr.splitlines()
    epochs = [line for line in lines if line.startswith("epoch ")]
    scoring = [line for line in lines if line.startswith("scoring: ")]
    assert len(epochs) == 3 and len(scoring) >= 1
    assert lines == epochs + scoring, stderr
    assert scoring[-1].startswith("scoring: 3/3 batches")
    for line in epochs:
        for name in NAMES:
            assert re.search(rf"(?<!\w){name}=[-\d]", line), (name, line)
    assert max(len(line) for line in lines) < 200


def test_notebook_bar_shows_every_metric(monkeypatch):
    # A Jupyter kernel's stream (not a terminal) still gets a bar, whose
    # postfix nothing cuts off.
    stream = type("OutStream", (), {"__module__": "ipykernel.iostream"})()
    written = []
    stream.write = written.append
    stream.flush = lambda: None
    monkeypatch.setattr(sys, "stderr", stream)
    X = np.random.RandomState(0).normal(size=(60, 4))
    AutoencoderTransformer(
        max_iter=2, verbose=1, early_stopping=True, validation_fraction=0.2, random_state=0
    ).fit(X)
    output = "".join(written)
    assert "\r" in output and "2/2" in output
    for name in NAMES:
        assert re.search(rf"(?<!\w){name}=\d", output), name


@pytest.mark.parametrize("width", [20, 40, 80, 120])
def test_metric_rows_fit_the_width(width):
    names = list(NAMES)
    rows = _metric_rows(names, width)
    assert [name for row in rows for name in row] == names
    for row in rows:  # the widest value is 10 characters: -1.234e-05
        assert len(row) == 1 or len(" ".join(f"{name}=-1.234e-05" for name in row)) <= width
    if width == 120:
        assert rows == [names]
    if width == 80:  # training metrics, then validation metrics
        assert rows == [names[:3], names[3:]]
