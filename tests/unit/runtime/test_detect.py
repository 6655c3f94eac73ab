"""Runtime choice as a function of the cgroup layout and the installed binaries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kubeplay.errors import HostError
from kubeplay.runtime.detect import CgroupLayout, cgroup_layout, choose_runtime, read_mounts

HYBRID_MOUNTS = [
    ("/sys/fs/cgroup", "tmpfs"),
    ("/sys/fs/cgroup/memory", "cgroup"),
    ("/sys/fs/cgroup/pids", "cgroup"),
    ("/sys/fs/cgroup/unified", "cgroup2"),
]


@pytest.mark.parametrize(
    ("mounts", "expected"),
    [
        pytest.param([("/", "ext4"), ("/sys/fs/cgroup", "cgroup2")], CgroupLayout.UNIFIED,
                     id="unified"),
        pytest.param(HYBRID_MOUNTS, CgroupLayout.HYBRID, id="hybrid"),
        pytest.param(HYBRID_MOUNTS[:3], CgroupLayout.LEGACY, id="legacy"),
        pytest.param([], CgroupLayout.LEGACY, id="nothing-mounted"),
        pytest.param([("/sys/fs/cgroup", "tmpfs"), ("/sys/fs/cgroup", "cgroup2")],
                     CgroupLayout.UNIFIED, id="later-mount-wins"),
    ],
)  # fmt: skip
def test_cgroup_layout(mounts: list[tuple[str, str]], expected: CgroupLayout) -> None:
    assert cgroup_layout(mounts) is expected


def which_from(*installed: str) -> Callable[[str], str | None]:
    table = {name: f"/usr/bin/{name}" for name in installed}

    def which(name: str) -> str | None:
        if name.startswith("/"):
            return name if name in table.values() else None
        return table.get(name)

    return which


@pytest.mark.parametrize(
    ("preference", "layout", "installed", "expected"),
    [
        pytest.param("auto", CgroupLayout.UNIFIED, ("runc", "crun"), "/usr/bin/crun",
                     id="auto-v2-prefers-crun"),
        pytest.param("auto", CgroupLayout.LEGACY, ("runc", "crun"), "/usr/bin/crun",
                     id="auto-v1-prefers-crun"),
        pytest.param("auto", CgroupLayout.HYBRID, ("runc", "crun"), "/usr/bin/runc",
                     id="auto-hybrid-runc"),
        pytest.param("auto", CgroupLayout.UNIFIED, ("runc",), "/usr/bin/runc",
                     id="auto-v2-no-crun"),
        pytest.param("auto", CgroupLayout.UNIFIED, ("crun",), "/usr/bin/crun",
                     id="auto-v2-only-crun"),
        pytest.param("runc", CgroupLayout.UNIFIED, ("runc", "crun"), "/usr/bin/runc",
                     id="named-runc"),
        pytest.param("crun", CgroupLayout.HYBRID, ("runc", "crun"), "/usr/bin/crun",
                     id="named-crun-even-hybrid"),
        pytest.param("/usr/bin/crun", CgroupLayout.HYBRID, ("crun",), "/usr/bin/crun",
                     id="absolute-path"),
    ],
)  # fmt: skip
def test_choose_runtime(
    preference: str, layout: CgroupLayout, installed: tuple[str, ...], expected: str
) -> None:
    assert choose_runtime(preference, layout=layout, which=which_from(*installed)) == Path(expected)


@pytest.mark.parametrize(
    ("preference", "layout", "installed", "needle"),
    [
        pytest.param("auto", CgroupLayout.HYBRID, ("crun",), "'runc'", id="hybrid-only-crun"),
        pytest.param("auto", CgroupLayout.UNIFIED, (), "'runc or crun'", id="auto-none"),
        pytest.param("runc", CgroupLayout.UNIFIED, ("crun",), "package 'runc'", id="no-runc"),
        pytest.param("crun", CgroupLayout.UNIFIED, ("runc",), "package 'crun'", id="no-crun"),
        pytest.param("/opt/runc", CgroupLayout.UNIFIED, ("runc",), "/opt/runc", id="bad-path"),
        pytest.param("youki", CgroupLayout.UNIFIED, ("runc",), "unknown", id="unknown-name"),
    ],
)
def test_choose_runtime_missing(
    preference: str, layout: CgroupLayout, installed: tuple[str, ...], needle: str
) -> None:
    with pytest.raises(HostError, match=needle):
        choose_runtime(preference, layout=layout, which=which_from(*installed))


def test_read_mounts(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n"
        "tmpfs /mnt/with\\040space tmpfs rw 0 0\n"
        "short\n"
    )
    assert read_mounts(str(mounts)) == [
        ("/sys/fs/cgroup/unified", "cgroup2"),
        ("/mnt/with space", "tmpfs"),
    ]
