"""Commands around the supervisor: `agent`, `generate systemd`, `get events [-w]`,
`get pods -w` and the Events section of `describe pod`. Parsing and rendering only."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import click

from kubeplay import settings as settings_mod
from kubeplay.errors import KubeplayError

POLL_SECONDS = 0.5
Rows = list[tuple[object, list[str]]]


@click.command()
@click.option(
    "--idle-exit",
    is_flag=True,
    hidden=True,
    help="Exit once no pod needs supervising (how commands start it in the background).",
)
def agent(idle_exit: bool) -> None:
    """Run the supervisor in the foreground (restarts, back-off, events), e.g. under systemd.

    It logs to supervisor.log under the run root, and exits at once if a supervisor runs
    already.
    """
    from kubeplay.engine import supervisor
    from kubeplay.services import supervision

    s = settings_mod.load()
    if not idle_exit:
        click.echo(f"kubeplay agent: logging to {supervisor.log_path(s)}", err=True)
    if not supervision.run_agent(s, idle_exit=idle_exit) and not idle_exit:
        click.echo(f"kubeplay agent: a supervisor runs already (pid in {supervisor.pid_path(s)})")


@click.command("systemd")
def generate_systemd() -> None:
    """Print a systemd unit that runs `kubeplay agent` for this install."""
    from kubeplay.services import supervision

    click.echo(supervision.systemd_unit(), nl=False)


def ensure_supervisor() -> None:
    """After a command that changed pods: nudge the supervisor, or start one if a pod needs
    it (commands start it, not the services, so that tests driving services start none)."""
    from kubeplay.services import supervision

    supervision.ensure_running(settings_mod.load())


def revive_supervisor() -> None:
    """Before a command reads pod state: restart a missing supervisor when pods need one,
    and say so on stderr (a back-off shown without one would never end)."""
    from kubeplay.services import supervision

    try:
        pid = supervision.revive(settings_mod.load())
    except (KubeplayError, OSError) as err:
        click.echo(f"warning: supervision is not running and could not be started: {err}", err=True)
        return
    if pid is not None:
        click.echo(
            f"kubeplay: the supervisor was not running and pods need it: started it (pid {pid})",
            err=True,
        )


def describe_supervision() -> str:
    """describe's line on supervision: whether a supervisor runs for this install."""
    from kubeplay.services import supervision

    pid = supervision.running_pid(settings_mod.load())
    state = f"running (pid {pid})" if pid is not None else "not running"
    return f"Supervisor:   {state}"


# --- streaming tables (-w) ---------------------------------------------------------------


def _emit(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


def _stream(fetch: Callable[[], Rows], headers: Sequence[str], *, ignore: int) -> None:
    """kubectl -w: the table, then a line whenever a row appears or changes; column `ignore`
    (AGE, LAST SEEN) is shown but a change in it alone is not a change."""
    from kubeplay.cli import render

    def same(row: list[str]) -> list[str]:
        return row[:ignore] + row[ignore + 1 :]

    first = fetch()
    seen = {key: same(row) for key, row in first}
    widths = [len(h) for h in headers]
    for _, row in first:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    for line in render.table(headers, [row for _, row in first]).splitlines():
        _emit(line)
    try:
        while True:
            time.sleep(POLL_SECONDS)
            for key, row in fetch():
                if seen.get(key) != same(row):
                    seen[key] = same(row)
                    _emit("   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    except KeyboardInterrupt:
        return


def watch_pods(namespace: str | None, *, names: Sequence[str], wide: bool) -> None:
    """`get pods -w`: the table, then a line whenever a pod's row changes."""
    from kubeplay.cli import render
    from kubeplay.services import pods

    s = settings_mod.load()
    headers = render.pod_headers(namespaces=namespace is None, wide=wide)

    def fetch() -> Rows:
        now = time.time()
        return [
            (v.record.uid, render.pod_row(v, now, namespaces=namespace is None, wide=wide))
            for v in pods.get_pods(s, namespace=namespace)
            if not names or v.record.name in names
        ]

    _stream(fetch, headers, ignore=headers.index("AGE"))


# --- events ------------------------------------------------------------------------------


def get_events(namespace: str | None, *, watch: bool) -> None:
    """`get events [-n NS | -A] [-w]`: kubectl's LAST SEEN, TYPE, REASON, OBJECT, MESSAGE."""
    from kubeplay.cli import render
    from kubeplay.services import events

    s = settings_mod.load()
    headers = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    if namespace is None:
        headers.insert(0, "NAMESPACE")

    def fetch() -> Rows:
        now = time.time()
        out: Rows = []
        for v in events.list_events(s, namespace=namespace):
            e = v.event
            row = [render.human_duration(now - e.last_at), e.type, e.reason, f"pod/{v.pod}"]
            row.append(e.message)
            if namespace is None:
                row.insert(0, v.namespace)
            out.append(((e.id, e.count), row))
        return out

    if watch:
        _stream(fetch, headers, ignore=headers.index("LAST SEEN"))
        return
    rows = [row for _, row in fetch()]
    if not rows:
        where = "" if namespace is None else f" in {namespace} namespace"
        click.echo(f"No resources found{where}.", err=True)
        return
    click.echo(render.table(headers, rows))


def render_events(events: Sequence[Any], *, source: str) -> str:
    """An Events section of `describe` for an object other than a pod (EventRecords, all
    reported by `source`: job-controller, cronjob-controller)."""
    from kubeplay.cli import render

    if not events:
        return "Events:            <none>"
    now = time.time()
    rows = []
    for e in sorted(events, key=lambda e: (e.last_at, e.id)):
        age = render.human_duration(now - e.last_at)
        if e.count > 1:
            age += f" (x{e.count} over {render.human_duration(now - e.first_at)})"
        rows.append([e.type, e.reason, age, source, e.message])
    headers = ["Type", "Reason", "Age", "From", "Message"]
    lines = render.table(headers, [["-" * len(h) for h in headers], *rows]).splitlines()
    return "\n".join(["Events:"] + ["  " + line for line in lines])


def describe_events(uid: str) -> str:
    """The Events section of `describe pod`, as kubectl prints it."""
    from kubeplay.cli import render
    from kubeplay.services import events

    views = events.list_events(settings_mod.load(), pod_uid=uid)
    if not views:
        return "Events:            <none>"
    now = time.time()
    rows = []
    for v in views:
        e = v.event
        age = render.human_duration(now - e.last_at)
        if e.count > 1:
            age += f" (x{e.count} over {render.human_duration(now - e.first_at)})"
        rows.append([e.type, e.reason, age, v.source, e.message])
    headers = ["Type", "Reason", "Age", "From", "Message"]
    lines = render.table(headers, [["-" * len(h) for h in headers], *rows]).splitlines()
    return "\n".join(["Events:"] + ["  " + line for line in lines])
