"""Git sources (`kubeplay watch --git URL`): fetch into a bare cache, read the commit's tree.

`git fetch --prune` with forced refspecs (`+refs/heads/*`, `+refs/tags/*`, and the remote's
HEAD when no ref is given) into a bare repository under the state root, then the resolved
commit's tree is listed with `git ls-tree -r` and its blobs read with `git cat-file --batch`:
no work tree, so never a half-written file. A force-push is just another commit (noted as
"history rewritten: was X, now Y"); a failed fetch or a ref that vanished raises
`SourceUnavailable`, and nothing changes. Only the protocols git names safe are allowed
(no `ext::`), and no prompt ever waits for a password.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from kubeplay.plan import sources as plan_sources
from kubeplay.plan.sources import FileInput
from kubeplay.settings import Settings

if TYPE_CHECKING:
    from kubeplay.services.sources import Snapshot
    from kubeplay.state.store import SourceRecord

FETCH_TIMEOUT = 120.0
ALLOWED_PROTOCOLS = "file:git:http:https:ssh"
_SYMLINK = "120000"


def cache_dir(settings: Settings, name: str) -> Path:
    return settings.root / "sources" / name / "git"


def remove_cache(settings: Settings, name: str) -> None:
    shutil.rmtree(cache_dir(settings, name).parent, ignore_errors=True)


def _env() -> dict[str, str]:
    keep = ("PATH", "HOME", "SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "http_proxy", "https_proxy")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_ALLOW_PROTOCOL=ALLOWED_PROTOCOLS,
        LC_ALL="C",
        GIT_CONFIG_NOSYSTEM="1",
    )
    return env


def _git(cache: Path, *args: str, stdin: bytes | None = None, check: bool = True) -> bytes:
    from kubeplay.services.sources import SourceUnavailable

    try:
        done = subprocess.run(
            ["git", f"--git-dir={cache}", *args],
            input=stdin,
            capture_output=True,
            env=_env(),
            timeout=FETCH_TIMEOUT,
            check=False,
            cwd="/",
        )
    except FileNotFoundError as err:
        raise SourceUnavailable("git is not installed") from err
    except subprocess.TimeoutExpired as err:
        raise SourceUnavailable(f"git {args[0]}: timed out after {FETCH_TIMEOUT:.0f}s") from err
    if check and done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        raise SourceUnavailable(f"git {args[0]}: {lines[-1] if lines else 'failed'}")
    return done.stdout


def snapshot(settings: Settings, rec: SourceRecord) -> Snapshot:
    from kubeplay.services.sources import MAX_FILE_BYTES, Snapshot, SourceUnavailable

    cache = cache_dir(settings, rec.name)
    if not (cache / "HEAD").exists():
        cache.mkdir(parents=True, exist_ok=True)
        _git(cache, "init", "--bare", "-q")
    refspecs = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
    if not rec.ref:
        refspecs.append("+HEAD:refs/remotes/origin/HEAD")
    _git(cache, "fetch", "-q", "--prune", "--no-tags", "--", rec.location, *refspecs)
    commit = _resolve(cache, rec.ref)
    if commit is None:
        raise SourceUnavailable(f"{rec.location}: ref {rec.ref or 'HEAD'} not found")
    notes: list[str] = []
    if rec.revision and rec.revision != commit:
        ancestor = subprocess_ok(cache, "merge-base", "--is-ancestor", rec.revision, commit)
        if not ancestor:
            notes.append(f"history rewritten: was {rec.revision[:12]}, now {commit[:12]}")
    tree = f"{commit}:{rec.subpath}" if rec.subpath else commit
    if rec.subpath and not subprocess_ok(cache, "rev-parse", "-q", "--verify", tree):
        raise SourceUnavailable(f"{rec.location}@{commit[:12]}: no directory {rec.subpath}")
    listing = _git(cache, "ls-tree", "-r", "-z", "-l", tree)
    entries: dict[str, tuple[str, str, int]] = {}  # relpath -> (mode, blob, size)
    for item in listing.split(b"\0"):
        if not item:
            continue
        head, _, raw_path = item.partition(b"\t")
        mode, kind, blob_id, size_text = head.decode().split()
        if kind != "blob":
            continue  # a submodule
        size_of = int(size_text) if size_text.isdigit() else 0
        entries[raw_path.decode(errors="surrogateescape")] = (mode, blob_id, size_of)
    selection = plan_sources.select_files(list(entries), recursive=rec.recursive)
    files: list[FileInput] = []
    wanted: list[tuple[str, str]] = []
    for relpath in selection.files:
        mode, blob, size = entries[relpath]
        if mode == _SYMLINK:
            files.append(FileInput(relpath, sha256="", error=f"{relpath}: a symbolic link"))
        elif size > MAX_FILE_BYTES:
            files.append(FileInput(relpath, sha256="", error=f"{relpath}: {size} bytes: too large"))
        else:
            wanted.append((relpath, blob))
    texts: dict[str, str] = {}
    contents = _blobs(cache, [b for _, b in wanted])
    for (relpath, _), data in zip(wanted, contents, strict=True):
        sha = hashlib.sha256(data).hexdigest()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            files.append(FileInput(relpath, sha256=sha, error=f"{relpath}: not UTF-8: {err}"))
            continue
        texts[relpath] = text
        files.append(FileInput(relpath, sha256=sha, text=text))
    files.sort(key=lambda f: f.relpath)
    return Snapshot(
        files=tuple(files),
        texts=texts,
        revision=commit,
        warnings=selection.warnings,
        notes=tuple(notes),
    )


def subprocess_ok(cache: Path, *args: str) -> bool:
    done = subprocess.run(
        ["git", f"--git-dir={cache}", *args],
        capture_output=True,
        env=_env(),
        timeout=FETCH_TIMEOUT,
        check=False,
        cwd="/",
    )
    return done.returncode == 0


def _resolve(cache: Path, ref: str) -> str | None:
    names = (
        ["refs/remotes/origin/HEAD"]
        if not ref
        else [f"refs/remotes/origin/{ref}", f"refs/tags/{ref}", ref]
    )
    for name in names:
        out = _git(cache, "rev-parse", "-q", "--verify", f"{name}^{{commit}}", check=False)
        sha = out.decode().strip()
        if len(sha) == 40 or len(sha) == 64:
            return sha
    return None


def _blobs(cache: Path, blobs: list[str]) -> list[bytes]:
    """The contents of `blobs`, in order, through one `git cat-file --batch`."""
    if not blobs:
        return []
    out = _git(cache, "cat-file", "--batch", stdin="".join(f"{b}\n" for b in blobs).encode())
    contents: list[bytes] = []
    pos = 0
    for _ in blobs:
        end = out.index(b"\n", pos)
        header = out[pos:end].decode().split()
        size = int(header[2])
        contents.append(out[end + 1 : end + 1 + size])
        pos = end + 1 + size + 1
    return contents
