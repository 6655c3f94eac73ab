"""Process identity: a pid with its start time, the boot id and its test override."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kubeplay.runtime import procs

STAT = "1234 (sh) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1 2 3"


@pytest.mark.parametrize(
    ("line", "start"),
    [
        pytest.param(STAT, 98765, id="plain-command-name"),
        pytest.param(STAT.replace("(sh)", "(my prog) (x)"), 98765, id="name-with-space-and-parens"),
        pytest.param("1234 (sh) S 1", None, id="truncated-line"),
        pytest.param("garbage", None, id="no-command-name"),
    ],
)
def test_parse_start_time(line: str, start: int | None) -> None:
    assert procs.parse_start_time(line) == start


def test_a_running_process_is_identified_by_pid_and_start_time() -> None:
    me = procs.identify(os.getpid())
    assert me.start > 0
    assert procs.alive(me)
    assert not procs.alive(procs.ProcessId(me.pid, me.start + 1)), "a reused pid"
    assert procs.alive(procs.ProcessId(me.pid, 0)), "a pid recorded without its start time"


def test_a_process_that_exited_is_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    ident = procs.identify(child.pid)
    child.wait()
    assert not procs.alive(ident)
    assert not procs.alive(procs.ProcessId(0, 0))


def test_boot_id_is_the_kernel_s_unless_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(procs.BOOT_ID_ENV, raising=False)
    assert procs.boot_id() == procs.BOOT_ID_FILE.read_text().strip()
    monkeypatch.setenv(procs.BOOT_ID_ENV, "simulated-reboot")
    assert procs.boot_id() == "simulated-reboot"
