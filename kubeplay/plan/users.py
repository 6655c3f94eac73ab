"""The uid, gids and home a container process runs with, resolved as a kubelet + CRI would.

The engine reads the rootfs' /etc/passwd and /etc/group and passes their texts in; this module
only parses them (no I/O). Lookups follow runc's `user.GetExecUser`; the rules on top are the
kubelet's: `runAsUser`/`runAsGroup` override the image, the image USER's `:group` part is not
used (the kubelet passes only the uid or user name to the runtime, kubernetes/kubernetes#61967),
and the additional gids are the primary gid, the groups listing the user name, then
`supplementalGroups`, as containerd builds them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from kubeplay.errors import KubeplayError


class UserResolutionError(KubeplayError):
    """The user named by the image is not in the rootfs' /etc/passwd.

    The engine reports it as the container's CreateContainerConfigError.
    """


@dataclass(frozen=True, slots=True)
class ResolvedUser:
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str


@dataclass(frozen=True, slots=True)
class _PasswdEntry:
    name: str
    uid: int
    gid: int
    home: str


@dataclass(frozen=True, slots=True)
class _GroupEntry:
    name: str
    gid: int
    members: tuple[str, ...]


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    if not text.isdigit():
        return None
    return int(text)


def _lines(text: str) -> Iterator[list[str]]:
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            yield line.split(":")


def _parse_passwd(text: str) -> list[_PasswdEntry]:
    entries: list[_PasswdEntry] = []
    for fields in _lines(text):
        if len(fields) < 4:
            continue
        uid, gid = _int_or_none(fields[2]), _int_or_none(fields[3])
        if uid is None or gid is None:
            continue
        home = fields[5] if len(fields) > 5 else ""
        entries.append(_PasswdEntry(fields[0], uid, gid, home))
    return entries


def _parse_group(text: str) -> list[_GroupEntry]:
    entries: list[_GroupEntry] = []
    for fields in _lines(text):
        if len(fields) < 3:
            continue
        gid = _int_or_none(fields[2])
        if gid is None:
            continue
        members = fields[3] if len(fields) > 3 else ""
        names = tuple(m.strip() for m in members.split(",") if m.strip())
        entries.append(_GroupEntry(fields[0], gid, names))
    return entries


def _find_user(entries: Sequence[_PasswdEntry], spec: str) -> _PasswdEntry | None:
    """First entry whose name equals `spec` or, when `spec` is numeric, whose uid equals it."""
    number = _int_or_none(spec)
    return next((e for e in entries if e.name == spec or e.uid == number), None)


def resolve_user(
    image_user: str,
    *,
    run_as_user: int | None,
    run_as_group: int | None,
    supplemental_groups: Sequence[int] = (),
    passwd: str,
    group: str,
) -> ResolvedUser:
    """Resolve the process user of a container.

    `image_user` is the image config's User ("", "uid", "uid:gid", "name", "name:group").
    Raises UserResolutionError for a user name that /etc/passwd does not list.
    """
    users = _parse_passwd(passwd)
    spec = str(run_as_user) if run_as_user is not None else image_user.partition(":")[0]
    spec = spec.strip() or "0"
    entry = _find_user(users, spec)
    if entry is None:
        uid = _int_or_none(spec)
        if uid is None:
            raise UserResolutionError(
                f"unable to find user {spec}: no matching entries in passwd file"
            )
        entry = _PasswdEntry(name="", uid=uid, gid=0, home="/")
    gid = run_as_group if run_as_group is not None else entry.gid
    gids: list[int] = [gid]
    if entry.name:
        gids.extend(
            g.gid for g in _parse_group(group) if g.name != entry.name and entry.name in g.members
        )
    gids.extend(supplemental_groups)
    return ResolvedUser(
        uid=entry.uid,
        gid=gid,
        additional_gids=tuple(dict.fromkeys(gids)),
        home=entry.home or "/",
    )
