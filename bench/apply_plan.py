"""Benchmark the pure decision of `apply` (`plan/apply.compute_apply`) for 50 pods.

    .venv/bin/python bench/apply_plan.py [--pods 50] [--runs 20]      (no root needed)

Target (issue 11): `apply` of an unchanged file of 50 pods in at most 0.3 s, the whole command.
This measures only its pure part, so the store and the CLI keep nearly all of that budget: the
unchanged fast path (canonical-JSON SHA-256 equal to the last applied), the three-way merge and
defaulting of 50 changed pods (a new image each), and 50 creates. Prints the median of `--runs`
in milliseconds, after one uncounted warm-up.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable
from typing import Any

from kubeplay.kube import defaults
from kubeplay.kube.objects import KubeObject
from kubeplay.plan import apply

SOURCE = "apply:/bench"


def _pod(i: int, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"kpbench-{i:03d}", "labels": {"app": "bench", "index": str(i)}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": image,
                    "command": ["sh", "-c", "sleep 3600"],
                    "env": [{"name": "INDEX", "value": str(i)}],
                    "ports": [{"containerPort": 8080}],
                    "readinessProbe": {"httpGet": {"port": 8080}, "periodSeconds": 1},
                    "resources": {"limits": {"memory": "64Mi", "cpu": "100m"}},
                }
            ],
            "terminationGracePeriodSeconds": 1,
        },
    }


def _record(body: dict[str, Any]) -> apply.AppliedRecord:
    live = defaults.default_object(body)
    live["metadata"]["uid"] = f"uid-{body['metadata']['name']}"
    return apply.AppliedRecord(
        key=apply.key_of(KubeObject(body)),
        uid=live["metadata"]["uid"],
        source=SOURCE,
        last_applied=copy.deepcopy(body),
        last_applied_sha256=apply.manifest_sha256(body),
        live=live,
    )


def _median_ms(step: Callable[[], apply.ApplyActions], runs: int) -> float:
    step()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    old = [_pod(i, "busybox:1.36") for i in range(args.pods)]
    new = [_pod(i, "busybox:1.37") for i in range(args.pods)]
    stored = [_record(body) for body in old]
    unchanged = [KubeObject(body, source="pods.yaml", doc_index=i) for i, body in enumerate(old)]
    changed = [KubeObject(body, source="pods.yaml", doc_index=i) for i, body in enumerate(new)]

    def run(desired: list[KubeObject], records: list[apply.AppliedRecord]) -> apply.ApplyActions:
        return apply.compute_apply(desired, records, source=SOURCE, mode=apply.ApplyMode.APPLY)

    cases = {
        "unchanged": lambda: run(unchanged, stored),
        "image changed (merge, default, compare)": lambda: run(changed, stored),
        "created": lambda: run(unchanged, []),
    }
    print(f"| compute_apply, {args.pods} pods | median ms ({args.runs} runs) |")
    print("|---|---|")
    for name, step in cases.items():
        print(f"| {name} | {_median_ms(step, args.runs):.2f} |")


if __name__ == "__main__":
    main()
