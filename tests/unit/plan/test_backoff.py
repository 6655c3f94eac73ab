"""The restart back-off, table-tested with an injected clock, as client-go's
flowcontrol/backoff_test.go and the kubelet's TestDoBackOff do.

https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-restarts:
"the kubelet restarts them with an exponential backoff delay (10s, 20s, 40s, ...), that is
capped at 300 seconds. Once a container has executed for 10 minutes without any problems,
the kubelet resets the restart backoff timer for that container."
"""

from __future__ import annotations

import pytest

from kubeplay.plan import backoff
from kubeplay.plan.backoff import BackoffEntry, BackoffPolicy

KUBELET = BackoffPolicy(base=10.0, cap=300.0)
T0 = 1_000_000.0


@pytest.mark.parametrize(
    ("entry", "since", "now", "expected"),
    [
        pytest.param(None, T0, T0, 0.0, id="first-crash-restarts-at-once"),
        pytest.param(BackoffEntry(10, T0), T0 + 5, T0 + 5, 10.0, id="second-crash-waits-base"),
        pytest.param(BackoffEntry(10, T0), T0 + 5, T0 + 12, 3.0, id="window-counts-from-exit"),
        pytest.param(BackoffEntry(10, T0), T0 + 5, T0 + 15, 0.0, id="window-over-restart-now"),
        pytest.param(BackoffEntry(40, T0), T0 + 1, T0 + 1, 40.0, id="doubled-window-waited"),
        pytest.param(
            BackoffEntry(300, T0), T0 + 601, T0 + 601, 0.0, id="ran-ten-minutes-resets-backoff"
        ),
        pytest.param(
            BackoffEntry(300, T0), T0 + 599, T0 + 599, 300.0, id="ran-under-ten-minutes-keeps-it"
        ),
    ],
)
def test_remaining(entry: BackoffEntry | None, since: float, now: float, expected: float) -> None:
    assert backoff.remaining(KUBELET, entry, since=since, now=now) == expected


@pytest.mark.parametrize(
    ("entry", "since", "now", "expected"),
    [
        pytest.param(None, T0, T0, BackoffEntry(10, T0), id="first-restart-sets-base"),
        pytest.param(BackoffEntry(10, T0), T0 + 1, T0 + 11, BackoffEntry(20, T0 + 11), id="double"),
        pytest.param(
            BackoffEntry(160, T0), T0 + 1, T0 + 200, BackoffEntry(300, T0 + 200), id="capped-300s"
        ),
        pytest.param(
            BackoffEntry(300, T0), T0 + 1, T0 + 400, BackoffEntry(300, T0 + 400), id="stays-at-cap"
        ),
        pytest.param(
            BackoffEntry(300, T0),
            T0 + 700,
            T0 + 700,
            BackoffEntry(10, T0 + 700),
            id="reset-to-base",
        ),
    ],
)
def test_advance(
    entry: BackoffEntry | None, since: float, now: float, expected: BackoffEntry
) -> None:
    assert backoff.advance(KUBELET, entry, since=since, now=now) == expected


def test_crash_loop_delays_grow_10_20_40_to_300() -> None:
    """A container that crashes one second after each start: restarted at once, then after
    10, 20, 40, 80, 160, 300, 300 s (the kubelet's sequence)."""
    entry: BackoffEntry | None = None
    now = T0
    waits = []
    for _ in range(9):
        finished = now + 1  # ran one second
        wait = backoff.remaining(KUBELET, entry, since=finished, now=finished)
        waits.append(wait)
        now = finished + wait
        entry = backoff.advance(KUBELET, entry, since=finished, now=now)
    assert waits == [0, 10, 20, 40, 80, 160, 300, 300, 300]


def test_small_settings_scale_the_same_way() -> None:
    """Tests run with a small base and cap (KUBEPLAY_BACKOFF_BASE / _CAP)."""
    policy = BackoffPolicy(base=0.5, cap=2.0)
    entry = backoff.advance(policy, None, since=T0, now=T0)
    assert entry.delay == 0.5
    entry = backoff.advance(policy, entry, since=T0 + 1, now=T0 + 1.5)
    assert entry.delay == 1.0
    assert backoff.advance(policy, BackoffEntry(2.0, T0), since=T0, now=T0).delay == 2.0
    assert policy.reset_after == 4.0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(10, "10s", id="seconds"),
        pytest.param(20.0, "20s", id="float-seconds"),
        pytest.param(80, "1m20s", id="minutes"),
        pytest.param(300, "5m0s", id="cap-five-minutes"),
        pytest.param(0.5, "500ms", id="milliseconds"),
        pytest.param(1.5, "1.5s", id="fraction"),
        pytest.param(3600, "1h0m0s", id="hours"),
        pytest.param(0, "0s", id="zero"),
    ],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert backoff.go_duration(seconds) == text


def test_kubelet_messages() -> None:
    names = {"container": "app", "pod": "web", "namespace": "default", "uid": "u-1"}
    assert (
        backoff.crash_loop_message(20, **names)
        == "back-off 20s restarting failed container=app pod=web_default(u-1)"
    )
    assert (
        backoff.backoff_event_message(**names)
        == "Back-off restarting failed container app in pod web_default(u-1)"
    )
    assert backoff.image_backoff_message("nginx") == 'Back-off pulling image "nginx"'
