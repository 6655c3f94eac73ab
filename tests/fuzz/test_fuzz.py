"""Fuzzing the input path: loader -> validator -> planner on 10,000+ generated documents.

Manifests come from the Kubernetes schema and are mutated (`strategies`). Whatever the input,
kubeplay either plays it (the Pods that validate compile to plans) or refuses it with a
KubeplayError: any other exception is a bug. Each input is also bounded: the process's peak
resident memory (getrusage's ru_maxrss, which counts libyaml's C allocations too and costs
nothing to read, unlike tracemalloc) never grows by more than MEMORY_LIMIT over the run, so
no single input took more; and a hang guard (SIGALRM after HANG_SECONDS, far above the
milliseconds a document takes) turns an endless loop into a failure instead of a stuck
suite. Hypothesis is derandomized and keeps no database: every run draws the same
documents, so a failure here is reproducible, not flaky.
"""

from __future__ import annotations

import contextlib
import resource
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from kubeplay.errors import KubeplayError
from kubeplay.kube import loader, validate
from kubeplay.plan import pods as plans
from tests.fuzz import strategies

DOCUMENTS = 10_000
EXAMPLES = 5_300  # one to three documents each: about 10,600
MEMORY_LIMIT = 128 * 1024 * 1024
HANG_SECONDS = 30

FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Hang(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang(f"one input took more than {HANG_SECONDS} s")


@pytest.fixture
def hang_guard() -> Iterator[None]:
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _peak_rss() -> int:
    """This process's peak resident memory so far, in KiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def play_input(text: str) -> str:
    """Load, validate and plan `text` as `play` does before it creates anything (and check
    names as `down` does): "planned", or the first line of the KubeplayError that refused it."""
    try:
        objects = loader.load_text(text, source="fuzz.yaml")
        with contextlib.suppress(KubeplayError):  # `down` stops here; `play` reports all
            validate.check_names(objects)
        validate.validate(objects)
        for obj in objects:
            pod = _as_pod(obj.body)
            if pod is not None:
                plans.compile_pod(pod, uid="00000000-0000-0000-0000-000000000000")
    except KubeplayError as err:
        return str(err).splitlines()[0]
    return "planned"


def _as_pod(body: dict[str, Any]) -> dict[str, Any] | None:
    """A Pod as is; a Deployment's template as the Pod its ReplicaSet would create."""
    if body.get("kind") == "Pod":
        return body
    if body.get("kind") == "Deployment":
        template = body["spec"]["template"]
        return {**template, "metadata": {**template.get("metadata", {}), "name": "web-1"}}
    return None


def test_load_validate_plan_never_traceback(hang_guard: None) -> None:
    seen = {"documents": 0, "planned": 0, "refused": 0}
    play_input(strategies.dump({"apiVersion": "v1", "kind": "Pod"}, as_json=False))  # imports
    baseline = _peak_rss()

    @FUZZ
    @given(strategies.documents())
    def one(drawn: tuple[str, int]) -> None:
        text, count = drawn
        signal.alarm(HANG_SECONDS)
        try:
            outcome = play_input(text)
        finally:
            signal.alarm(0)
        grown = (_peak_rss() - baseline) * 1024
        assert grown < MEMORY_LIMIT, f"peak memory grew by {grown} bytes on this input"
        seen["documents"] += count
        seen["planned" if outcome == "planned" else "refused"] += 1

    one()
    assert seen["documents"] >= DOCUMENTS
    # Both paths are exercised: a fuzz that only ever fails validation tests little.
    assert seen["planned"] >= EXAMPLES // 50, seen
    assert seen["refused"] >= EXAMPLES // 5, seen
