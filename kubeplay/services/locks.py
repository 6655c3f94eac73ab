"""Per-pod locks for the use cases. They live in `engine.locks` since the supervisor (in the
engine) takes the same locks; this module keeps the services' import path."""

from __future__ import annotations

from kubeplay.engine.locks import pod_locks

__all__ = ["pod_locks"]
