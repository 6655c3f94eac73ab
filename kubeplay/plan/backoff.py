"""The kubelet's restart back-off, one entry per container, as a pure state machine.

Mirrors client-go's flowcontrol.Backoff as the kubelet uses it (doBackOff in
pkg/kubelet/kuberuntime/kuberuntime_manager.go): a container's first restart happens at once
and creates its entry with the base delay (10 s); each later restart is allowed only once the
delay has passed since the container finished, and doubles the delay up to the cap (300 s).
An entry not touched for twice the cap (10 min with the defaults) has expired: a container that
ran that long without trouble starts over at the base. Containers that never ran (an image
pull or a configuration error) are gated the kubelet's other way, since the last attempt.
The supervisor keeps the entries and supplies `now`; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    base: float = 10.0
    cap: float = 300.0

    @property
    def reset_after(self) -> float:
        """flowcontrol's hasExpired: an entry idle for twice the cap starts over."""
        return 2 * self.cap


@dataclass(frozen=True, slots=True)
class BackoffEntry:
    delay: float  # the current back-off window
    updated_at: float  # when the window was last set (the last allowed restart)


def _expired(policy: BackoffPolicy, entry: BackoffEntry, at: float) -> bool:
    return at - entry.updated_at > policy.reset_after


def remaining(
    policy: BackoffPolicy, entry: BackoffEntry | None, *, since: float, now: float
) -> float:
    """Seconds before the container may start again (0: now). `since` is when it last
    finished (IsInBackOffSince), or for a container that never ran the entry's own update
    time (pass `entry.updated_at`: IsInBackOffSinceUpdate)."""
    if entry is None or _expired(policy, entry, since):
        return 0.0
    return max(0.0, entry.delay - (now - since))


def advance(
    policy: BackoffPolicy, entry: BackoffEntry | None, *, since: float, now: float
) -> BackoffEntry:
    """The entry after a restart is allowed (flowcontrol Next): base at first or after
    expiry, else double, capped."""
    if entry is None or _expired(policy, entry, since):
        return BackoffEntry(delay=min(policy.base, policy.cap), updated_at=now)
    return BackoffEntry(delay=min(entry.delay * 2, policy.cap), updated_at=now)


def go_duration(seconds: float) -> str:
    """A duration as Go's time.Duration prints it (10s, 1m20s, 5m0s, 500ms), the way the
    kubelet's messages show back-off windows."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    if minutes:
        return f"{minutes}m{secs}"
    return secs


def crash_loop_message(delay: float, *, container: str, pod: str, namespace: str, uid: str) -> str:
    """The waiting message of a container in CrashLoopBackOff (kubelet doBackOff)."""
    return (
        f"back-off {go_duration(delay)} restarting failed container={container} "
        f"pod={pod}_{namespace}({uid})"
    )


def backoff_event_message(*, container: str, pod: str, namespace: str, uid: str) -> str:
    """The BackOff event's message (events.BackOffStartContainer)."""
    return f"Back-off restarting failed container {container} in pod {pod}_{namespace}({uid})"


def image_backoff_message(image: str) -> str:
    """The waiting message of a container in ImagePullBackOff (kubelet's image manager)."""
    return f'Back-off pulling image "{image}"'
