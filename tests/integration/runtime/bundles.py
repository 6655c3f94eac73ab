"""Test helpers: a busybox rootfs from the host, minimal OCI bundles, leftover detection.

The real spec builder lives in kubeplay/plan/ocispec.py; these tests stay independent of it
and write the smallest config.json runc accepts. Containers get cgroupsPath
/kubeplay-test/<cid>, so every cgroup directory a test made can be found and removed.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "sleep", "echo", "cat", "true", "false", "env", "id", "ls", "pwd", "kill")
CGROUP_PARENT = "kubeplay-test"
CGROUP_ROOT = Path("/sys/fs/cgroup")

_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN", "CAP_SETUID"]


def build_rootfs(root: Path) -> Path:
    """A read-only-usable rootfs: static busybox, applet symlinks, mount points."""
    (root / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for applet in APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    for d in ("proc", "dev", "sys", "tmp", "etc"):
        (root / d).mkdir()
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    return root


def cgroups_path(cid: str) -> str:
    return f"/{CGROUP_PARENT}/{cid}"


def write_bundle(
    bundle: Path,
    *,
    rootfs: Path,
    cid: str,
    args: Sequence[str],
    terminal: bool = False,
    pid_namespace: bool = True,
) -> Path:
    """A bundle dir whose config.json runs `args` in `rootfs` (read-only).

    Without a pid namespace `args` is not an init, so SIGTERM kills it as on the host.
    """
    namespaces = ["pid"] if pid_namespace else []
    namespaces += ["network", "ipc", "uts", "mount"]
    bundle.mkdir(parents=True, exist_ok=True)
    caps = list(_CAPS)
    config = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": terminal,
            "user": {"uid": 0, "gid": 0},
            "args": list(args),
            "env": ["PATH=/bin", "HOME=/"],
            "cwd": "/",
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
            "noNewPrivileges": True,
        },
        "root": {"path": str(rootfs), "readonly": True},
        "hostname": cid[:63],
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
            },
            {
                "destination": "/tmp",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "nodev", "mode=1777"],
            },
            {
                "destination": "/sys",
                "type": "sysfs",
                "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"],
            },
        ],
        "linux": {
            "cgroupsPath": cgroups_path(cid),
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in namespaces],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"],
        },
    }
    (bundle / "config.json").write_text(json.dumps(config, indent=1))
    return bundle


def cgroup_dirs(cid: str) -> list[Path]:
    """The cgroup directories of `cid` in every mounted hierarchy."""
    return [p for p in CGROUP_ROOT.glob(f"*/{CGROUP_PARENT}/{cid}") if p.is_dir()]


def conmon_pids(cid: str) -> list[int]:
    """Live (non-zombie) conmon processes monitoring `cid`."""
    pids: list[int] = []
    want = cid.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if not args or os.path.basename(args[0]) != b"conmon":
            continue
        if any(a == b"-c" and b == want for a, b in itertools.pairwise(args)):
            pids.append(int(entry))
    return pids


def remove_cgroup_dirs(cid: str) -> None:
    for path in cgroup_dirs(cid):
        for sub in sorted(path.glob("**/"), key=lambda p: len(p.parts), reverse=True):
            if sub != path:
                sub.rmdir()
        path.rmdir()


def remove_cgroup_parent() -> None:
    for path in CGROUP_ROOT.glob(f"*/{CGROUP_PARENT}"):
        with contextlib.suppress(OSError):  # another run's containers are still in it
            path.rmdir()
