from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubeplay.plan.seccomp import SeccompProfileError, convert_profile

# An excerpt of containers-common's /usr/share/containers/seccomp.json, kept in its shape.
PROFILE: dict[str, Any] = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 38,
    "defaultErrno": "ENOSYS",
    "archMap": [
        {
            "architecture": "SCMP_ARCH_X86_64",
            "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        },
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        {"architecture": "SCMP_ARCH_S390X", "subArchitectures": ["SCMP_ARCH_S390"]},
    ],
    "syscalls": [
        {
            "names": ["bdflush", "kexec_load"],
            "action": "SCMP_ACT_ERRNO",
            "args": [],
            "comment": "",
            "includes": {},
            "excludes": {},
            "errnoRet": 1,
            "errno": "EPERM",
        },
        {
            "names": ["accept", "read", "write"],
            "action": "SCMP_ACT_ALLOW",
            "args": [],
            "comment": "",
            "includes": {},
            "excludes": {},
        },
        {
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
            "comment": "",
            "includes": {},
            "excludes": {},
        },
        {
            "names": ["arch_prctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [],
            "comment": "",
            "includes": {"arches": ["amd64", "x32"]},
            "excludes": {},
        },
        {
            "names": ["arm_fadvise64_64"],
            "action": "SCMP_ACT_ALLOW",
            "args": [],
            "comment": "",
            "includes": {"arches": ["arm", "arm64"]},
            "excludes": {},
        },
        {
            "names": ["chroot"],
            "action": "SCMP_ACT_ALLOW",
            "args": [],
            "comment": "",
            "includes": {"caps": ["CAP_SYS_CHROOT"]},
            "excludes": {},
        },
        {
            "names": ["chroot"],
            "action": "SCMP_ACT_ERRNO",
            "args": [],
            "comment": "",
            "includes": {},
            "excludes": {"caps": ["CAP_SYS_CHROOT"]},
            "errnoRet": 1,
            "errno": "EPERM",
        },
        {
            "names": ["bpf", "mount"],
            "action": "SCMP_ACT_ALLOW",
            "args": [],
            "comment": "",
            "includes": {"caps": ["CAP_SYS_ADMIN"]},
            "excludes": {},
        },
        {
            "names": ["socket"],
            "action": "SCMP_ACT_ERRNO",
            "args": [
                {"index": 0, "value": 16, "valueTwo": 0, "op": "SCMP_CMP_EQ"},
                {"index": 2, "value": 9, "valueTwo": 0, "op": "SCMP_CMP_EQ"},
            ],
            "comment": "",
            "includes": {},
            "excludes": {"caps": ["CAP_AUDIT_WRITE"]},
            "errnoRet": 22,
            "errno": "EINVAL",
        },
        {
            "names": ["socket"],
            "action": "SCMP_ACT_ALLOW",
            "args": None,
            "comment": "",
            "includes": {"caps": ["CAP_AUDIT_WRITE"]},
            "excludes": {},
        },
    ],
}

DEFAULT_CAPS = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
)


def _names(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(n, s["action"]) for s in result["syscalls"] for n in s["names"]]


def test_default_action_and_errno() -> None:
    result = convert_profile(PROFILE, capabilities=DEFAULT_CAPS)
    assert result["defaultAction"] == "SCMP_ACT_ERRNO"
    assert result["defaultErrnoRet"] == 38


@pytest.mark.parametrize(
    ("arch", "expected"),
    [
        pytest.param(
            "x86_64", ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], id="archMap-x86_64"
        ),
        pytest.param("aarch64", ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"], id="archMap-aarch64"),
        pytest.param("ppc64le", None, id="arch-not-in-archMap-left-to-libseccomp"),
    ],
)
def test_architectures(arch: str, expected: list[str] | None) -> None:
    assert convert_profile(PROFILE, capabilities=(), arch=arch).get("architectures") == expected


@pytest.mark.parametrize(
    ("arch", "caps", "present", "absent"),
    [
        pytest.param(
            "x86_64",
            DEFAULT_CAPS,
            ("arch_prctl", "SCMP_ACT_ALLOW"),
            ("arm_fadvise64_64", "SCMP_ACT_ALLOW"),
            id="includes-arches-amd64",
        ),
        pytest.param(
            "aarch64",
            DEFAULT_CAPS,
            ("arm_fadvise64_64", "SCMP_ACT_ALLOW"),
            ("arch_prctl", "SCMP_ACT_ALLOW"),
            id="includes-arches-arm64",
        ),
        pytest.param(
            "x86_64",
            DEFAULT_CAPS,
            ("chroot", "SCMP_ACT_ALLOW"),
            ("chroot", "SCMP_ACT_ERRNO"),
            id="includes-caps-SYS_CHROOT-allows-chroot",
        ),
        pytest.param(
            "x86_64",
            ("CAP_CHOWN",),
            ("chroot", "SCMP_ACT_ERRNO"),
            ("chroot", "SCMP_ACT_ALLOW"),
            id="excludes-caps-denies-chroot-without-SYS_CHROOT",
        ),
        pytest.param(
            "x86_64",
            (*DEFAULT_CAPS, "SYS_ADMIN"),
            ("mount", "SCMP_ACT_ALLOW"),
            ("nothing", "SCMP_ACT_ALLOW"),
            id="capability-names-without-CAP-prefix",
        ),
        pytest.param(
            "x86_64",
            DEFAULT_CAPS,
            ("socket", "SCMP_ACT_ERRNO"),
            ("mount", "SCMP_ACT_ALLOW"),
            id="default-caps-no-SYS_ADMIN-no-mount",
        ),
        pytest.param(
            "x86_64",
            ("CAP_AUDIT_WRITE",),
            ("socket", "SCMP_ACT_ALLOW"),
            ("socket", "SCMP_ACT_ERRNO"),
            id="AUDIT_WRITE-allows-all-sockets",
        ),
    ],
)
def test_syscall_filtering(
    arch: str, caps: tuple[str, ...], present: tuple[str, str], absent: tuple[str, str]
) -> None:
    names = _names(convert_profile(PROFILE, capabilities=caps, arch=arch))
    assert present in names
    assert absent not in names


def test_errno_and_args_converted() -> None:
    result = convert_profile(PROFILE, capabilities=DEFAULT_CAPS)
    assert result["syscalls"][0] == {
        "names": ["bdflush", "kexec_load"],
        "action": "SCMP_ACT_ERRNO",
        "errnoRet": 1,
    }
    assert result["syscalls"][1] == {
        "names": ["accept", "read", "write"],
        "action": "SCMP_ACT_ALLOW",
    }
    socket = next(s for s in result["syscalls"] if s["names"] == ["socket"])
    assert socket == {
        "names": ["socket"],
        "action": "SCMP_ACT_ERRNO",
        "errnoRet": 22,
        "args": [
            {"index": 0, "value": 16, "valueTwo": 0, "op": "SCMP_CMP_EQ"},
            {"index": 2, "value": 9, "valueTwo": 0, "op": "SCMP_CMP_EQ"},
        ],
    }


MOBY_RULE: dict[str, Any] = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [
        {
            "names": ["ptrace"],
            "action": "SCMP_ACT_ALLOW",
            "includes": {"minKernel": "4.8"},
        },
        {"name": "getpid", "action": "SCMP_ACT_ALLOW", "errnoRet": 1},
    ],
}


@pytest.mark.parametrize(
    ("kernel", "expected"),
    [
        pytest.param((6, 1), ["ptrace", "getpid"], id="minKernel-met"),
        pytest.param((4, 4), ["getpid"], id="minKernel-not-met"),
        pytest.param(None, ["getpid"], id="minKernel-unknown-kernel-denies"),
    ],
)
def test_moby_min_kernel(kernel: tuple[int, int] | None, expected: list[str]) -> None:
    result = convert_profile(MOBY_RULE, capabilities=(), kernel=kernel)
    assert [n for s in result["syscalls"] for n in s["names"]] == expected
    assert "defaultErrnoRet" not in result
    assert "architectures" not in result


@pytest.mark.parametrize(
    "profile",
    [
        pytest.param(
            {"syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]},
            id="name-and-names",
        ),
        pytest.param(
            {"syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO", "errno": "ENOPE"}]},
            id="unknown-errno",
        ),
        pytest.param(
            {"architectures": ["SCMP_ARCH_X86_64"], "archMap": PROFILE["archMap"]},
            id="architectures-and-archMap",
        ),
    ],
)
def test_invalid_profile(profile: dict[str, Any]) -> None:
    with pytest.raises(SeccompProfileError):
        convert_profile(profile, capabilities=())


def test_unknown_arch() -> None:
    with pytest.raises(SeccompProfileError, match="unsupported architecture"):
        convert_profile(PROFILE, capabilities=(), arch="vax")


def test_whole_containers_common_profile() -> None:
    path = Path("/usr/share/containers/seccomp.json")
    if not path.exists():
        # The excerpt above covers the structure; this host just lacks containers-common.
        return
    profile = json.loads(path.read_text())
    result = convert_profile(profile, capabilities=DEFAULT_CAPS)
    names = _names(result)
    assert ("read", "SCMP_ACT_ALLOW") in names
    assert ("chroot", "SCMP_ACT_ALLOW") in names
    assert ("bpf", "SCMP_ACT_ALLOW") not in names  # needs CAP_SYS_ADMIN
    assert ("bpf", "SCMP_ACT_ERRNO") in names
    assert ("sync_file_range2", "SCMP_ACT_ALLOW") not in names  # ppc64le only
    assert result["architectures"][0] == "SCMP_ARCH_X86_64"
    json.dumps(result)  # plain JSON, ready for config.json
