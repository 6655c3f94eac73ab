"""Which OCI runtime binary to use on this host: crun where it works, runc otherwise.

Called once at start-up with `settings.runtime` ("auto", "runc", "crun" or an absolute path).
crun 1.8 refuses hybrid cgroup layouts (v1 controllers plus a cgroup2 mount at
/sys/fs/cgroup/unified), so "auto" picks crun only on pure v2 or pure v1 hosts. The choice is
a pure function of the cgroup layout and of which binaries are installed
(`choose_runtime`); `detect_runtime` feeds it the real host.
"""

from __future__ import annotations

import enum
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from kubeplay.errors import HostError

CGROUP_ROOT = "/sys/fs/cgroup"

# Debian package that provides each runtime, for the error message.
_PACKAGES = {"runc": "runc", "crun": "crun"}


class CgroupLayout(enum.StrEnum):
    UNIFIED = "unified"  # cgroup2 mounted at /sys/fs/cgroup
    HYBRID = "hybrid"  # v1 controllers plus cgroup2 at /sys/fs/cgroup/unified
    LEGACY = "legacy"  # v1 controllers only


def cgroup_layout(mounts: Iterable[tuple[str, str]]) -> CgroupLayout:
    """The layout from (mount point, fs type) pairs, as listed in /proc/self/mounts."""
    types: dict[str, str] = {}
    for point, fstype in mounts:
        types[point] = fstype  # a later mount on the same point hides the earlier one
    if types.get(CGROUP_ROOT) == "cgroup2":
        return CgroupLayout.UNIFIED
    if types.get(f"{CGROUP_ROOT}/unified") == "cgroup2":
        return CgroupLayout.HYBRID
    return CgroupLayout.LEGACY


def choose_runtime(
    preference: str, *, layout: CgroupLayout, which: Callable[[str], str | None]
) -> Path:
    """The runtime binary for `preference` on a host with `layout`; HostError if missing.

    `which` looks a command name up on PATH (shutil.which in production).
    """
    if preference == "auto":
        if layout is not CgroupLayout.HYBRID:
            crun = which("crun")
            if crun:
                return Path(crun)
        runc = which("runc")
        if runc:
            return Path(runc)
        wanted = "runc" if layout is CgroupLayout.HYBRID else "runc or crun"
        raise HostError(
            f"no OCI runtime found: install the Debian package {wanted!r} (cgroup layout: {layout})"
        )
    if preference.startswith("/"):
        if which(preference) is None:
            raise HostError(f"OCI runtime {preference}: not found or not executable")
        return Path(preference)
    if preference not in _PACKAGES:
        raise HostError(f"unknown OCI runtime {preference!r}: use auto, runc, crun or a path")
    found = which(preference)
    if found is None:
        raise HostError(
            f"OCI runtime {preference}: not found on PATH:"
            f" install the Debian package {_PACKAGES[preference]!r}"
        )
    return Path(found)


def read_mounts(path: str = "/proc/self/mounts") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3:
                out.append((fields[1].replace("\\040", " "), fields[2]))
    return out


def detect_runtime(preference: str = "auto") -> Path:
    """The runtime to use here: see `choose_runtime`."""
    return choose_runtime(preference, layout=cgroup_layout(read_mounts()), which=shutil.which)
