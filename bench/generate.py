"""Benchmark `generate kube` of 50 running pods: kubeplay against podman, in one run.

    .venv/bin/python bench/generate.py [--pods 50] [--runs 5]      (as root)

Targets (issue 6): kubeplay's `generate kube` of 50 running pods under 0.3 s wall, and at most
1.5x podman's `generate kube` of the same 50 pods in the same run.

The same 50 one-container pods (bench/run.py's manifest and image) are played with both tools
and left running; then, alternately, `podman generate kube kpbench-001 ... kpbench-050` and
`kubeplay generate kube` (every pod of the namespace: the same 50) are timed from spawn to exit,
`--runs` times each after one uncounted warm-up, and the medians compared. Wall time includes
each CLI's start-up (Go runtime, Python imports), as a user sees it.

Set-up and clean-up are bench/run.py's (podman with runc, a private kubeplay root under /tmp,
bridge kpbench0, the same lock file): everything made is removed at the end, also on failure.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import run as base  # bench/run.py: set-up, tools and clean-up shared with `make bench`

TARGET_S = 0.3
TARGET_RATIO = 1.5


def timed_runs(argv: list[str], *, env: dict[str, str] | None, runs: int) -> list[float]:
    base.timed(argv, env=env)  # warm-up, not counted
    return [base.timed(argv, env=env).seconds for _ in range(runs)]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--pods", type=int, default=50)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--kubeplay", default=None, help="kubeplay command line (as bench/run.py)")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("bench/generate.py must run as root", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, base.on_signal)
    tmp = Path(tempfile.mkdtemp(prefix="kubeplay-bench-gen-", dir="/tmp"))
    podman = base.Podman()
    kubeplay = base.Kubeplay(base.kubeplay_argv(args.kubeplay), tmp)
    up: dict[str, list[Path]] = {"podman": [], "kubeplay": []}
    errors: list[str] = []
    podman_image = False
    pm: list[float] = []
    kp: list[float] = []
    try:
        with base.bench_lock():
            base.ensure_packages()
            base.ensure_containers_conf()
            podman.remove_leftovers()
            tar = tmp / "rootfs.tar"
            base.build_rootfs_tar(tar)
            manifest = tmp / f"pods-{args.pods}.yaml"
            names = base.write_manifest(manifest, args.pods)
            base.run(["podman", "import", str(tar), base.IMAGE_REF])
            podman_image = True
            base.run(kubeplay.kp("image", "import", str(tar), base.IMAGE_REF), env=kubeplay.env)
            for tool in (podman, kubeplay):
                base.log(f"{tool.name}: play {args.pods}")
                up[tool.name].append(manifest)
                tool.play(manifest)
                running = base.wait_running(tool, names)
                if running != len(names):
                    raise base.BenchError(f"{tool.name}: {running}/{len(names)} pods Running")
            base.log(f"timing generate kube, {args.runs} runs each")
            pm_argv = ["podman", "generate", "kube", *names]
            kp_argv = kubeplay.kp("generate", "kube")
            pm_out = base.run(pm_argv).stdout
            kp_out = base.run(kp_argv, env=kubeplay.env).stdout
            if kp_out.count("kind: Pod") != len(names) or pm_out.count("kind: Pod") != len(names):
                raise base.BenchError("generate kube did not give every pod back")
            pm = timed_runs(pm_argv, env=None, runs=args.runs)
            kp = timed_runs(kp_argv, env=kubeplay.env, runs=args.runs)
    except (base.BenchError, subprocess.TimeoutExpired) as err:
        errors.append(str(err))
        base.log(f"error: {err}")
    except (KeyboardInterrupt, base.Interrupted) as err:
        errors.append(f"interrupted ({err or 'SIGINT'})")
    finally:
        errors += base.cleanup(podman, kubeplay, up, base=tmp, podman_image=podman_image)
    if pm and kp:
        pm_s, kp_s = statistics.median(pm), statistics.median(kp)
        ratio = kp_s / pm_s
        print(f"| generate kube, {args.pods} running pods (median of {args.runs}) | s |")
        print("|---|---:|")
        print(f"| podman generate kube | {pm_s:.3f} |")
        print(f"| kubeplay generate kube | {kp_s:.3f} |")
        print(f"| ratio kubeplay/podman | {ratio:.2f} |")
        print()
        print("| target | value | pass |")
        print("|---|---:|---|")
        print(f"| kubeplay < {TARGET_S} s | {kp_s:.3f} | {'yes' if kp_s < TARGET_S else 'NO'} |")
        verdict = "yes" if ratio <= TARGET_RATIO else "NO"
        print(f"| kubeplay/podman <= {TARGET_RATIO} | {ratio:.2f} | {verdict} |")
        print(f"\nruns: podman {[round(s, 3) for s in pm]}, kubeplay {[round(s, 3) for s in kp]}")
    if errors:
        print("\nerrors:\n" + "\n".join(f"- {e}" for e in errors))
    base.log(f"done at {time.strftime('%H:%M:%S')}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
