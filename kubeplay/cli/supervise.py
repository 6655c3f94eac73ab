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
@click.option(
    "--watch",
    "watch_dirs",
    multiple=True,
    help="Also keep DIR applied (a watched source named after it; kept if it exists).",
)
def agent(idle_exit: bool, watch_dirs: tuple[str, ...]) -> None:
    """Run the supervisor in the foreground (restarts, back-off, events), e.g. under systemd.

    It logs to supervisor.log under the run root, and exits at once if a supervisor runs
    already.
    """
    from kubeplay.engine import supervisor
    from kubeplay.services import sources, supervision

    s = settings_mod.load()
    for directory in watch_dirs:
        rec = sources.ensure_registered(s, directory)
        click.echo(f"kubeplay agent: source/{rec.name} watching {rec.location}", err=True)
    if not idle_exit:
        click.echo(f"kubeplay agent: logging to {supervisor.log_path(s)}", err=True)
    if not supervision.run_agent(s, idle_exit=idle_exit) and not idle_exit:
        click.echo(f"kubeplay agent: a supervisor runs already (pid in {supervisor.pid_path(s)})")


@click.command("systemd")
@click.option("--watch", "watch_dirs", multiple=True, help="The agent keeps DIR applied.")
def generate_systemd(watch_dirs: tuple[str, ...]) -> None:
    """Print a systemd unit that runs `kubeplay agent` for this install."""
    import os

    from kubeplay.services import supervision

    dirs = [os.path.abspath(d) for d in watch_dirs]
    click.echo(supervision.systemd_unit(watch=dirs), nl=False)


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


def get_events(
    namespace: str | None,
    *,
    watch: bool,
    involved: tuple[str, str] | None = None,
    field_selector: str = "",
) -> None:
    """`get events [-n NS | -A] [--for KIND/NAME] [--field-selector F] [-w]`: kubectl's
    LAST SEEN, TYPE, REASON, OBJECT, MESSAGE, for every kind's events."""
    from kubeplay.cli import render
    from kubeplay.services import events

    s = settings_mod.load()
    headers = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    if namespace is None:
        headers.insert(0, "NAMESPACE")

    def fetch() -> Rows:
        now = time.time()
        out: Rows = []
        views = events.list_events(
            s, namespace=namespace, involved=involved, field_selector=field_selector
        )
        for v in views:
            e = v.event
            row = [render.human_duration(now - e.last_at), e.type, e.reason, v.object]
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
        render.echo_none_found(namespace)
        return
    click.echo(render.table(headers, rows))


def describe_events(uid: str) -> str:
    """The Events section of `describe KIND NAME`, as kubectl prints it."""
    from kubeplay.services import events

    return render_events(events.list_events(settings_mod.load(), uid=uid))


def render_events(items: Sequence[Any], *, source: str = "") -> str:
    """An Events section, as kubectl describe prints it: of EventViews (each names its
    reporter), or of EventRecords all reported by `source` (job-controller, ...)."""
    from kubeplay.cli import render

    if not items:
        return "Events:            <none>"
    now = time.time()
    rows = []
    shown = [(getattr(i, "event", i), getattr(i, "source", source)) for i in items]
    for e, reporter in sorted(shown, key=lambda pair: (pair[0].last_at, pair[0].id)):
        age = render.human_duration(now - e.last_at)
        if e.count > 1:
            age += f" (x{e.count} over {render.human_duration(now - e.first_at)})"
        rows.append([e.type, e.reason, age, reporter, e.message])
    headers = ["Type", "Reason", "Age", "From", "Message"]
    lines = render.table(headers, [["-" * len(h) for h in headers], *rows]).splitlines()
    return "\n".join(["Events:"] + ["  " + line for line in lines])
