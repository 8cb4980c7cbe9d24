"""Progress output: a bar in a terminal, lines in a pipe, nothing at verbose=0."""

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

import pytest

SCRIPT = """
import warnings, numpy as np
warnings.simplefilter("ignore")
from skae import AutoencoderTransformer
X = np.random.RandomState(0).normal(size=(300, 4))
est = AutoencoderTransformer(max_iter=3, verbose={verbose}, random_state=0).fit(X)
est.score_samples(np.repeat(X, 20, axis=0))
"""


def run_in_terminal(verbose):
    """Run the script with stdout and stderr on a pseudo-terminal."""
    main, child = pty.openpty()
    # A terminal of 100 x 30 characters, as a user's would be.
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(verbose=verbose)], stdout=child, stderr=child
    )
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


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_progress_bars_in_a_terminal():
    output = run_in_terminal(verbose=2)
    assert "3/3" in output and "epoch" in output  # tqdm's counter and unit
    assert "loss=" in output and "mae=" in output
    assert "\r" in output  # redrawn in place
    assert "scoring" in output  # verbose=2 adds a bar for long scoring calls


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_silent_at_verbose_0():
    assert run_in_terminal(verbose=0).strip() == ""


def test_plain_lines_when_not_a_terminal():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(verbose=1)], capture_output=True, text=True
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("epoch")]
    assert len(lines) == 3
    assert "\r" not in result.stderr
    assert "scoring" not in result.stderr  # only at verbose >= 2
