"""The performance targets of issue 11, each as a ratio against podman on this machine, in one run.

Measured in interleaved pairs (kubeplay, podman, podman, kubeplay, ...: the order flips every
pair so neither always runs on a warmer or quieter machine), reported as min and median of the
per-pair ratios kubeplay/podman:

- `down` of 50 pods whose PID 1 ignores SIGTERM, terminationGracePeriodSeconds 1 (`--rounds`
  pairs; each tool plays the file, waits for every pod Running, then its `down` is timed);
  also in seconds: the target is at most 2.5 s;
- memory per running pod with those 50 pods up (both tools' pods at once; the same rule as
  bench/run.py: PSS of the pods' processes and descendants, the kubeplay supervisor
  included), once per round;
- `kubeplay get pods` against `podman pod ps` with the 50 pods up (`--list-runs` pairs per
  round);
- `play` of one pod (`--play-runs` pairs; each play is followed by an untimed down).

The supervisor's CPU with 50 probed pods has no podman counterpart: bench/supervisor.py.

Set-up and clean-up are bench/run.py's (podman via apt-get, /etc/containers/containers.conf
with runc and the host's ulimits, the image imported into both, kubeplay's own roots under
/tmp, bridge kpbench0); the same lock keeps it from overlapping bench/run.py. Root only.
Output: a markdown table, JSON in bench/results/targets-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from run import (
    IMAGE_REF,
    POD_COMMAND,
    BenchError,
    Interrupted,
    Kubeplay,
    Podman,
    Tool,
    bench_lock,
    build_rootfs_tar,
    cleanup,
    ensure_containers_conf,
    ensure_packages,
    kubeplay_argv,
    kubeplay_missing,
    list_procs,
    log,
    measure_memory,
    mem_available_kib,
    on_signal,
    run,
    wait_running,
)

REPO = Path(__file__).resolve().parent.parent
STUBBORN = ["/bin/sh", "-c", "trap '' TERM; while :; do sleep 1 & wait $!; done"]
TARGETS = {"down_s": 2.5, "down": None, "play1": 1.0, "get_pods": 1.0, "memory": 1.0}
FIGURES = ("down", "memory", "get_pods", "play1")


def write_pods(path: Path, count: int, *, command: Sequence[str], grace: int) -> list[str]:
    names = [f"kpbench-{i:03d}" for i in range(1, count + 1)]
    docs = [
        "apiVersion: v1\nkind: Pod\nmetadata:\n"
        f"  name: {name}\n"
        "spec:\n"
        f"  terminationGracePeriodSeconds: {grace}\n"
        "  containers:\n"
        "  - name: main\n"
        f"    image: {IMAGE_REF}\n"
        "    imagePullPolicy: Never\n"
        f"    command: {json.dumps(list(command))}\n"
        for name in names
    ]
    path.write_text("---\n".join(docs))
    return names


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def paired(
    kp: Callable[[], float], pm: Callable[[], float], runs: int
) -> list[tuple[float, float]]:
    """`runs` (kubeplay, podman) figures, the order flipped every pair."""
    out = []
    for i in range(runs):
        if i % 2 == 0:
            a = kp()
            b = pm()
        else:
            b = pm()
            a = kp()
        out.append((a, b))
    return out


def summary(pairs: Sequence[tuple[float, float]]) -> dict[str, Any]:
    ratios = [a / b for a, b in pairs if b]
    return {
        "kubeplay": [round(a, 4) for a, _ in pairs],
        "podman": [round(b, 4) for _, b in pairs],
        "ratio_min": min(ratios) if ratios else None,
        "ratio_median": statistics.median(ratios) if ratios else None,
        "kubeplay_min": min(a for a, _ in pairs) if pairs else None,
        "kubeplay_median": statistics.median(a for a, _ in pairs) if pairs else None,
        "podman_median": statistics.median(b for _, b in pairs) if pairs else None,
    }


def up_50(tool: Tool, manifest: Path, names: list[str], up: list[Path]) -> None:
    log(f"{tool.name}: play {len(names)}")
    up.append(manifest)
    tool.play(manifest)
    if wait_running(tool, names) != len(names):
        raise BenchError(f"{tool.name}: not every pod Running")


def down(tool: Tool, manifest: Path, up: list[Path]) -> float:
    log(f"{tool.name}: down")
    took = tool.down(manifest).seconds
    up.remove(manifest)
    if tool.leftover():
        raise BenchError(f"{tool.name}: pods left after down")
    return took


def memory_per_pod(
    tool: Tool, names: list[str], before: frozenset[int], by_comm: list[dict[str, Any]]
) -> float:
    """PSS per pod in KiB; the round's per-process-name breakdown is appended to `by_comm`."""
    procs = list_procs()
    roots = tool.pod_processes(procs, names, before=before)
    mem = measure_memory(roots, procs, pods=len(names), avail0=mem_available_kib())
    by_comm.append({"tool": tool.name, "processes": mem.by_comm})
    return mem.pss_kib_per_pod


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kubeplay", default=os.environ.get("KUBEPLAY_BENCH_CLI"))
    p.add_argument("--rounds", type=int, default=3, help="down/memory/listing rounds")
    p.add_argument("--list-runs", type=int, default=7)
    p.add_argument("--play-runs", type=int, default=7)
    p.add_argument("--pods", type=int, default=50)
    p.add_argument(
        "--figures",
        default=",".join(FIGURES),
        help=f"which figures, comma-separated (default: all of {','.join(FIGURES)})",
    )
    p.add_argument("--results-dir", type=Path, default=REPO / "bench" / "results")
    return p.parse_args(argv)


def fmt(value: float | None, unit: str = "x") -> str:
    if value is None:
        return "-"
    return f"{value:.2f}{unit}"


def render(figures: dict[str, dict[str, Any]]) -> str:
    rows = [
        "| figure | kubeplay median | podman median | ratio min | ratio median | target |",
        "|---|---|---|---|---|---|",
    ]
    labels = {
        "down": ("down of 50 SIGTERM-ignoring pods, grace 1 s", "s"),
        "memory": ("memory per running pod (PSS, 50 pods)", " KiB"),
        "get_pods": ("get pods / podman pod ps, 50 pods", "s"),
        "play1": ("play of one pod", "s"),
    }
    for key, (label, unit) in labels.items():
        f = figures.get(key)
        if not f:
            continue
        target = {"down": "<= 2.5 s"}.get(key, f"<= {TARGETS[key]}x")
        rows.append(
            f"| {label} | {fmt(f['kubeplay_median'], unit)} | {fmt(f['podman_median'], unit)} "
            f"| {fmt(f['ratio_min'])} | {fmt(f['ratio_median'])} | {target} |"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wanted = set(args.figures.split(","))
    if not wanted or wanted - set(FIGURES):
        print(f"--figures: choose from {','.join(FIGURES)}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("bench/targets.py must run as root", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = Path(tempfile.mkdtemp(prefix="kubeplay-bench-", dir="/tmp"))
    podman = Podman()
    kubeplay = Kubeplay(kubeplay_argv(args.kubeplay), base)
    up: dict[str, list[Path]] = {"podman": [], "kubeplay": []}
    figures: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    podman_image = False
    try:
        with bench_lock():
            ensure_packages()
            conf = ensure_containers_conf()
            log(f"containers.conf: {conf}")
            podman.remove_leftovers()
            tar = base / "rootfs.tar"
            build_rootfs_tar(tar)
            run(["podman", "import", str(tar), IMAGE_REF])
            podman_image = True
            reason = kubeplay_missing(kubeplay)
            if reason is not None:
                raise BenchError(f"kubeplay not available: {reason}")
            run(kubeplay.kp("image", "import", str(tar), IMAGE_REF), env=kubeplay.env)
            many = base / "stubborn.yaml"
            names = write_pods(many, args.pods, command=STUBBORN, grace=1)
            one = base / "one.yaml"
            one_names = write_pods(one, 1, command=POD_COMMAND, grace=10)

            downs: list[tuple[float, float]] = []
            memory: list[tuple[float, float]] = []
            memory_by_comm: list[dict[str, Any]] = []
            listing: list[tuple[float, float]] = []
            rounds = args.rounds if wanted & {"down", "memory", "get_pods"} else 0
            for i in range(rounds):
                before = frozenset(list_procs())
                tools: list[tuple[Tool, list[Path]]] = [
                    (kubeplay, up["kubeplay"]),
                    (podman, up["podman"]),
                ]
                for tool, tool_up in tools if i % 2 == 0 else reversed(tools):
                    up_50(tool, many, names, tool_up)
                time.sleep(1.0)  # settle, as bench/run.py
                if "memory" in wanted:
                    memory.append(
                        (
                            memory_per_pod(kubeplay, names, before, memory_by_comm),
                            memory_per_pod(podman, names, before, memory_by_comm),
                        )
                    )
                    # kept at once: a later step's failure (a down) keeps the figures so far
                    figures["memory"] = {**summary(memory), "by_process_name": memory_by_comm}
                if "get_pods" in wanted:
                    listing += paired(
                        lambda: kubeplay.list_pods().seconds,
                        lambda: podman.list_pods().seconds,
                        args.list_runs,
                    )
                if i % 2 == 0:
                    kp_down = down(kubeplay, many, up["kubeplay"])
                    pm_down = down(podman, many, up["podman"])
                else:
                    pm_down = down(podman, many, up["podman"])
                    kp_down = down(kubeplay, many, up["kubeplay"])
                downs.append((kp_down, pm_down))
                log(f"round {i + 1}: down {kp_down:.2f} s vs {pm_down:.2f} s")
            for key, pairs in (("down", downs), ("get_pods", listing)):
                if key in wanted:
                    figures[key] = summary(pairs)

            def play_one(tool: Tool, tool_up: list[Path]) -> float:
                tool_up.append(one)
                took = tool.play(one).seconds
                wait_running(tool, one_names)
                tool.down(one)
                tool_up.remove(one)
                return took

            if "play1" in wanted:
                log("play of one pod, paired")
                play_one(kubeplay, up["kubeplay"])  # warm-up (kubeplay's schema cache, podman's)
                play_one(podman, up["podman"])
                figures["play1"] = summary(
                    paired(
                        lambda: play_one(kubeplay, up["kubeplay"]),
                        lambda: play_one(podman, up["podman"]),
                        args.play_runs,
                    )
                )
    except (BenchError, OSError) as err:
        errors.append(str(err))
        log(f"error: {err}")
    except (KeyboardInterrupt, Interrupted) as err:
        errors.append(f"interrupted ({err or 'SIGINT'})")
    finally:
        errors += cleanup(podman, kubeplay, up, base=base, podman_image=podman_image)
    print(render(figures))
    if errors:
        print("\nerrors:\n" + "\n".join(f"- {e}" for e in errors))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"targets-{stamp}.json"
    result = {"timestamp": stamp, "kubeplay": kubeplay.argv, "figures": figures, "errors": errors}
    out.write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
