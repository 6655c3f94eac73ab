"""Database: one SQLite connection (WAL) shared by a process's threads, and its transactions.

The table modules (`objects`, `pods`, `events`, `volumes`) are mixins over this base, so one
`SqliteStore` holds them all and a caller can group writes of several tables in one
transaction: `transaction()` nests (an inner one joins the outer), so `with store.batch():`
around `put_record` and `add_pods` commits both or neither. Every connection sets a busy
timeout, so concurrent commands queue instead of failing. Decides nothing about objects.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kubeplay.state import schema


def _private_file(path: Path) -> None:
    """The database (it holds Secret data) readable by its owner only. SQLite gives its -wal
    and -shm files the database file's mode, so they follow."""
    # Never open (and close) a database file this process may have open already: closing any
    # descriptor of a file drops every POSIX lock the process holds on it, SQLite's included,
    # and another process closing its connection would then take this one's WAL away (a long
    # -lived process, the supervisor, opens the database more than once).
    try:
        if path.stat().st_mode & 0o777 != 0o600:
            path.chmod(0o600)
    except FileNotFoundError:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        os.close(fd)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            if side.stat().st_mode & 0o777 != 0o600:
                side.chmod(0o600)


def _enable_wal(db: sqlite3.Connection) -> None:
    """Switch to WAL. Two commands creating the database at once: the switch needs the
    database alone and SQLite answers "locked" at once instead of waiting its busy timeout,
    so try again for a while (the other command's switch takes milliseconds)."""
    import time

    deadline = time.monotonic() + 30.0
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class Database:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _private_file(path)
        self._lock = threading.RLock()  # one connection, shared by the engine's threads
        self._depth = 0  # transactions open on the owning thread (nested ones join)
        self._db = sqlite3.connect(
            path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._db.row_factory = sqlite3.Row
        _enable_wal(self._db)
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._open_schema()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._db
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._db
            except BaseException:
                self._depth = 0
                self._db.execute("ROLLBACK")
                raise
            self._depth = 0
            self._db.execute("COMMIT")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Every write inside is one transaction (all or nothing)."""
        with self.transaction():
            yield

    def _open_schema(self) -> None:
        schema.check_version(self._db)
        if schema.is_current(self._db):
            return
        with self.transaction() as db:
            schema.check_version(db)  # another process may have migrated meanwhile
            schema.migrate(db)
