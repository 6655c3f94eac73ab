"""Benchmark `kubeplay apply` against `podman kube play` on the same machine, in one run.

    sudo .venv/bin/python bench/apply.py [--pods 50] [--runs 5]

What is measured, for one generated file of N single-container pods (the same file and image as
bench/run.py, imported into both tools from one rootfs tar):

- `kubeplay apply -f FILE` of N new pods against `podman kube play FILE`, wall time from spawn
  to exit, podman first, each followed by its `down`; target (issue 11) at most 0.5x;
- `kubeplay apply -f FILE` again with the N pods running (nothing changed), median of `--runs`;
  target at most 0.3 s. That apply makes no runtime call (tests/component/test_apply.py counts
  them), so this is CLI start-up, parsing, validation and one store read.

Set-up and clean-up are bench/run.py's (podman configured for runc, a private kubeplay root,
bridge kpbench0, the bench lock); everything this run made is removed at the end, also on
failure. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as base  # bench/run.py: set-up, tools, clean-up

TARGET_NEW_RATIO = 0.5
TARGET_UNCHANGED_S = 0.3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
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
            manifest = workdir / f"pods-{args.pods}.yaml"
            names = base.write_manifest(manifest, args.pods)
            base.run(["podman", "import", str(tar), base.IMAGE_REF])
            podman_image = True
            base.run(kubeplay.kp("image", "import", str(tar), base.IMAGE_REF), env=kubeplay.env)
            base.log(f"podman: kube play {args.pods}")
            up["podman"].append(manifest)
            pm = podman.play(manifest)
            base.wait_running(podman, names)
            podman.down(manifest)
            up["podman"].remove(manifest)
            base.log(f"kubeplay: apply {args.pods} new pods")
            up["kubeplay"].append(manifest)
            new = base.timed(kubeplay.kp("apply", "-f", str(manifest)), env=kubeplay.env)
            running = base.wait_running(kubeplay, names)
            if running != len(names):
                errors.append(f"kubeplay: {running}/{len(names)} pods Running")
            base.log(f"kubeplay: apply unchanged x{args.runs}")
            again = [
                base.timed(kubeplay.kp("apply", "-f", str(manifest)), env=kubeplay.env).seconds
                for _ in range(args.runs)
            ]
            unchanged = statistics.median(again)
            ratio = new.seconds / pm.seconds
            rows.append(
                (
                    f"apply {args.pods} new pods vs podman kube play",
                    f"{new.seconds:.2f} s vs {pm.seconds:.2f} s",
                    f"{ratio:.2f}x",
                    f"<= {TARGET_NEW_RATIO}x: {'met' if ratio <= TARGET_NEW_RATIO else 'NOT met'}",
                )
            )
            rows.append(
                (
                    f"apply {args.pods} unchanged pods (median of {args.runs})",
                    f"{unchanged:.3f} s ({', '.join(f'{s:.3f}' for s in again)})",
                    "",
                    f"<= {TARGET_UNCHANGED_S} s: "
                    + ("met" if unchanged <= TARGET_UNCHANGED_S else "NOT met"),
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
