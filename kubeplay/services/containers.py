"""Container use cases: logs, exec and wait.

Logs are conmon's CRI `k8s-file` logs, one file per container instance
(pods/<uid>/logs/<container>/<restartCount>.log, as the kubelet lays them out), so --previous
reads the instance before the current one. Without -c, the first container, as kubectl does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kubeplay.engine import host as host_mod
from kubeplay.errors import KubeplayError, NotFoundError, UsageError
from kubeplay.services import pods as pod_services
from kubeplay.settings import Settings
from kubeplay.state.store import ContainerRecord, PodRecord


@dataclass(frozen=True, slots=True)
class LogLine:
    timestamp: str
    stream: str
    text: str


def parse_cri_line(line: str) -> tuple[str, str, bool, str] | None:
    """`<RFC3339Nano> <stream> <P|F> <content>` -> (timestamp, stream, partial, content)."""
    parts = line.rstrip("\n").split(" ", 3)
    if len(parts) < 3:
        return None
    ts, stream, tag = parts[0], parts[1], parts[2]
    content = parts[3] if len(parts) == 4 else ""
    return ts, stream, tag == "P", content


def _pick(rec: PodRecord, container: str | None) -> ContainerRecord:
    apps = [c for c in rec.containers if c.kind != "infra"]
    if container is None:
        main = [c for c in apps if c.kind == "app"]
        if not main:
            raise NotFoundError(f"pod {rec.namespace}/{rec.name}: no containers")
        return main[0]
    for c in apps:
        if c.name == container:
            return c
    names = " ".join(c.name for c in apps)
    raise NotFoundError(
        f"container {container} is not valid for pod {rec.name}: choose one of: [{names}]"
    )


def _record(settings: Settings, namespace: str, name: str) -> tuple[host_mod.Host, PodRecord]:
    host = host_mod.open_host(settings)
    rec = host.store.get_pod(namespace, name)
    if rec is None:
        host.close()
        raise NotFoundError(f'pod "{name}" not found in namespace "{namespace}"')
    return host, rec


def logs(
    settings: Settings,
    namespace: str,
    name: str,
    *,
    container: str | None = None,
    follow: bool = False,
    tail: int = -1,
    previous: bool = False,
) -> Iterator[LogLine]:
    host, rec = _record(settings, namespace, name)
    try:
        ctr = _pick(rec, container)
        if not ctr.log_path:
            raise KubeplayError(
                f'container "{ctr.name}" in pod "{name}" is waiting to start: ContainerCreating'
            )
        path = Path(ctr.log_path)
        if previous:
            if ctr.restart_count == 0:
                raise NotFoundError(
                    f'previous terminated container "{ctr.name}" in pod "{name}" not found'
                )
            path = path.with_name(f"{ctr.restart_count - 1}.log")
        lines = _read(path)
        if tail >= 0:
            lines = lines[len(lines) - tail :] if tail else []
        yield from lines
        if follow and not previous:
            yield from _follow(host, path, ctr.container_id, offset=_size(path))
    finally:
        host.close()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read(path: Path, offset: int = 0) -> list[LogLine]:
    try:
        with path.open("r", errors="replace") as fh:
            fh.seek(offset)
            raw = fh.read()
    except FileNotFoundError:
        return []
    out: list[LogLine] = []
    pending = ""
    for line in raw.splitlines():
        parsed = parse_cri_line(line)
        if parsed is None:
            continue
        ts, stream, partial, content = parsed
        pending += content
        if not partial:
            out.append(LogLine(ts, stream, pending))
            pending = ""
    return out


def _follow(host: host_mod.Host, path: Path, cid: str, *, offset: int) -> Iterator[LogLine]:
    while True:
        exited = host.read_exit(cid) is not None
        size = _size(path)
        if size > offset:
            with path.open("r", errors="replace") as fh:
                fh.seek(offset)
                chunk = fh.read()
            complete = chunk[: chunk.rfind("\n") + 1]
            offset += len(complete.encode())
            for line in complete.splitlines():
                parsed = parse_cri_line(line)
                if parsed:
                    yield LogLine(parsed[0], parsed[1], parsed[3])
        if exited:
            return
        time.sleep(0.2)


def exec_in(
    settings: Settings,
    namespace: str,
    name: str,
    argv: list[str],
    *,
    container: str | None = None,
    tty: bool = False,
    interactive: bool = False,
) -> int:
    if not argv:
        raise UsageError("exec: a command is required after --")
    host, rec = _record(settings, namespace, name)
    try:
        host_mod.require_runtime(host)
        ctr = _pick(rec, container)
        if not ctr.container_id or host.read_exit(ctr.container_id) is not None:
            raise KubeplayError(
                f"cannot exec in a container that is not running: {namespace}/{name} "
                f"container {ctr.name}"
            )
        return host.runtime.exec(ctr.container_id, argv, tty=tty, interactive=interactive)
    finally:
        host.close()


def wait(settings: Settings, namespace: str, name: str, *, condition: str, timeout: float) -> str:
    """Wait for `condition=<Type>[=<value>]` or `delete`; returns kubectl's message."""
    deadline = time.monotonic() + timeout
    if condition == "delete":
        while True:
            if not _exists(settings, namespace, name):
                return f"pod/{name} condition met"
            if time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        raise KubeplayError(f"timed out waiting for the condition on pods/{name}")
    if not condition.startswith("condition="):
        raise UsageError(f"unrecognized condition: {condition!r} (use condition=Ready or delete)")
    kind, _, want = condition.removeprefix("condition=").partition("=")
    want = want or "True"
    while True:
        view = pod_services.get_pod(settings, namespace, name)
        for cond in view.status.get("conditions", ()):
            if cond["type"].lower() == kind.lower() and cond["status"].lower() == want.lower():
                return f"pod/{name} condition met"
        if time.monotonic() >= deadline:
            raise KubeplayError(f"timed out waiting for the condition on pods/{name}")
        time.sleep(0.2)


def _exists(settings: Settings, namespace: str, name: str) -> bool:
    host = host_mod.open_host(settings)
    try:
        return host.store.get_pod(namespace, name) is not None
    finally:
        host.close()
