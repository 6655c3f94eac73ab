"""Benchmark deleting a pod whose container lost its conmon (kill -9, a reboot).

`--pods` single-container pods (default 5) are played, each with terminationGracePeriodSeconds
30 and a main process that ignores SIGTERM; then each container's conmon and process are killed
with SIGKILL (what a crash or a reboot leaves), and `kubeplay delete pod NAME` is timed per pod,
from spawn to exit. With nothing to wait for, a delete must not wait the grace period (the
issue measured 10.4 s): target under 0.5 s each, a kubeplay CLI start included; the median of
as many `kubeplay get pods` is shown beside it, the floor any command pays.

kubeplay runs with its own roots under /tmp (bridge kptdb0, subnet 10.249.0.0/24);
everything is removed at the end (`kubeplay system reset --force` of those roots), also on
failure. Root only. Output: a markdown table on stdout, JSON in
bench/results/teardown-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
IMAGE = "localhost/kubeplay/busybox:latest"
ROOTFS = REPO / ".cache" / "busybox-rootfs.tar"
TARGET_S = 0.5


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "kubeplay", *args],
        cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"kubeplay {' '.join(args)}: {proc.returncode}: {proc.stderr}")
    return proc.stdout


def manifest(count: int) -> str:
    return "---\n".join(
        f"""apiVersion: v1
kind: Pod
metadata: {{name: kptd-{i:02d}}}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 30
  containers:
  - name: main
    image: {IMAGE}
    command: ["sh", "-c", "trap '' TERM; while :; do sleep 1; done"]
"""
        for i in range(count)
    )


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def supervisor_events(path: Path) -> dict[str, int]:
    """How often each supervisor event was logged: a `supervisor_already_running` is a
    supervisor started for nothing (a command saw none running while one was starting)."""
    counts: dict[str, int] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return counts
    for line in lines:
        try:
            event = str(json.loads(line).get("event"))
        except (ValueError, AttributeError):
            continue
        counts[event] = counts.get(event, 0) + 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=5)
    parser.add_argument("--rootfs", type=Path, default=ROOTFS, help="busybox rootfs tar")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/teardown.py must run as root", file=sys.stderr)
        return 1
    base = Path(tempfile.mkdtemp(prefix="kubeplay-tdbench-"))
    runroot = Path(tempfile.mkdtemp(prefix="kptd"))
    env = {
        **os.environ,
        "KUBEPLAY_CONFIG": "/nonexistent/kubeplay.toml",
        "KUBEPLAY_ROOT": str(base / "root"),
        "KUBEPLAY_RUNROOT": str(runroot),
        "KUBEPLAY_BRIDGE": os.environ.get("KUBEPLAY_BENCH_BRIDGE", "kptdb0"),
        "KUBEPLAY_SUBNET": os.environ.get("KUBEPLAY_BENCH_SUBNET", "10.249.0.0/24"),
        "KUBEPLAY_DNS_UPSTREAM": "none",
    }
    result: dict[str, Any] = {"pods": args.pods, "target_s": TARGET_S}
    ok = True
    try:
        if not args.rootfs.is_file():
            args.rootfs.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [str(REPO / "scripts" / "busybox-rootfs.sh"), str(args.rootfs)], check=True
            )
        run(env, "image", "import", str(args.rootfs), IMAGE, "--change", 'CMD ["/bin/sh"]')
        files = base / "pods.yaml"
        files.write_text(manifest(args.pods))
        log(f"play {args.pods} pods")
        run(env, "play", str(files))
        pods = json.loads(run(env, "get", "pods", "-o", "json"))["items"]
        victims: list[int] = []
        for pod in pods:
            cid = pod["status"]["containerStatuses"][0]["containerID"].split("://")[1]
            persist = runroot / "persist" / cid
            for name in ("conmon.pid", "pidfile"):
                pid = int((persist / name).read_text())
                os.kill(pid, signal.SIGKILL)
                victims.append(pid)
        deadline = time.monotonic() + 30
        while not all(_gone(p) for p in victims):
            if time.monotonic() > deadline:
                raise RuntimeError("conmon or container processes survived SIGKILL")
            time.sleep(0.05)
        baseline = []  # a CLI start that reads the store: what a delete costs at least
        for _ in range(len(pods)):
            started = time.monotonic()
            run(env, "get", "pods")
            baseline.append(time.monotonic() - started)
        result["get_pods_median_s"] = round(statistics.median(baseline), 3)
        times = []
        for pod in pods:
            started = time.monotonic()
            run(env, "delete", "pod", pod["metadata"]["name"])
            times.append(time.monotonic() - started)
        result["delete_s"] = [round(t, 3) for t in times]
        result["delete_median_s"] = round(statistics.median(times), 3)
        result["delete_max_s"] = round(max(times), 3)
        result["supervisor_log"] = supervisor_events(runroot / "supervisor.log")
    except Exception as err:  # report, clean up, exit 1
        log(f"failed: {err}")
        result["error"] = str(err)
        ok = False
    finally:
        subprocess.run(
            [sys.executable, "-m", "kubeplay", "system", "reset", "--force"],
            cwd=REPO, env=env, capture_output=True, check=False,
        )  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(runroot, ignore_errors=True)
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"teardown-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    if "delete_median_s" in result:
        verdict = "ok" if result["delete_max_s"] < TARGET_S else "over target"
        print("| delete of a pod whose conmon is gone | median | max | target | `get pods` |")
        print("|---|---|---|---|---|")
        print(
            f"| {args.pods} pods | {result['delete_median_s']} s | {result['delete_max_s']} s "
            f"| < {TARGET_S} s ({verdict}) | {result['get_pods_median_s']} s |"
        )
        print(
            f"\ndeletes in order: {result['delete_s']}; supervisor log: {result['supervisor_log']}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
