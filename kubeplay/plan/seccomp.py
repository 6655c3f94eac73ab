"""Seccomp profiles: a containers-common / moby `seccomp.json` into an OCI `linux.seccomp`.

The engine reads the profile (RuntimeDefault: /usr/share/containers/seccomp.json; Localhost:
the named file) and calls `convert_profile` with the container's bounding capabilities. The
rules are those of containers-common's `setupSeccomp` (which Podman and CRI-O use): the
`archMap` entry of the host architecture gives `architectures`; a syscall rule is kept only if
its `includes` (all caps in the bounding set, arch listed, kernel new enough) hold and its
`excludes` (any cap in the bounding set, arch listed) do not; errno names become numbers.
Pure: no file reads, the kernel version is a parameter.
"""

from __future__ import annotations

import errno as errno_mod
from collections.abc import Mapping, Sequence
from typing import Any

from kubeplay.errors import KubeplayError


class SeccompProfileError(KubeplayError):
    """A seccomp profile that cannot be converted (bad errno, `name` and `names`, arch)."""


# uname -m (and Go) architecture names -> (libseccomp SCMP_ARCH_*, the name profiles use in
# includes/excludes "arches", which is libseccomp-golang's native arch string).
_ARCHES: dict[str, tuple[str, str]] = {
    "x86_64": ("SCMP_ARCH_X86_64", "amd64"),
    "amd64": ("SCMP_ARCH_X86_64", "amd64"),
    "i386": ("SCMP_ARCH_X86", "x86"),
    "i686": ("SCMP_ARCH_X86", "x86"),
    "x86": ("SCMP_ARCH_X86", "x86"),
    "aarch64": ("SCMP_ARCH_AARCH64", "arm64"),
    "arm64": ("SCMP_ARCH_AARCH64", "arm64"),
    "armv7l": ("SCMP_ARCH_ARM", "arm"),
    "arm": ("SCMP_ARCH_ARM", "arm"),
    "ppc64le": ("SCMP_ARCH_PPC64LE", "ppc64le"),
    "s390x": ("SCMP_ARCH_S390X", "s390x"),
    "mips64": ("SCMP_ARCH_MIPS64", "mips64"),
    "riscv64": ("SCMP_ARCH_RISCV64", "riscv64"),
}


def _cap(name: str) -> str:
    upper = name.strip().upper()
    return upper if upper.startswith("CAP_") else f"CAP_{upper}"


def _errno(name: str | None, number: int | None, *, where: str) -> int | None:
    """`errno` (a name like "EPERM" or a number) wins over `errnoRet`, as in containers-common."""
    if not name:
        return number
    if name.isdigit():
        return int(name)
    value = getattr(errno_mod, name, None)
    if not isinstance(value, int) or not name.startswith("E"):
        raise SeccompProfileError(f"seccomp profile: {where}: unknown errno {name}")
    return value


def _kernel_at_least(min_kernel: str, kernel: tuple[int, int] | None) -> bool:
    """A rule with `minKernel` applies only on a kernel known to be at least that version."""
    if kernel is None:
        return False
    major, _, minor = min_kernel.partition(".")
    try:
        wanted = (int(major), int(minor or 0))
    except ValueError as err:
        raise SeccompProfileError(f"seccomp profile: invalid minKernel {min_kernel!r}") from err
    return kernel >= wanted


def _architectures(profile: Mapping[str, Any], scmp_arch: str) -> list[str]:
    explicit = list(profile.get("architectures") or ())
    arch_map = profile.get("archMap") or ()
    if explicit and arch_map:
        raise SeccompProfileError(
            "seccomp profile: 'architectures' and 'archMap' were both specified"
        )
    if explicit:
        return [str(a) for a in explicit]
    for entry in arch_map:
        if entry.get("architecture") == scmp_arch:
            return [scmp_arch, *(str(a) for a in entry.get("subArchitectures") or ())]
    return []


def _applies(
    rule: Mapping[str, Any],
    *,
    caps: frozenset[str],
    arch: str,
    kernel: tuple[int, int] | None,
) -> bool:
    includes = rule.get("includes") or {}
    excludes = rule.get("excludes") or {}
    if arch in (excludes.get("arches") or ()):
        return False
    if any(_cap(c) in caps for c in excludes.get("caps") or ()):
        return False
    arches = includes.get("arches") or ()
    if arches and arch not in arches:
        return False
    if not all(_cap(c) in caps for c in includes.get("caps") or ()):
        return False
    min_kernel = includes.get("minKernel")
    return not min_kernel or _kernel_at_least(str(min_kernel), kernel)


def _syscall(rule: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"names": names, "action": str(rule["action"])}
    errno_ret = _errno(rule.get("errno"), rule.get("errnoRet"), where=",".join(names))
    if errno_ret is not None:
        out["errnoRet"] = errno_ret
    args = [
        {
            "index": int(a["index"]),
            "value": int(a.get("value") or 0),
            "valueTwo": int(a.get("valueTwo") or 0),
            "op": str(a["op"]),
        }
        for a in rule.get("args") or ()
    ]
    if args:
        out["args"] = args
    return out


def convert_profile(
    profile: Mapping[str, Any],
    *,
    capabilities: Sequence[str],
    arch: str = "x86_64",
    kernel: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The OCI `linux.seccomp` object for a container with these bounding `capabilities`.

    `arch` is the host's `uname -m`; `kernel` its (major, minor) release, needed only by
    moby profiles whose rules carry `includes.minKernel` (unknown: such rules are left out,
    which denies rather than allows).
    """
    try:
        scmp_arch, arch_name = _ARCHES[arch]
    except KeyError as err:
        raise SeccompProfileError(f"seccomp: unsupported architecture {arch}") from err
    caps = frozenset(_cap(c) for c in capabilities)
    out: dict[str, Any] = {"defaultAction": str(profile.get("defaultAction") or "SCMP_ACT_ALLOW")}
    default_errno = _errno(
        profile.get("defaultErrno"), profile.get("defaultErrnoRet"), where="defaultErrno"
    )
    if default_errno is not None:
        out["defaultErrnoRet"] = default_errno
    architectures = _architectures(profile, scmp_arch)
    if architectures:
        out["architectures"] = architectures
    for key in ("flags", "listenerPath", "listenerMetadata"):
        if profile.get(key):
            out[key] = profile[key]
    syscalls: list[dict[str, Any]] = []
    for rule in profile.get("syscalls") or ():
        if not _applies(rule, caps=caps, arch=arch_name, kernel=kernel):
            continue
        name, names = rule.get("name"), rule.get("names")
        if name and names:
            raise SeccompProfileError(
                f"seccomp profile: rule for {name} has both 'name' and 'names'"
            )
        listed = [str(name)] if name else [str(n) for n in names or ()]
        if listed:
            syscalls.append(_syscall(rule, listed))
    out["syscalls"] = syscalls
    return out
