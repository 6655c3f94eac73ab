"""activeDeadlineSeconds: when a pod has been active too long (kubelet's activeDeadlineHandler).

The deadline counts from the pod's startTime; once it has passed, the kubelet kills the pod's
containers and marks it Failed with reason DeadlineExceeded. `deadline_exceeded` is that
decision and `seconds_left` what a timer waits for; the engine's `enforce_deadline` carries it
out and the supervisor calls it. Pure: `now` is passed in.
"""

from __future__ import annotations

REASON = "DeadlineExceeded"
MESSAGE = "Pod was active on the node longer than the specified deadline"


def seconds_left(
    active_deadline_seconds: int | None, started_at: float | None, now: float
) -> float | None:
    """Seconds until the deadline (negative once passed); None without deadline or start."""
    if active_deadline_seconds is None or started_at is None:
        return None
    return started_at + active_deadline_seconds - now


def deadline_exceeded(
    active_deadline_seconds: int | None, started_at: float | None, now: float
) -> bool:
    """kubelet pastActiveDeadline: now - startTime >= activeDeadlineSeconds."""
    left = seconds_left(active_deadline_seconds, started_at, now)
    return left is not None and left <= 0
