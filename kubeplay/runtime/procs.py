"""Process identity: a pid is trusted only with its start time, and only within one boot.

A pid number is reused once its process is gone, and every number of a previous boot means
nothing after a reboot. So the engine records a container's pid with its start time (field 22
of /proc/<pid>/stat, clock ticks since boot) and the kernel's boot id with the state; `alive`
says whether that very process still runs. Reads /proc only; decides nothing.
`KUBEPLAY_BOOT_ID` overrides the boot id: the e2e tests' simulated reboot (never set it
otherwise).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
BOOT_ID_ENV = "KUBEPLAY_BOOT_ID"


@dataclass(frozen=True, slots=True)
class ProcessId:
    """A process as it is identified: pid and start time (0: not known)."""

    pid: int
    start: int = 0


def boot_id() -> str:
    """The kernel's id of the current boot (a new one on every boot)."""
    override = os.environ.get(BOOT_ID_ENV, "")
    if override:
        return override
    try:
        return BOOT_ID_FILE.read_text().strip()
    except OSError:
        return ""


def parse_start_time(stat: str) -> int | None:
    """Field 22 (starttime) of a /proc/<pid>/stat line; the command name (field 2, in
    parentheses) may hold spaces and parentheses, so fields are counted after its last ')'."""
    _, sep, rest = stat.rpartition(")")
    if not sep:
        return None
    fields = rest.split()
    try:
        return int(fields[19])  # fields[0] is field 3 (state)
    except (IndexError, ValueError):
        return None


def start_time(pid: int) -> int | None:
    """When process `pid` started (ticks since boot), None when there is no such process."""
    if pid <= 0:
        return None
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:  # os.read, not open(): no text wrapper (read for every container at each resync)
        stat = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    return parse_start_time(stat.decode("utf-8", "replace"))


def identify(pid: int) -> ProcessId:
    """`pid` with its start time, read now (start 0 when it is already gone)."""
    return ProcessId(pid, start_time(pid) or 0)


def alive(proc: ProcessId) -> bool:
    """Whether the process `proc` names still runs: same pid and same start time. A pid
    recorded without a start time (by an older kubeplay) is checked by number alone."""
    if proc.pid <= 0:
        return False
    started = start_time(proc.pid)
    if started is None:
        return False
    return proc.start == 0 or started == proc.start
