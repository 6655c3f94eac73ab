"""DirWatch: inotify names from several directories, non-blocking (no root needed)."""

from __future__ import annotations

import os
import select
from pathlib import Path

from kubeplay.runtime.watch import DirWatch


def _readable(fd: int, timeout: float = 2.0) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


def test_reports_files_created_or_renamed_into_each_directory(tmp_path: Path) -> None:
    exits, wake = tmp_path / "exits", tmp_path / "wake"
    exits.mkdir()
    wake.mkdir()
    watch = DirWatch([exits, wake])
    try:
        assert watch.names() == []  # nothing yet, and it does not block
        (exits / ".tmp").write_text("0")
        os.rename(exits / ".tmp", exits / "abc")  # conmon writes exit files this way
        (wake / "nudge").touch()
        assert _readable(watch.fd)
        got = set(watch.names())
        assert (exits, "abc") in got
        assert (wake, "nudge") in got
        assert watch.names() == []
    finally:
        watch.close()
