"""Resource and probe rules, as kube-score (container-resources, pod-probes) and kube-linter
(unset-cpu-requirements, unset-memory-requirements, no-readiness-probe, no-liveness-probe)
report them: every container should request and limit cpu and memory; every long-running
container (not an init container, not a Job's or a run-to-completion pod's) should have a
readiness and a liveness probe. Warnings only, and `--no-resource-checks` turns them off. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeplay.plan.check.images import containers

# Kinds whose pods run to completion: probes are not expected there.
BATCH_KINDS = ("Job", "CronJob")


@dataclass(frozen=True, slots=True)
class ResourceProblem:
    rule: str
    path: str
    message: str


def _d(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def check_resources(kind: str, spec: Mapping[str, Any], prefix: str) -> list[ResourceProblem]:
    problems: list[ResourceProblem] = []
    long_running = kind not in BATCH_KINDS and spec.get("restartPolicy") in (None, "Always")
    for path, ctr in containers(spec, prefix):
        name = ctr.get("name")
        resources = _d(ctr.get("resources"))
        for field, rule, effect in (
            (
                "requests",
                "resources-requests-unset",
                "the scheduler places it as if it needed none, and it is evicted first",
            ),
            (
                "limits",
                "resources-limits-unset",
                "it may take a node's whole CPU or memory from its neighbours",
            ),
        ):
            missing = [r for r in ("cpu", "memory") if r not in _d(resources.get(field))]
            if missing:
                problems.append(
                    ResourceProblem(
                        rule,
                        f"{path}.resources.{field}" if resources.get(field) else f"{path}",
                        f"container {name} sets no {' or '.join(missing)} {field}: {effect}",
                    )
                )
        init = ".initContainers[" in path
        if not long_running or init:
            continue
        for probe, rule, effect in (
            (
                "readinessProbe",
                "probe-readiness-missing",
                "it is Ready as soon as it starts, and Services send it traffic before it "
                "can answer",
            ),
            (
                "livenessProbe",
                "probe-liveness-missing",
                "a hung container is never restarted",
            ),
        ):
            if not ctr.get(probe):
                problems.append(
                    ResourceProblem(rule, path, f"container {name} has no {probe}: {effect}")
                )
    return problems
