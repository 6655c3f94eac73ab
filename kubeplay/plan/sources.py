"""Watched sources: which files count, and what one reconcile of a source applies (watch.md).

The pure part of `kubeplay watch`: the caller lists the directory (or a git tree), reads and
parses each counted file, and passes what it found with the per-file state it stored at the
last reconcile; `compute_source` returns the desired objects for `plan.apply.compute_apply`
(mode WATCH), the identities that must be neither applied nor pruned (conflicts), whether
pruning is allowed (the empty-source guard) and the per-file state to store:

- `select_files`: top-level `*.yaml|*.yml|*.json` (every level with -R, dot directories
  skipped), never dotfiles, editor swap/backup/autosave files, files with a `<name>.skip`
  marker, or `kustomization.yaml` (a warning: it is not a Kubernetes object).
- A file that fails to read, parse or validate is **held**: its objects stay as its last good
  content defined them, none is pruned, and the other files proceed.
- An object that would **disappear** (its file deleted, or its document gone from a file that
  still exists) goes only once the file has looked the same at two reconciles at least
  `settle` seconds apart; meanwhile the file is Settling at its last good content. Editors
  that truncate, rename or write in pieces never cause a transient delete.
- One identity defined by two files marks both `Conflict`; the object keeps its state.
- A source whose desired set is empty while it owns objects prunes nothing unless
  `allow_empty` (Argo CD's guard).

No I/O, no clock: `now` is passed in.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from kubeplay.kube import kinds
from kubeplay.kube.kinds import ObjectKey
from kubeplay.kube.loader import MANIFEST_SUFFIXES
from kubeplay.kube.objects import KubeObject
from kubeplay.plan import apply as plan_apply

# A source's applyset: the objects it applied carry this source in the store.
SOURCE_PREFIX = plan_apply.WATCHED_SOURCE_PREFIX

DEFAULT_INTERVAL = 20.0  # a directory is listed again this often (kubelet's relist)
DEFAULT_GIT_INTERVAL = 60.0
DEFAULT_SETTLE = 0.15  # debounce window, and the wait before an object disappears
RETRY_BASE = 10.0  # a failed reconcile (unreadable directory, failed fetch): retry after this
RETRY_CAP = 300.0

# Editor and tool leftovers, never manifests (vim, emacs, JetBrains, rsync, patch, browsers).
IGNORED_SUFFIXES = (
    "~",
    ".swp",
    ".swo",
    ".swx",
    ".bak",
    ".orig",
    ".rej",
    ".tmp",
    ".temp",
    ".part",
    ".crdownload",
    ".dpkg-new",
    ".dpkg-old",
)
KUSTOMIZATION_NAMES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})
SKIP_MARKER = ".skip"


class FileStatus(StrEnum):
    APPLIED = "Applied"  # its content is the desired state
    HELD = "Held"  # unreadable or invalid: its last good content stands
    SETTLING = "Settling"  # it would remove objects: waiting for it to hold still
    CONFLICT = "Conflict"  # it defines an object another file defines too


def source_name(name: str) -> str:
    """The applyset (store `source`) of the watched source `name`."""
    return SOURCE_PREFIX + name


def ignored_reason(relpath: str, names: frozenset[str] = frozenset()) -> str:
    """Why the file at `relpath` (`/`-separated, relative to the source) is not a manifest
    file of the source ("" when it is one); `names` holds the source's file paths (for the
    `<name>.skip` markers). A reason ending in `!` deserves a warning."""
    base = posixpath.basename(relpath)
    if any(part.startswith(".") for part in relpath.split("/")):
        return "dotfile"
    if base.startswith("#") and base.endswith("#"):
        return "editor autosave file"
    if base.endswith(IGNORED_SUFFIXES):
        return "editor or backup file"
    if not base.endswith(MANIFEST_SUFFIXES):
        return "not *.yaml, *.yml or *.json"
    if relpath + SKIP_MARKER in names:
        return f"{base}{SKIP_MARKER} marker"
    if base in KUSTOMIZATION_NAMES:
        return (
            "a kustomization is not a Kubernetes object: "
            "pipe `kubectl kustomize` into `kubeplay apply -f -`!"
        )
    return ""


@dataclass(frozen=True, slots=True)
class Selection:
    files: tuple[str, ...]  # manifest files, sorted
    warnings: tuple[str, ...] = ()


def select_files(relpaths: Sequence[str], *, recursive: bool) -> Selection:
    """The manifest files among the regular files found (`/`-separated, relative): the top
    level only unless `recursive`."""
    names = frozenset(relpaths)
    files: list[str] = []
    warnings: list[str] = []
    for relpath in sorted(names):
        if not recursive and "/" in relpath:
            continue
        reason = ignored_reason(relpath, names)
        if not reason:
            files.append(relpath)
        elif reason.endswith("!"):
            warnings.append(f"{relpath}: skipped: {reason[:-1]}")
    return Selection(files=tuple(files), warnings=tuple(warnings))


@dataclass(frozen=True, slots=True)
class FileInput:
    """A counted file as read now: its content's SHA-256 and either its objects (parsed and
    validated) or the error that holds it."""

    relpath: str
    sha256: str
    text: str = ""
    objects: tuple[KubeObject, ...] = ()
    error: str = ""


@dataclass(frozen=True, slots=True)
class FileState:
    """A file of a source as stored between reconciles."""

    relpath: str
    sha256: str = ""  # content at the last look ("" when missing)
    status: FileStatus = FileStatus.APPLIED
    error: str = ""
    last_good_sha256: str = ""
    last_good_text: str = ""
    # A removal waiting to settle: the content (sha; "" = the file missing) that would
    # remove objects, and when it was first seen.
    pending_sha256: str | None = None
    pending_since: float = 0.0


@dataclass(frozen=True, slots=True)
class SourcePlan:
    desired: tuple[KubeObject, ...]
    keep: frozenset[ObjectKey]  # conflicting identities: neither applied nor pruned
    prune: bool  # False: the empty-source guard holds (or the caller's --no-prune)
    files: tuple[FileState, ...]  # what to store (a file gone for good is absent)
    revision: str
    requeue_after: float | None = None  # a Settling file: look again then
    messages: tuple[str, ...] = field(default=())

    @property
    def held(self) -> tuple[FileState, ...]:
        return tuple(f for f in self.files if f.status is FileStatus.HELD)

    @property
    def conflicts(self) -> tuple[FileState, ...]:
        return tuple(f for f in self.files if f.status is FileStatus.CONFLICT)


def revision_of(files: Sequence[FileInput]) -> str:
    """A directory's revision: SHA-256 over the sorted (path, content SHA-256) list."""
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.relpath):
        digest.update(f"{f.relpath}\0{f.sha256}\n".encode())
    return digest.hexdigest()


def _keys(objects: Sequence[KubeObject], extra: Sequence[kinds.KindInfo]) -> list[ObjectKey]:
    return [plan_apply.key_of(o, extra=extra) for o in objects]


def compute_source(
    inputs: Sequence[FileInput],
    stored: Mapping[str, FileState],
    last_good: Mapping[str, Sequence[KubeObject]],
    *,
    now: float,
    settle: float = DEFAULT_SETTLE,
    prune: bool = True,
    allow_empty: bool = False,
    owned: int = 0,
    revision: str = "",
    atomic: bool = False,
) -> SourcePlan:
    """One reconcile's decision. `inputs`: the counted files as read now; `stored`: the
    files' state of the last reconcile (by relpath); `last_good`: the objects of each
    stored file's last good content; `owned`: how many objects the source owns now;
    `revision`: the commit (git), else computed from the files. `atomic`: one invalid file
    holds every file at its last good content (the whole revision waits, as Flux does)."""
    failing = sorted(f.relpath for f in inputs if f.error)
    if atomic and failing:
        note = f"revision held: {', '.join(failing)} invalid (--atomic)"
        held_inputs = [
            f if f.error else FileInput(f.relpath, f.sha256, f.text, error=note) for f in inputs
        ]
        plan = compute_source(
            held_inputs,
            stored,
            last_good,
            now=now,
            settle=settle,
            prune=False,
            allow_empty=allow_empty,
            owned=owned,
            revision=revision,
        )
        return replace(plan, messages=(note, *plan.messages))
    everything = [o for f in inputs for o in f.objects] + [
        o for objs in last_good.values() for o in objs
    ]
    extra = plan_apply.custom_kinds(everything, ())
    chosen: dict[str, tuple[KubeObject, ...]] = {}
    states: dict[str, FileState] = {}
    waits: list[float] = []
    seen = set()
    # Identities a readable, valid file defines now: one leaving its file for another (a
    # rename, a move) is not a removal.
    defined = {k for f in inputs if not f.error for k in _keys(f.objects, extra)}
    for f in inputs:
        seen.add(f.relpath)
        old = stored.get(f.relpath, FileState(relpath=f.relpath))
        good = tuple(last_good.get(f.relpath, ()))
        if f.error:
            states[f.relpath] = FileState(
                relpath=f.relpath,
                sha256=f.sha256,
                status=FileStatus.HELD,
                error=f.error,
                last_good_sha256=old.last_good_sha256,
                last_good_text=old.last_good_text,
            )
            chosen[f.relpath] = good
            continue
        gone = set(_keys(good, extra)) - defined
        if gone and settle > 0 and not _settled(old, f.sha256, now=now, settle=settle):
            since = old.pending_since if old.pending_sha256 == f.sha256 else now
            waits.append(since + settle - now)
            states[f.relpath] = FileState(
                relpath=f.relpath,
                sha256=f.sha256,
                status=FileStatus.SETTLING,
                last_good_sha256=old.last_good_sha256,
                last_good_text=old.last_good_text,
                pending_sha256=f.sha256,
                pending_since=since,
            )
            chosen[f.relpath] = _outside(good, f.objects, defined, extra)
            continue
        states[f.relpath] = FileState(
            relpath=f.relpath,
            sha256=f.sha256,
            status=FileStatus.APPLIED,
            last_good_sha256=f.sha256,
            last_good_text=f.text,
        )
        chosen[f.relpath] = f.objects
    for relpath, old in sorted(stored.items()):
        if relpath in seen:
            continue
        good = tuple(last_good.get(relpath, ()))
        gone = set(_keys(good, extra)) - defined
        if gone and settle > 0 and not _settled(old, "", now=now, settle=settle):
            since = old.pending_since if old.pending_sha256 == "" else now
            waits.append(since + settle - now)
            states[relpath] = FileState(
                relpath=relpath,
                status=FileStatus.SETTLING,
                error="file removed: its objects are pruned once it stays removed",
                last_good_sha256=old.last_good_sha256,
                last_good_text=old.last_good_text,
                pending_sha256="",
                pending_since=since,
            )
            chosen[relpath] = _outside(good, (), defined, extra)
    # One identity in two files: both files Conflict, the object keeps its state.
    where: dict[ObjectKey, list[str]] = {}
    for relpath, objs in chosen.items():
        for key in dict.fromkeys(_keys(objs, extra)):
            where.setdefault(key, []).append(relpath)
    keep = frozenset(key for key, paths in where.items() if len(paths) > 1)
    messages: list[str] = []
    for key in sorted(keep):
        paths = sorted(where[key])
        messages.append(f"{kinds.ref(key)} is defined in {' and '.join(paths)}")
        for relpath in paths:
            state = states[relpath]
            if state.status is not FileStatus.HELD:
                note = f"{kinds.ref(key)} is also defined in " + ", ".join(
                    p for p in paths if p != relpath
                )
                error = f"{state.error}; {note}" if state.error else note
                states[relpath] = _with(state, status=FileStatus.CONFLICT, error=error)
    desired = tuple(
        o
        for relpath in sorted(chosen)
        for o, key in zip(chosen[relpath], _keys(chosen[relpath], extra), strict=True)
        if key not in keep
    )
    allowed = prune
    if prune and not desired and not keep and owned and not allow_empty:
        allowed = False
        messages.append(
            f"the source defines no objects while it owns {owned}: nothing pruned "
            "(--allow-empty prunes)"
        )
    return SourcePlan(
        desired=desired,
        keep=keep,
        prune=allowed,
        files=tuple(states[p] for p in sorted(states)),
        revision=revision or revision_of(inputs),
        requeue_after=max(0.0, min(waits)) if waits else None,
        messages=tuple(messages),
    )


def _outside(
    good: Sequence[KubeObject],
    current: Sequence[KubeObject],
    defined: set[ObjectKey],
    extra: Sequence[kinds.KindInfo],
) -> tuple[KubeObject, ...]:
    """A settling file's objects: its current ones, and the last good ones that no file
    defines now (those waiting to be removed)."""
    kept = [o for o, k in zip(good, _keys(good, extra), strict=True) if k not in defined]
    return (*current, *kept)


def _settled(old: FileState, sha256: str, *, now: float, settle: float) -> bool:
    """The content that removes objects was seen at least `settle` seconds ago already."""
    return old.pending_sha256 == sha256 and now - old.pending_since >= settle


def _with(state: FileState, *, status: FileStatus, error: str) -> FileState:
    return FileState(
        relpath=state.relpath,
        sha256=state.sha256,
        status=status,
        error=error,
        last_good_sha256=state.last_good_sha256,
        last_good_text=state.last_good_text,
        pending_sha256=state.pending_sha256,
        pending_since=state.pending_since,
    )


# --- drift ---------------------------------------------------------------------------------------


def settled_files(before: Mapping[str, FileState], after: Sequence[FileState]) -> frozenset[str]:
    """The files applied at the same content as at the reconcile before: whatever a reconcile
    changes for their objects is drift repaired (an object deleted by hand made again, a
    field it sets changed by hand set back), not a new content."""
    out = set()
    for f in after:
        old = before.get(f.relpath)
        if (
            old is not None
            and f.status is FileStatus.APPLIED
            and old.status is FileStatus.APPLIED
            and f.last_good_sha256
            and old.last_good_sha256 == f.last_good_sha256
        ):
            out.add(f.relpath)
    return frozenset(out)


def split_drift(
    changed: Sequence[str], desired: Sequence[KubeObject], settled: frozenset[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`changed` (apply's lines: `configmap/one created`) split into (applied, drift
    corrected): a line of an object whose file (its `source`) is in `settled` is drift, a
    prune never is."""
    refs = {kinds.ref(kinds.key_of(o.body)) for o in desired if o.source in settled}
    applied: list[str] = []
    drift: list[str] = []
    for line in changed:
        ref, _, verb = line.rpartition(" ")
        (drift if ref in refs and verb != "pruned" else applied).append(line)
    return tuple(applied), tuple(drift)


# --- retry after failures ------------------------------------------------------------------------


def retry_delay(failures: int, *, base: float = RETRY_BASE, cap: float = RETRY_CAP) -> float:
    """A failed reconcile's wait: `base`, doubling per consecutive failure, up to `cap`."""
    return float(min(cap, base * 2 ** max(0, failures - 1)))


def parse_interval(text: str) -> float:
    """`20s`, `1m`, `500ms`, `1h` or plain seconds; ValueError for anything else."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for unit in ("ms", "s", "m", "h"):
        if text.endswith(unit):
            value = float(text[: -len(unit)]) * units[unit]
            break
    else:
        value = float(text)
    if not value > 0:
        raise ValueError(f"{text}: not a positive duration")
    return value
