"""The source controller: keeps each watched source (`kubeplay watch`) applied, one sync per
source key (`Source`, "", NAME), on the supervisor's loop.

A sync reconciles the source (the `reconcile` callable the supervisor is given: the
`services.sources` use case, which the engine may not import) when it is due: a file event
arrived (debounced, `Debouncer`), its interval passed (the relist that repairs drift), it
was never reconciled by this supervisor, or a command nudged it. Otherwise it only says when
to look again. Every source needs the supervisor, so a sync always keeps it up.

File events come from `watchdog` (`DirWatcher`): one recursive or flat watch per directory
source, its events handed to the asyncio loop by `call_soon_threadsafe`; which file an event
names does not matter (the reconcile reads the whole directory and compares content hashes),
so vim's rename-save, truncate-then-write and temp-then-rename all become one reconcile once
the directory has been quiet for the debounce window. A queue overflow is one more event.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from kubeplay import log
from kubeplay.engine.host import Host
from kubeplay.engine.loop import ObjectKey, SyncResult
from kubeplay.errors import PermanentError

KIND = "Source"
# watchdog's event types that change a directory (a read's opened/closed_no_write do not);
# events_lost is the kernel queue's overflow: the reconcile relists the whole directory.
CHANGES = frozenset({"created", "deleted", "modified", "moved", "closed", "attrib", "events_lost"})

_log = log.get_logger(__name__)


def source_key(name: str) -> ObjectKey:
    return ObjectKey(KIND, "", name)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a reconcile tells the controller: when to look again (a file settling, a
    failure's back-off), whether pods changed (the pod controller looks at them), and
    whether the source was unwatched meanwhile (it no longer needs the supervisor)."""

    requeue_after: float | None = None
    pods_changed: bool = False
    gone: bool = False


class Reconcile(Protocol):
    def __call__(self, name: str, *, now: float) -> Outcome: ...


class Debouncer:
    """Per name, the time of its latest event: a name is due once `window` seconds passed
    without another event (a file still being written keeps its source waiting)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._last: dict[str, float] = {}

    def touch(self, name: str, now: float) -> None:
        self._last[name] = now

    def due(self, now: float) -> list[str]:
        """Remove and return the names quiet for a whole window."""
        out = [n for n, at in self._last.items() if now - at >= self.window]
        for name in out:
            del self._last[name]
        return sorted(out)

    def next_at(self) -> float | None:
        return min(self._last.values()) + self.window if self._last else None


class SourceController:
    kinds = frozenset({KIND})

    def __init__(
        self,
        host: Host,
        *,
        reconcile: Reconcile,
        watch: Callable[[list[tuple[str, str, bool]]], None] | None = None,
        on_pods_changed: Callable[[], None] | None = None,
    ) -> None:
        self.host = host
        self.reconcile = reconcile
        self.watch = watch  # the directories to watch now: (name, path, recursive)
        self.on_pods_changed = on_pods_changed
        self._lock = threading.Lock()
        self._dirty: set[str] = set()  # an event or a nudge: reconcile at the next sync
        self._done_at: dict[str, float] = {}  # this supervisor's last reconcile of each

    def mark(self, names: Iterable[str]) -> None:
        """These sources changed (a debounced file event, a nudge): reconcile them."""
        with self._lock:
            self._dirty.update(names)

    def keys(self) -> list[ObjectKey]:
        records = self.host.store.list_sources()
        if self.watch is not None:
            try:
                self.watch([(r.name, r.location, r.recursive) for r in records if r.type == "dir"])
            except Exception as err:  # no file events: the interval still relists
                _log.error("source_watch_update_failed", error=repr(err))
        return [source_key(r.name) for r in records]

    def sync(self, key: ObjectKey, *, now: float) -> SyncResult:
        rec = self.host.store.get_source(key.name)
        if rec is None:
            return self._forget(key.name)
        with self._lock:
            last = self._done_at.get(key.name)
            due = key.name in self._dirty or last is None or now - last >= rec.interval_s
            if due:
                self._dirty.discard(key.name)
        if not due:
            assert last is not None
            return SyncResult(requeue_after=last + rec.interval_s - now, needs_supervisor=True)
        try:
            outcome = self.reconcile(key.name, now=now)
        except BaseException:
            self.mark([key.name])  # the loop retries it with back-off: reconcile then
            raise
        if outcome.gone:  # unwatched while this sync waited for the source's lock
            return self._forget(key.name)
        with self._lock:
            self._done_at[key.name] = now
        if outcome.pods_changed and self.on_pods_changed is not None:
            self.on_pods_changed()
        after = rec.interval_s
        if outcome.requeue_after is not None:
            after = min(after, outcome.requeue_after)
            if outcome.requeue_after < rec.interval_s:
                self.mark([key.name])  # a settling file or a retry: reconcile then
        return SyncResult(requeue_after=after, needs_supervisor=True)

    def _forget(self, name: str) -> SyncResult:
        with self._lock:
            self._dirty.discard(name)
            self._done_at.pop(name, None)
        return SyncResult()

    def failed(self, key: ObjectKey, err: PermanentError, *, now: float) -> None:
        _log.warning("source_failed", source=key.name, error=str(err))


class DirWatcher:
    """watchdog observers on the directories of the sources; `on_event(name)` is called from
    watchdog's thread for any event under a source's directory."""

    def __init__(self, on_event: Callable[[str], None]) -> None:
        self.on_event = on_event
        self._lock = threading.Lock()
        self._watches: dict[str, tuple[str, bool, Any]] = {}  # name -> (path, recursive, watch)
        self._observer: Any = None

    def update(self, wanted: list[tuple[str, str, bool]]) -> None:
        """Watch exactly these (name, directory, recursive); a directory that cannot be
        watched (missing) is tried again at the next update. No watchdog (its modules, its
        thread) until there is a directory to watch: most supervisors never have one."""
        with self._lock:
            if not wanted and self._observer is None:
                return
            observer = self._ensure_observer()
            want = {name: (path, recursive) for name, path, recursive in wanted}
            for name in list(self._watches):
                path, recursive, watch = self._watches[name]
                if want.get(name) != (path, recursive) or not _alive(watch, path):
                    # a directory removed, or replaced by another: watch the new one
                    self._unschedule(observer, watch)
                    del self._watches[name]
            for name, (path, recursive) in want.items():
                if name in self._watches:
                    continue
                handler = _Handler(name, path, self.on_event)
                try:
                    identity = _identity(path)
                    watch = observer.schedule(handler, path, recursive=recursive)
                except OSError as err:
                    _log.info("source_watch_failed", source=name, path=path, error=str(err))
                    continue
                self._watches[name] = (path, recursive, (watch, handler, identity))

    def watching(self, name: str) -> bool:
        """Whether source `name`'s directory is watched by a live watch now."""
        with self._lock:
            entry = self._watches.get(name)
        return entry is not None and _alive(entry[2], entry[0])

    def _ensure_observer(self) -> Any:
        if self._observer is None:
            from watchdog.observers import Observer

            self._observer = Observer()
            self._observer.daemon = True
            self._observer.start()
        return self._observer

    @staticmethod
    def _unschedule(observer: Any, watch: Any) -> None:
        with contextlib.suppress(KeyError, OSError):
            observer.unschedule(watch[0])

    def close(self) -> None:
        with self._lock:
            if self._observer is not None:
                self._observer.stop()
                self._observer.join(timeout=5)
                self._observer = None
            self._watches.clear()


def _identity(path: str) -> tuple[int, int]:
    import os

    st = os.stat(path)
    return st.st_dev, st.st_ino


def _alive(watch: Any, path: str) -> bool:
    """A watch of a directory that was removed (or replaced) must be made again."""
    _, handler, identity = watch
    try:
        return not handler.dead and bool(_identity(path) == identity)
    except OSError:
        return False


class _Handler:
    """Any event under the directory: the source's name to `on_event`. The directory itself
    removed or moved away: the watch is dead (the next full pass makes a new one)."""

    def __init__(self, name: str, root: str, on_event: Callable[[str], None]) -> None:
        self.name = name
        self.root = root.rstrip("/") or "/"
        self.on_event = on_event
        self.dead = False

    def dispatch(self, event: Any) -> None:
        kind = getattr(event, "event_type", "")
        if kind in ("deleted", "moved") and str(getattr(event, "src_path", "")) == self.root:
            self.dead = True
        if kind in CHANGES:  # not reads: our own would loop
            self.on_event(self.name)
