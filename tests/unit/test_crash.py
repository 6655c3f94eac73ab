"""The test-only crash hook: SIGKILL at a named step (or its N-th pass), nothing otherwise;
every step the code names is listed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kubeplay import crash

SCRIPT = "from kubeplay import crash\nfor s in ('a', 'b', 'b'):\n    crash.point(s)\nprint('ran')"


@pytest.mark.parametrize(
    ("wanted", "killed"),
    [
        pytest.param("", False, id="unset-never-crashes"),
        pytest.param("b", True, id="named-step-crashes"),
        pytest.param("z,b", True, id="one-of-several-steps"),
        pytest.param("b#2", True, id="second-pass-of-a-step"),
        pytest.param("b#3", False, id="pass-never-reached"),
        pytest.param("c", False, id="other-step"),
    ],
)
def test_point_kills_the_process_at_the_named_step(wanted: str, killed: bool) -> None:
    env = {**os.environ, crash.ENV: wanted}
    res = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=False
    )
    if killed:
        assert res.returncode == -signal.SIGKILL
        assert res.stdout == ""
    else:
        assert (res.returncode, res.stdout) == (0, "ran\n")


def test_every_crash_point_in_the_code_is_a_listed_step() -> None:
    package = Path(crash.__file__).parent
    named = {
        m.group(1)
        for path in package.rglob("*.py")
        for m in re.finditer(r'crash\.point\("([^"]+)"\)', path.read_text())
    }
    assert named == set(crash.STEPS)
