"""conmon exit files: parsing, reading and waiting (plain files, no conmon)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from kubeplay.runtime import exits
from kubeplay.runtime.exits import ContainerExit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("0", 0, id="zero"),
        pytest.param("3", 3, id="code"),
        pytest.param("143", 143, id="sigterm"),
        pytest.param("-1", -1, id="unknown"),
        pytest.param(" 137\n", 137, id="whitespace"),
        pytest.param("", None, id="empty"),
        pytest.param("abc", None, id="garbage"),
    ],
)
def test_parse_exit_code(text: str, expected: int | None) -> None:
    assert exits.parse_exit_code(text) == expected


def write_exit(directory: Path, name: str, text: str, *, mtime: float | None = None) -> Path:
    """Write as conmon does (g_file_set_contents): a temporary file renamed into place."""
    tmp = directory / f".{name}.XXXXXX"
    tmp.write_text(text)
    if mtime is not None:
        os.utime(tmp, (mtime, mtime))
    path = directory / name
    tmp.rename(path)
    return path


def test_read_exit_file(tmp_path: Path) -> None:
    path = write_exit(tmp_path, "c1", "3", mtime=1_700_000_000.5)
    assert exits.read_exit_file(path, oom_file=None) == ContainerExit(3, 1_700_000_000.5, False)


def test_read_exit_file_oom(tmp_path: Path) -> None:
    path = write_exit(tmp_path, "c1", "137", mtime=1_700_000_000.0)
    (tmp_path / "oom").touch()
    got = exits.read_exit_file(path, oom_file=tmp_path / "oom")
    assert got == ContainerExit(137, 1_700_000_000.0, True)


@pytest.mark.parametrize("content", [None, ""], ids=["missing", "empty"])
def test_read_exit_file_none(tmp_path: Path, content: str | None) -> None:
    if content is not None:
        (tmp_path / "c1").write_text(content)
    assert exits.read_exit_file(tmp_path / "c1", oom_file=None) is None


def test_wait_for_file_already_there(tmp_path: Path) -> None:
    write_exit(tmp_path, "c1", "0")
    got = exits.wait_for_file(tmp_path, "c1", timeout=0, oom_file=None)
    assert got is not None and got.exit_code == 0


def test_wait_for_file_times_out(tmp_path: Path) -> None:
    write_exit(tmp_path, "other", "1")
    started = time.monotonic()
    assert exits.wait_for_file(tmp_path, "c1", timeout=0.2, oom_file=None) is None
    assert 0.2 <= time.monotonic() - started < 1.0


def test_wait_for_file_wakes_on_rename(tmp_path: Path) -> None:
    timer = threading.Timer(0.1, write_exit, (tmp_path, "c1", "143"))
    timer.start()
    try:
        started = time.monotonic()
        got = exits.wait_for_file(tmp_path, "c1", timeout=5, oom_file=None)
        waited = time.monotonic() - started
    finally:
        timer.join()
    assert got is not None and got.exit_code == 143
    assert waited < 1.0


def test_wait_for_file_without_inotify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: object, directory: Path) -> None:
        raise OSError(24, "too many inotify instances")

    monkeypatch.setattr(exits._Inotify, "__init__", broken)
    timer = threading.Timer(0.05, write_exit, (tmp_path, "c1", "2"))
    timer.start()
    try:
        got = exits.wait_for_file(tmp_path, "c1", timeout=5, oom_file=None)
    finally:
        timer.join()
    assert got is not None and got.exit_code == 2


def test_waiting_without_a_practical_timeout_does_not_overflow_poll(tmp_path: Path) -> None:
    """sync_pod waits for an init container with a huge timeout (1e9 s)."""
    (tmp_path / "cid").write_text("0")
    got = exits.wait_for_file(tmp_path, "cid", timeout=1e9, oom_file=None)
    assert got is not None and got.exit_code == 0
    watch = exits._Inotify(tmp_path)
    try:
        (tmp_path / "other").write_text("1")
        assert "other" in (watch.names(1e9) or [])  # created, then closed after writing
    finally:
        watch.close()
