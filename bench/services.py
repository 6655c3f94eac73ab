"""Benchmark the Services' nft table: render it and apply it whole in one transaction.

    .venv/bin/python bench/services.py [--services 50] [--endpoints 2] [--runs 9]   (as root)

Target (issue 13): the rules of 50 Services x 2 endpoints applied in one transaction in at
most 25 ms.

What is timed: `plan.network.render_nft_ruleset` (pure, with the port rules of
`plan.services.compute_port_rules` over `compute_endpoints`) and `nft -f -` of the result,
the whole table replaced atomically as `engine.network.refresh` does, on a table that already
holds the previous version (the steady state). It runs in a throwaway network namespace
(`ip netns add kpsvcbench<hex>`), so no table of the host is touched and no packet is sent;
`ip netns exec NS true` is timed too and subtracted (the namespace switch, not nft's work).
Median of `--runs`. The namespace is removed at the end, also on failure. Holds
/run/kubeplay-bench.lock (waits for another benchmark); prints the load average.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kubeplay.plan import network, services


def _rules(n_services: int, n_endpoints: int) -> list[services.PortRule]:
    pods = [
        services.PodInfo(
            namespace="default",
            name=f"web{s}-{e}",
            ip=f"10.90.{s // 100}.{(s % 100) * 2 + e + 2}",
            labels={"app": f"web{s}"},
            ready=True,
        )
        for s in range(n_services)
        for e in range(n_endpoints)
    ]
    rules: list[services.PortRule] = []
    for s in range(n_services):
        body = {
            "metadata": {"name": f"web{s}", "namespace": "default"},
            "spec": {
                "selector": {"app": f"web{s}"},
                "clusterIP": f"10.96.{s // 200}.{s % 200 + 10}",
                "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            },
        }
        spec = services.service_spec(body)
        rules += services.compute_port_rules(spec, services.compute_endpoints(spec, pods))
    return rules


def _timed(argv: list[str], text: str = "") -> float:
    start = time.perf_counter()
    subprocess.run(argv, input=text, text=True, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--endpoints", type=int, default=2)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with Path("/run/kubeplay-bench.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    ns = "kpsvcbench" + secrets.token_hex(3)
    rules = _rules(args.services, args.endpoints)
    renders = []
    for _ in range(args.runs):
        start = time.perf_counter()
        text = network.render_nft_ruleset(
            table="kubeplay_bench",
            bridge="kpsvcbench0",
            subnet="10.90.0.0/16",
            port_maps=[],
            services=rules,
        )
        renders.append(time.perf_counter() - start)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        _timed(["ip", "netns", "exec", ns, "nft", "-f", "-"], text)  # the first version
        applies, floors = [], []
        for _ in range(args.runs):
            applies.append(_timed(["ip", "netns", "exec", ns, "nft", "-f", "-"], text))
            floors.append(_timed(["ip", "netns", "exec", ns, "true"]))
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    render_ms = statistics.median(renders) * 1000
    apply_ms = (statistics.median(applies) - statistics.median(floors)) * 1000
    print(
        f"{args.services} Services x {args.endpoints} endpoints: "
        f"ruleset {len(text) / 1024:.0f} KiB, "
        f"render {render_ms:.1f} ms, nft -f (whole table, one transaction) {apply_ms:.1f} ms "
        f"(netns exec floor {statistics.median(floors) * 1000:.1f} ms subtracted); "
        f"target <= 25 ms: {'met' if apply_ms <= 25 else 'NOT met'} "
        f"(load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
