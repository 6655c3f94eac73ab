"""Pull progress on stderr: a bar per pull on a terminal (rich), else one line per layer.

`for_stderr()` picks the renderer; both implement kubeplay.image.pulls.PullProgress and are
safe to call from the threads of parallel pulls. Rendering only: nothing here decides.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import Any

import click

from kubeplay.cli.images import size as _size


class LineProgress:
    """Without a terminal: `Copying blob sha256:... done (1.2 MB)` per layer, like podman."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def _say(self, text: str) -> None:
        with self._lock:
            click.echo(text, err=True)

    def started(self, name: str, *, layers: int, total: int, cached: int) -> None:
        self._say(
            f"Pulling {name}: {layers} layers, {cached} already here, {_size(total)} to fetch"
        )

    def advanced(self, name: str, *, done: int) -> None:
        pass

    def layer_done(self, name: str, digest: str, *, size: int, cached: bool) -> None:
        state = "skipped: already exists" if cached else f"done ({_size(size)})"
        self._say(f"Copying blob {digest} {state}")

    def finished(self, name: str, *, image_id: str, fetched: int) -> None:
        self._say(f"Pulled {name}: {image_id} ({_size(fetched)} fetched)")

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        pass


class BarProgress:
    """On a terminal: one rich progress bar per pull (bytes), layer count in its label."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=Console(file=sys.stderr),
            transient=False,
        )
        self._tasks: dict[str, Any] = {}
        self._layers: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def _label(self, name: str) -> str:
        done, total = self._layers[name]
        return f"{name} [{done}/{total} layers]"

    def started(self, name: str, *, layers: int, total: int, cached: int) -> None:
        with self._lock:
            self._layers[name] = [0, layers]
            self._tasks[name] = self._progress.add_task(self._label(name), total=total or None)

    def advanced(self, name: str, *, done: int) -> None:
        with self._lock:
            if name in self._tasks:
                self._progress.update(self._tasks[name], completed=done)

    def layer_done(self, name: str, digest: str, *, size: int, cached: bool) -> None:
        with self._lock:
            if name in self._tasks:
                self._layers[name][0] += 1
                self._progress.update(self._tasks[name], description=self._label(name))

    def finished(self, name: str, *, image_id: str, fetched: int) -> None:
        with self._lock:
            if name in self._tasks:
                task = self._tasks[name]
                self._progress.update(task, total=fetched or 1, completed=fetched or 1)

    def __enter__(self) -> BarProgress:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()


def for_stderr() -> LineProgress | BarProgress:
    return BarProgress() if sys.stderr.isatty() else LineProgress()
