"""Test-only crash points: `point(name)` SIGKILLs this very process when the environment
variable KUBEPLAY_TEST_CRASH_AT names that step (a comma-separated list may name several;
`step#N` names its N-th pass).

e2e/test_faults.py uses it to kill `play`, `down` and the supervisor at defined steps and
checks that the next supervisor converges and nothing leaks. Unset (always, outside tests)
it costs one dictionary look-up. Named steps: see `STEPS`.
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "KUBEPLAY_TEST_CRASH_AT"
STEPS = frozenset(
    {
        "play-stored",  # play: pods written to the store, nothing made yet
        "sandbox-network",  # a sandbox's netns wired (its containers are being made)
        "sandbox-infra",  # the infra container runs, no app container yet
        "container-created",  # a container (infra or app) created in the runtime, not started
        "container-started",  # a container (infra or app) started
        "play-synced",  # play: every pod synced, the network not refreshed
        "play-done",  # play: done, the supervisor not yet started or nudged
        "apply-stored",  # apply, delete, down: the store written, no pod synced yet
        "apply-synced",  # apply, delete, down: every new pod synced, the network not refreshed
        "down-stopped",  # down: a pod's containers stopped, nothing removed
        "down-containers",  # down: a pod's containers removed, its network not yet
        "supervisor-sync",  # the supervisor is about to sync a pod
    }
)


_seen: dict[str, int] = {}
_lock = threading.Lock()


def point(name: str) -> None:
    """SIGKILL this process if the test asked to crash at step `name` (`name#N`: at its N-th
    pass in this process, e.g. `container-started#2`, the first app container of a pod)."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    with _lock:
        _seen[name] = count = _seen.get(name, 0) + 1
    for item in wanted.split(","):
        step, _, nth = item.partition("#")
        if step == name and (not nth or int(nth) == count):
            os.kill(os.getpid(), signal.SIGKILL)
