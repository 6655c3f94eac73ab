"""index.json of the image store: which images exist, their names, blobs and layers.

Readers load the file without a lock: every write replaces it whole (temp file, fsync, rename),
so a reader sees the old or the new index, never half of one. Writers take `index.lock`
(fcntl.flock, exclusive) around read-modify-write through `locked()`, so two kubeplay commands
running at once cannot lose each other's changes. Used only by `store.ImageStore`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kubeplay.errors import ImageError

INDEX_VERSION = 1


@dataclass(slots=True)
class IndexEntry:
    """One image: keyed in the index by its id (the config digest)."""

    names: list[str]
    manifest: str  # digest of the manifest blob
    config: str  # digest of the config blob (= image id)
    layer_blobs: list[str]  # digests of the layer blobs, bottom first
    diff_ids: list[str]  # diff ids = layer dir names, bottom first
    size: int
    created: str
    # "repo@sha256:..." the image was pulled as: its manifest's digest and, for an image
    # chosen from a multi-arch index, the index's digest too (docker's RepoDigests)
    digests: list[str] = field(default_factory=list)

    def blobs(self) -> list[str]:
        return [self.manifest, self.config, *self.layer_blobs]


def _decode(data: dict[str, Any]) -> dict[str, IndexEntry]:
    if data.get("version") != INDEX_VERSION:
        raise ImageError(f"image index: unsupported version {data.get('version')!r}")
    images = data.get("images", {})
    return {image_id: IndexEntry(**entry) for image_id, entry in images.items()}


def load(path: Path) -> dict[str, IndexEntry]:
    """The index at `path`; empty when there is none yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise ImageError(f"image index {path}: cannot read: {err.strerror}") from err
    try:
        return _decode(json.loads(text))
    except (ValueError, TypeError) as err:
        raise ImageError(f"image index {path}: corrupt: {err}") from err


def dump(path: Path, entries: dict[str, IndexEntry]) -> None:
    """Replace the index at `path` atomically."""
    document = {
        "version": INDEX_VERSION,
        "images": {image_id: asdict(entry) for image_id, entry in sorted(entries.items())},
    }
    fd, tmp = tempfile.mkstemp(prefix=".index-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def locked(path: Path) -> Iterator[dict[str, IndexEntry]]:
    """Hold the store's write lock; yield the index; write it back if the body changed it."""
    lock_path = path.with_name(path.name + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            entries = load(path)
            before = {key: asdict(value) for key, value in entries.items()}
            yield entries
            if {key: asdict(value) for key, value in entries.items()} != before:
                dump(path, entries)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
