"""Watched sources: `watch`, `unwatch`, `get sources`, `describe source`, `reconcile source`.

A source is a directory (or a git branch, `services.git`) whose manifests kubeplay keeps
applied. It is stored (`state.sources`), so it outlives the command that registered it; the
supervisor's source controller (`engine.controllers.sources`) reconciles it on file events,
every interval and on a nudge, through `reconcile` here. One reconcile:

1. snapshot: list the directory (`plan.sources.select_files`), read and hash each file; a
   directory that is missing or unreadable fails the reconcile and changes nothing;
2. parse and validate each file alone (cached by content SHA-256 in this process); an error
   holds the file;
3. `plan.sources.compute_source`: the desired set, the conflicts, the empty guard;
4. `services.apply.run` in mode WATCH in the applyset `source:NAME` (prune unless the guard or
   `--no-prune` says not): only the objects that changed are touched, with `apply`'s update
   rules; objects of `play` or of another source are refused, never changed;
5. record the files' state, the revision, the status and events (Applied, Held, Conflict,
   Pruned, Failed; DriftCorrected for an object of an unchanged file made again or set back).

Reconciles of one source take a lock, so the supervisor, `reconcile source` and `watch --once`
take turns.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from kubeplay.errors import AlreadyExistsError, KubeplayError, NotFoundError, UsageError
from kubeplay.plan import sources as plan_sources
from kubeplay.plan.sources import FileInput, FileState, FileStatus
from kubeplay.settings import Settings

if TYPE_CHECKING:
    from kubeplay.engine.controllers.sources import Reconcile
    from kubeplay.engine.host import Host
    from kubeplay.kube.objects import KubeObject
    from kubeplay.kube.objects import Warning as ManifestWarning
    from kubeplay.state.store import SourceFileRecord, SourceRecord

MAX_FILE_BYTES = 8 * 1024 * 1024  # one manifest file; larger ones are held
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
EVENT_KIND = "Source"


class SourceUnavailable(KubeplayError):
    """The source could not be read at all (missing directory, failed fetch): nothing
    changes."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    files: tuple[FileInput, ...]  # counted files, read (objects not parsed yet)
    texts: dict[str, str] = field(default_factory=dict)
    revision: str = ""  # a commit; "" for a directory (computed from the files)
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # e.g. "history rewritten: was X, now Y"


@dataclass(frozen=True, slots=True)
class Parsed:
    """A manifest text parsed and validated: its objects and their warnings, or the error."""

    objects: tuple[KubeObject, ...] = ()
    error: str = ""
    warnings: tuple[ManifestWarning, ...] = ()


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    name: str
    revision: str = ""
    lines: tuple[str, ...] = ()  # kubectl's lines of what changed
    unchanged: int = 0
    held: tuple[tuple[str, str], ...] = ()  # (relpath, error)
    conflicts: tuple[tuple[str, str], ...] = ()
    settling: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()  # guard, refusals, warnings
    failed: str = ""  # the reconcile failed as a whole: nothing changed
    requeue_after: float | None = None
    pods_changed: bool = False

    def line(self) -> str:
        """One line for `watch --foreground`: `NAME: what changed; held: ...`."""
        return f"{self.name}: {self.text()}"

    def text(self) -> str:
        parts: list[str] = []
        if self.failed:
            parts.append(f"failed: {self.failed}")
        parts.extend(self.lines)
        if self.unchanged and not self.lines:
            parts.append(f"{self.unchanged} unchanged")
        parts.extend(f"held: {path}: {error}" for path, error in self.held)
        parts.extend(f"conflict: {path}: {error}" for path, error in self.conflicts)
        parts.extend(f"settling: {path}" for path in self.settling)
        parts.extend(self.messages)
        return "; ".join(parts) if parts else "nothing to apply"


@dataclass(frozen=True, slots=True)
class SourceView:
    record: SourceRecord
    files: tuple[FileState, ...]
    objects: tuple[str, ...]  # refs of the objects it owns
    events: tuple[tuple[float, str, str, str, int], ...] = ()  # (at, type, reason, msg, count)


# --- registering ------------------------------------------------------------------------------


def default_name(location: str) -> str:
    """A source's name from its directory or repository: lower case, [-a-z0-9]."""
    base = os.path.basename(location.rstrip("/")) or "root"
    base = base.removesuffix(".git")
    name = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")
    return name[:63].strip("-") or "source"


def register(
    settings: Settings,
    *,
    directory: str = "",
    git: str = "",
    ref: str = "",
    subpath: str = "",
    name: str = "",
    recursive: bool = False,
    prune: bool = True,
    allow_empty: bool = False,
    interval: float | None = None,
    atomic: bool = False,
    self_heal: bool = True,
    force: bool = False,
    reuse: bool = False,
) -> SourceRecord:
    """Store a new source (it is reconciled by the supervisor, or by `reconcile`); with
    `reuse`, a source of that name following the same location is returned as it is
    (`watch --once` run again by CI)."""
    from kubeplay.engine import host as host_mod
    from kubeplay.state.store import SourceRecord

    if bool(directory) == bool(git):
        raise UsageError("watch: give either DIR or --git URL")
    if directory:
        location = os.path.abspath(directory)
        if not os.path.isdir(location):
            raise UsageError(f"watch: {directory}: not a directory")
        if ref or subpath:
            raise UsageError("watch: --ref and --path go with --git")
    else:
        if git.startswith("-"):
            raise UsageError(f"watch: --git {git!r}: not a repository URL")
        location = os.path.abspath(git) if os.path.exists(git) else git
    name = name or default_name(location)
    if not _NAME.match(name) or len(name) > 63:
        raise UsageError(f"watch: --name {name!r}: must be a DNS label ([a-z0-9-], at most 63)")
    if subpath and (subpath.startswith("/") or ".." in subpath.split("/")):
        raise UsageError(f"watch: --path {subpath!r}: must be relative, inside the repository")
    default_interval = plan_sources.DEFAULT_GIT_INTERVAL if git else plan_sources.DEFAULT_INTERVAL
    rec = SourceRecord(
        name=name,
        type="git" if git else "dir",
        location=location,
        ref=ref,
        subpath=subpath.strip("/"),
        recursive=recursive,
        interval_s=interval if interval is not None else default_interval,
        prune=prune,
        allow_empty=allow_empty,
        atomic=atomic,
        self_heal=self_heal,
        force=force,
        created_at=time.time(),
    )
    host = host_mod.open_host(settings)
    try:
        if not host.store.add_source(rec):
            existing = host.store.get_source(name)
            same = existing is not None and (existing.type, existing.location) == (
                rec.type,
                rec.location,
            )
            if reuse and existing is not None and same:
                return existing
            raise AlreadyExistsError(f"source {name}: already exists (unwatch it first)")
    finally:
        host.close()
    return rec


def ensure_registered(settings: Settings, directory: str) -> SourceRecord:
    """`agent --watch DIR`: the source of DIR, registered unless it is already (by name)."""
    from kubeplay.engine import host as host_mod

    name = default_name(os.path.abspath(directory))
    host = host_mod.open_host(settings)
    try:
        rec = host.store.get_source(name)
    finally:
        host.close()
    if rec is not None:
        if rec.location != os.path.abspath(directory):
            raise UsageError(
                f"agent --watch {directory}: source {name} watches {rec.location} already"
            )
        return rec
    return register(settings, directory=directory, name=name)


def unwatch(settings: Settings, name: str, *, prune: bool = False) -> list[str]:
    """Forget a source; with `prune`, delete its objects too (kubectl's lines)."""
    from kubeplay.engine import host as host_mod
    from kubeplay.plan.apply import ApplyMode
    from kubeplay.services import apply as apply_svc

    with _source_lock(settings, name):
        host = host_mod.open_host(settings)
        try:
            if host.store.get_source(name) is None:
                raise NotFoundError(f'source "{name}" not found')
        finally:
            host.close()
        lines: list[str] = []
        if prune:
            report = apply_svc.run(
                settings,
                [],
                source=plan_sources.source_name(name),
                mode=ApplyMode.WATCH,
                prune=True,
            )
            lines = list(report.lines)
        host = host_mod.open_host(settings)
        try:
            host.store.delete_source(name)
        finally:
            host.close()
        from kubeplay.services import git

        git.remove_cache(settings, name)
    return lines


def managed_warnings(
    settings: Settings, resource: str, namespace: str, names: Sequence[str]
) -> list[str]:
    """`delete KIND NAME...` of objects a watched source applied: they will come back."""
    from kubeplay.engine import host as host_mod
    from kubeplay.kube import kinds
    from kubeplay.kube.kinds import ObjectKey
    from kubeplay.services import resources

    if not settings.state_db.exists():
        return []
    try:
        info = resources.resolve(settings, resource)
    except KubeplayError:
        return []
    out: list[str] = []
    host = host_mod.open_host(settings)
    try:
        for name in names:
            key = ObjectKey(info.group, info.kind, namespace if info.namespaced else "", name)
            rec = host.store.get_record(*key)
            if rec is not None and rec.source.startswith(plan_sources.SOURCE_PREFIX):
                source = rec.source.removeprefix(plan_sources.SOURCE_PREFIX)
                out.append(
                    f"{kinds.ref(key)} is managed by source {source}: the source will "
                    "bring it back (change the source, or unwatch it)"
                )
    finally:
        host.close()
    return out


def list_sources(settings: Settings) -> list[SourceView]:
    from kubeplay.engine import host as host_mod

    if not settings.state_db.exists():
        return []
    host = host_mod.open_host(settings)
    try:
        return [_view(host, rec) for rec in host.store.list_sources()]
    finally:
        host.close()


def get_source(settings: Settings, name: str) -> SourceView:
    from kubeplay.engine import host as host_mod

    host = host_mod.open_host(settings)
    try:
        rec = host.store.get_source(name)
        if rec is None:
            raise NotFoundError(f'source "{name}" not found')
        return _view(host, rec, events=True)
    finally:
        host.close()


def _view(host: Host, rec: SourceRecord, *, events: bool = False) -> SourceView:
    from kubeplay.kube import kinds
    from kubeplay.kube.kinds import ObjectKey

    store = host.store
    files = tuple(_state(f) for f in store.list_source_files(rec.name))
    owned = store.list_records(source=plan_sources.source_name(rec.name))
    refs = tuple(kinds.ref(ObjectKey(r.api_group, r.kind, r.namespace, r.name)) for r in owned)
    shown: tuple[tuple[float, str, str, str, int], ...] = ()
    if events:
        shown = tuple(
            (e.last_at, e.type, e.reason, e.message, e.count)
            for e in store.list_events(_event_uid(rec.name))
        )
    return SourceView(record=rec, files=files, objects=refs, events=shown)


def _event_uid(name: str) -> str:
    return plan_sources.source_name(name)


def _state(f: SourceFileRecord) -> FileState:
    return FileState(
        relpath=f.relpath,
        sha256=f.sha256,
        status=FileStatus(f.status),
        error=f.error,
        last_good_sha256=f.last_good_sha256,
        last_good_text=f.last_good_text,
        pending_sha256=f.pending_sha256,
        pending_since=f.pending_since,
    )


# --- one reconcile ----------------------------------------------------------------------------


@contextmanager
def _source_lock(settings: Settings, name: str) -> Iterator[None]:
    from kubeplay.engine import locks
    from kubeplay.kube.kinds import ObjectKey

    settings.locks_dir.mkdir(parents=True, exist_ok=True)
    with locks.key_locks(settings.locks_dir, [ObjectKey("kubeplay.io", "Source", "", name)]):
        yield


class Parser:
    """Parses and validates manifest texts, cached by content SHA-256 (the supervisor keeps
    one for its lifetime, so an unchanged file is never parsed twice)."""

    def __init__(self, settings: Settings, *, limit: int = 512) -> None:
        self.settings = settings
        self.limit = limit
        self._cache: dict[tuple[str, str], Parsed] = {}
        self._lock = threading.Lock()

    def parse(
        self, text: str, *, source: str, sha256: str, crds: Sequence[KubeObject] = ()
    ) -> Parsed:
        """(objects, "", their warnings) or ((), the error naming file, document, line and
        field, ()); `crds`: the CustomResourceDefinitions of the source's other files (its
        custom resources)."""
        from kubeplay.plan.apply import manifest_sha256

        digest = manifest_sha256({"crds": [o.body for o in crds]}) if crds else ""
        with self._lock:
            hit = self._cache.get((source, sha256 + digest))
        if hit is not None:
            return hit
        from kubeplay.kube import loader, validate
        from kubeplay.services import play as play_mod

        try:
            objects = loader.load_text(text, source=source)
            compiled = None
            cache_dir = play_mod.schema_cache_of(self.settings)
            if cache_dir is not None:
                from kubeplay.state.schemacache import CompiledSchemaCache

                compiled = CompiledSchemaCache(cache_dir)
            warnings = (
                validate.validate(
                    objects,
                    kube_version=self.settings.kube_version,
                    compiled=compiled,
                    stored_crds=crds,
                    merge=False,
                )
                if objects
                else []
            )
            result = Parsed(tuple(objects), "", tuple(warnings))
        except KubeplayError as err:
            result = Parsed(error=str(err))
        except RecursionError:
            result = Parsed(error=f"{source}: nested too deeply")
        with self._lock:
            if len(self._cache) >= self.limit:
                self._cache.clear()
            self._cache[(source, sha256 + digest)] = result
        return result


def snapshot_dir(rec: SourceRecord) -> Snapshot:
    """The directory's counted files, read whole (SourceUnavailable: nothing changes)."""
    root = rec.location
    try:
        st = os.stat(root)
    except OSError as err:
        raise SourceUnavailable(f"{root}: {err.strerror or err}") from err
    if not stat.S_ISDIR(st.st_mode):
        raise SourceUnavailable(f"{root}: not a directory")
    found: list[str] = []
    odd: dict[str, str] = {}  # relpath -> why it cannot be read as a file
    try:
        _walk(root, "", rec.recursive, found, odd, depth=0)
    except OSError as err:
        raise SourceUnavailable(f"{root}: cannot list: {err.strerror or err}") from err
    selection = plan_sources.select_files([*found, *odd], recursive=rec.recursive)
    files: list[FileInput] = []
    texts: dict[str, str] = {}
    for relpath in selection.files:
        path = os.path.join(root, relpath)
        if relpath in odd:
            files.append(FileInput(relpath, sha256="", error=f"{path}: {odd[relpath]}"))
            continue
        try:
            data = _read(path)
        except OSError as err:
            if err.errno == 2:  # removed between the listing and the read: not there
                continue
            files.append(FileInput(relpath, sha256="", error=f"{path}: {err.strerror or err}"))
            continue
        except ValueError as err:
            files.append(FileInput(relpath, sha256="", error=f"{path}: {err}"))
            continue
        sha = hashlib.sha256(data).hexdigest()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            files.append(FileInput(relpath, sha256=sha, error=f"{path}: not UTF-8: {err}"))
            continue
        texts[relpath] = text
        files.append(FileInput(relpath, sha256=sha, text=text))
    return Snapshot(files=tuple(files), texts=texts, warnings=selection.warnings)


def _walk(
    root: str, rel: str, recursive: bool, found: list[str], odd: dict[str, str], *, depth: int
) -> None:
    with os.scandir(os.path.join(root, rel) if rel else root) as entries:
        for entry in entries:
            relpath = f"{rel}/{entry.name}" if rel else entry.name
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    if recursive and depth < 32:
                        _walk(root, relpath, recursive, found, odd, depth=depth + 1)
                    continue
                if entry.is_file():  # a symlink to a file counts (ConfigMap-style ..data)
                    found.append(relpath)
                    continue
            except OSError as err:
                odd[relpath] = err.strerror or str(err)
                continue
            odd[relpath] = _odd_reason(entry.path)


def _odd_reason(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError as err:
        return f"not readable ({err.strerror or err}: a dangling link or a link loop)"
    if stat.S_ISFIFO(st.st_mode):
        return "a FIFO, not a regular file: never read"
    if stat.S_ISSOCK(st.st_mode):
        return "a socket, not a regular file: never read"
    return "not a regular file: never read"


def _read(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file: never read")
        if st.st_size > MAX_FILE_BYTES:
            raise ValueError(f"{st.st_size} bytes: larger than {MAX_FILE_BYTES} bytes")
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, 1 << 20):
            total += len(chunk)
            if total > MAX_FILE_BYTES:
                raise ValueError(f"larger than {MAX_FILE_BYTES} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def snapshot(settings: Settings, rec: SourceRecord) -> Snapshot:
    if rec.type == "git":
        from kubeplay.services import git

        return git.snapshot(settings, rec)
    return snapshot_dir(rec)


def reconcile(
    settings: Settings,
    name: str,
    *,
    parser: Parser | None = None,
    now: float | None = None,
) -> ReconcileReport:
    """Reconcile the source `name` once (see the module's docstring)."""
    parser = parser or Parser(settings)
    with _source_lock(settings, name):
        return _reconcile(settings, name, parser, time.time() if now is None else now)


def _reconcile(settings: Settings, name: str, parser: Parser, now: float) -> ReconcileReport:
    from kubeplay.engine import host as host_mod

    host = host_mod.open_host(settings)
    try:
        return _reconcile_in(settings, host, name, parser, now)
    finally:
        host.close()


def _reconcile_in(
    settings: Settings, host: Host, name: str, parser: Parser, now: float
) -> ReconcileReport:
    from kubeplay.plan import apply as plan_apply
    from kubeplay.services import apply as apply_svc

    rec = host.store.get_source(name)
    if rec is None:
        raise NotFoundError(f'source "{name}" not found')
    stored = {f.relpath: _state(f) for f in host.store.list_source_files(name)}
    owned = len(host.store.list_records(source=plan_sources.source_name(name)))
    try:
        snap = snapshot(settings, rec)
    except SourceUnavailable as err:
        return _failed(host, rec, str(err), now)
    warnings: list[ManifestWarning] = []  # the apply shows those of what it changes

    def parse(text: str, relpath: str, sha256: str, crds: Sequence[KubeObject] = ()) -> Parsed:
        parsed = parser.parse(text, source=_origin(rec, relpath), sha256=sha256, crds=crds)
        warnings.extend(parsed.warnings)
        return parsed

    inputs: list[FileInput] = []
    for f in snap.files:
        if f.error:
            inputs.append(f)
            continue
        parsed = parse(f.text, f.relpath, f.sha256)
        inputs.append(replace(f, objects=parsed.objects, error=parsed.error))
    # Custom resources whose CustomResourceDefinition is in another file of the source.
    crds = [o for f in inputs for o in f.objects if o.kind == "CustomResourceDefinition"]
    if crds:
        for i, f in enumerate(inputs):
            if f.error and f.text:
                parsed = parse(f.text, f.relpath, f.sha256, crds)
                inputs[i] = replace(f, objects=parsed.objects, error=parsed.error)
    last_good: dict[str, Sequence[KubeObject]] = {}
    for relpath, state in stored.items():
        if state.last_good_text or state.last_good_sha256:
            parsed = parse(state.last_good_text, relpath, state.last_good_sha256)
            if parsed.error and crds:
                parsed = parse(state.last_good_text, relpath, state.last_good_sha256, crds)
            last_good[relpath] = parsed.objects if not parsed.error else ()
    plan = plan_sources.compute_source(
        inputs,
        stored,
        last_good,
        now=now,
        settle=0.0 if rec.type == "git" else settings.watch_debounce,
        prune=rec.prune,
        allow_empty=rec.allow_empty,
        owned=owned,
        revision=snap.revision,
        atomic=rec.atomic,
    )
    messages = [*snap.warnings, *snap.notes, *plan.messages]
    try:
        if not rec.self_heal and rec.last_attempt and plan.revision == rec.revision:
            # --no-self-heal: only a new revision applies; drift stays
            report = apply_svc.ApplyReport()
        else:
            report = apply_svc.run(
                settings,
                plan.desired,
                source=plan_sources.source_name(name),
                mode=plan_apply.ApplyMode.WATCH,
                prune=plan.prune,
                keep=plan.keep,
                force=rec.force,
                warnings=warnings,
            )
    except KubeplayError as err:
        _store_files(host, name, plan.files, stored)
        return _failed(host, rec, str(err), now)
    messages.extend(report.refused)
    messages.extend(report.warnings)
    changed = tuple(line for line in report.lines if not line.endswith(" unchanged"))
    held = tuple((f.relpath, f.error) for f in plan.held)
    conflicts = tuple((f.relpath, f.error) for f in plan.conflicts)
    settling = tuple(f.relpath for f in plan.files if f.status is FileStatus.SETTLING)
    status = "Held" if held or conflicts or report.refused else "Ready"
    result = ReconcileReport(
        name=name,
        revision=plan.revision,
        lines=changed,
        unchanged=len(report.lines) - len(changed),
        held=held,
        conflicts=conflicts,
        settling=settling,
        messages=tuple(messages),
        requeue_after=plan.requeue_after,
        pods_changed=report.pods_changed,
    )
    settled = {_origin(rec, r) for r in plan_sources.settled_files(stored, plan.files)}
    _store_files(host, name, plan.files, stored)
    _record(
        host,
        rec,
        plan,
        status=status,
        message=result.text(),
        changed=changed,
        settled=frozenset(settled),
        notes=snap.notes,
        now=now,
    )
    return result


def _origin(rec: SourceRecord, relpath: str) -> str:
    """What an object's origin (and its errors) name: the file's path; for git, the path in
    the repository."""
    if rec.type == "git":
        return f"{rec.subpath}/{relpath}" if rec.subpath else relpath
    return os.path.join(rec.location, relpath)


def _store_files(
    host: Host, name: str, files: Sequence[FileState], stored: Mapping[str, FileState]
) -> None:
    """Store the files' state (when it changed: a relist of an unchanged directory writes
    nothing but the source's status)."""
    from kubeplay.state.store import SourceFileRecord

    if {f.relpath: f for f in files} == dict(stored):
        return
    host.store.put_source_files(
        name,
        [
            SourceFileRecord(
                source=name,
                relpath=f.relpath,
                sha256=f.sha256,
                status=str(f.status),
                error=f.error,
                last_good_sha256=f.last_good_sha256,
                last_good_text=f.last_good_text,
                pending_sha256=f.pending_sha256,
                pending_since=f.pending_since,
            )
            for f in files
        ],
    )


def _record(
    host: Host,
    rec: SourceRecord,
    plan: plan_sources.SourcePlan,
    *,
    status: str,
    message: str,
    changed: Sequence[str],
    settled: frozenset[str] = frozenset(),
    notes: Sequence[str] = (),
    now: float,
) -> None:
    store = host.store
    with store.batch():
        store.set_source_status(
            rec.name, status=status, message=message, at=now, failures=0, revision=plan.revision
        )
        uid = _event_uid(rec.name)

        def event(type_: str, reason: str, text: str) -> None:
            store.add_event(
                uid,
                type=type_,
                reason=reason,
                message=text,
                at=now,
                kind=EVENT_KIND,
                name=rec.name,
            )

        for text in notes:
            event("Normal", "HistoryRewritten", text)
        # an object of a file applied at the same content before: deleted or changed by hand
        kept, drift = plan_sources.split_drift(changed, plan.desired, settled)
        applied = [line for line in kept if not line.endswith(" pruned")]
        pruned = [line for line in kept if line.endswith(" pruned")]
        if applied:
            event("Normal", "Applied", f"revision {plan.revision[:12]}: " + ", ".join(applied))
        if drift:
            event("Normal", "DriftCorrected", ", ".join(drift))
        if pruned:
            event("Normal", "Pruned", ", ".join(pruned))
        for f in plan.held:
            event("Warning", "Held", f"{f.relpath}: {f.error}")
        for f in plan.conflicts:
            event("Warning", "Conflict", f"{f.relpath}: {f.error}")
        for text in plan.messages:
            if not plan.prune and "nothing pruned" in text:
                event("Warning", "EmptySource", text)


def _failed(host: Host, rec: SourceRecord, error: str, now: float) -> ReconcileReport:
    failures = rec.failures + 1
    with host.store.batch():
        host.store.set_source_status(
            rec.name, status="Failed", message=error, at=now, failures=failures
        )
        host.store.add_event(
            _event_uid(rec.name),
            type="Warning",
            reason="Failed",
            message=f"{error} (nothing changed)",
            at=now,
            kind=EVENT_KIND,
            name=rec.name,
        )
    return ReconcileReport(
        name=rec.name,
        revision=rec.revision,
        failed=error,
        requeue_after=min(rec.interval_s, plan_sources.retry_delay(failures)),
    )


def reconciler(settings: Settings) -> Reconcile:
    """The supervisor's source reconcile: this use case, with one parse cache."""
    from kubeplay.engine.controllers.sources import Outcome

    parser = Parser(settings)

    def run(name: str, *, now: float) -> Outcome:
        from kubeplay import log

        started = time.monotonic()
        try:
            report = reconcile(settings, name, parser=parser, now=now)
        except NotFoundError:  # unwatched meanwhile
            return Outcome(gone=True)
        if report.lines or report.held or report.failed:
            log.get_logger(__name__).info(
                "source_reconciled",
                source=name,
                revision=report.revision[:12],
                changed=list(report.lines),
                held=[path for path, _ in report.held],
                failed=report.failed,
                seconds=round(time.monotonic() - started, 3),
            )
        return Outcome(requeue_after=report.requeue_after, pods_changed=report.pods_changed)

    return run
