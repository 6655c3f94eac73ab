"""Benchmark Deployments (issue 12): `scale` 1 -> N against `podman kube play` of N pods, and
a 3-replica rolling update, on the same machine, in one run.

    sudo .venv/bin/python bench/scale.py [--pods 50]

- podman: `podman kube play FILE` of N single-container pods (bench/run.py's file and image),
  wall time from spawn until every pod is Running; then its `down`.
- kubeplay: a Deployment of the same container with 1 replica is applied and Ready, then
  `kubeplay scale deployment/kubeplay-bench --replicas N` is timed from spawn until the
  Deployment's status says N available (every pod Ready); target (issue 12) at most 0.5x.
- A rolling update of 3 replicas at maxSurge/maxUnavailable 25 % with an exec readiness probe
  (`true`, every second): `apply` of a changed template until `rollout status` says it is
  rolled out; the time is reported (about 1-3 s expected: three Ready-gated steps).

Set-up and clean-up are bench/run.py's. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as base  # bench/run.py: set-up, tools, clean-up

TARGET_RATIO = 0.5
NAME = "kubeplay-bench"


def deployment(replicas: int, *, mode: str = "a", probe: bool = False) -> str:
    readiness = (
        '        readinessProbe:\n          exec: {command: ["true"]}\n          periodSeconds: 1\n'
        if probe
        else ""
    )
    return (
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        f"  name: {NAME}\n"
        "spec:\n"
        f"  replicas: {replicas}\n"
        "  selector:\n"
        f"    matchLabels: {{app: {NAME}}}\n"
        "  template:\n"
        "    metadata:\n"
        f"      labels: {{app: {NAME}}}\n"
        "    spec:\n"
        "      terminationGracePeriodSeconds: 10\n"
        "      containers:\n"
        "      - name: main\n"
        f"        image: {base.IMAGE_REF}\n"
        "        imagePullPolicy: Never\n"
        f"        command: {json.dumps(base.POD_COMMAND)}\n"
        f"        env: [{{name: MODE, value: {mode}}}]\n" + readiness
    )


def available(kubeplay: base.Kubeplay) -> int:
    out = base.run(kubeplay.kp("get", "deployment", NAME, "-o", "json"), env=kubeplay.env).stdout
    status = json.loads(out).get("status") or {}
    return int(status.get("availableReplicas") or 0)


def wait_available(kubeplay: base.Kubeplay, count: int) -> bool:
    deadline = time.monotonic() + 120
    while available(kubeplay) < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=50)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="kubeplay-bench-", dir="/tmp"))
    podman = base.Podman()
    kubeplay = base.Kubeplay(base.kubeplay_argv(None), workdir)
    up: dict[str, list[Path]] = {"podman": [], "kubeplay": []}
    podman_image = False
    rows: list[tuple[str, str, str, str]] = []
    errors: list[str] = []
    try:
        with base.bench_lock():
            base.ensure_packages()
            base.ensure_containers_conf()
            podman.remove_leftovers()
            tar = workdir / "rootfs.tar"
            base.build_rootfs_tar(tar)
            pods = workdir / f"pods-{args.pods}.yaml"
            names = base.write_manifest(pods, args.pods)
            base.run(["podman", "import", str(tar), base.IMAGE_REF])
            podman_image = True
            base.run(kubeplay.kp("image", "import", str(tar), base.IMAGE_REF), env=kubeplay.env)
            base.log(f"podman: kube play {args.pods}")
            up["podman"].append(pods)
            start = time.monotonic()
            podman.play(pods)
            base.wait_running(podman, names)
            pm = time.monotonic() - start
            podman.down(pods)
            up["podman"].remove(pods)
            manifest = workdir / "deployment.yaml"
            manifest.write_text(deployment(1))
            up["kubeplay"].append(manifest)
            base.run(kubeplay.kp("apply", "-f", str(manifest)), env=kubeplay.env)
            if not wait_available(kubeplay, 1):
                raise base.BenchError("kubeplay: the first replica never became available")
            base.log(f"kubeplay: scale 1 -> {args.pods}")
            start = time.monotonic()
            base.run(
                kubeplay.kp("scale", f"deployment/{NAME}", "--replicas", str(args.pods)),
                env=kubeplay.env,
            )
            ok = wait_available(kubeplay, args.pods)
            kp = time.monotonic() - start
            if not ok:
                errors.append(f"kubeplay: {available(kubeplay)}/{args.pods} available")
            ratio = kp / pm
            rows.append(
                (
                    f"scale 1 -> {args.pods} until all Ready vs podman kube play {args.pods}",
                    f"{kp:.2f} s vs {pm:.2f} s",
                    f"{ratio:.2f}x",
                    f"<= {TARGET_RATIO}x: {'met' if ratio <= TARGET_RATIO else 'NOT met'}",
                )
            )
            base.log("kubeplay: rolling update of 3 replicas")
            base.run(
                kubeplay.kp("scale", f"deployment/{NAME}", "--replicas", "3"), env=kubeplay.env
            )
            manifest.write_text(deployment(3, probe=True))
            base.run(kubeplay.kp("apply", "-f", str(manifest)), env=kubeplay.env)
            base.run(
                kubeplay.kp("rollout", "status", f"deployment/{NAME}", "--timeout", "120"),
                env=kubeplay.env,
            )
            manifest.write_text(deployment(3, mode="b", probe=True))
            start = time.monotonic()
            base.run(kubeplay.kp("apply", "-f", str(manifest)), env=kubeplay.env)
            base.run(
                kubeplay.kp("rollout", "status", f"deployment/{NAME}", "--timeout", "120"),
                env=kubeplay.env,
            )
            rolled = time.monotonic() - start
            rows.append(
                (
                    "rolling update, 3 replicas, 25 %/25 %, exec readiness every 1 s",
                    f"{rolled:.2f} s",
                    "",
                    "reported",
                )
            )
    except (base.BenchError, OSError) as err:
        errors.append(str(err))
    finally:
        errors += base.cleanup(podman, kubeplay, up, base=workdir, podman_image=podman_image)
    print("| measure | time | ratio | target |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
