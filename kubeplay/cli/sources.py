"""`kubeplay watch`, `unwatch`, `reconcile source`, `get sources` and `describe source`:
parsing, rendering and exit codes only (`services.sources` does the work).

`watch` stores the source and hands it to the supervisor (started if needed) and returns;
`--foreground` then prints one line per reconcile until interrupted; `--once` reconciles in
this command and exits 1 when a file is held (or the reconcile failed), for CI.
"""

from __future__ import annotations

import sys
import time

import click

from kubeplay import settings as settings_mod
from kubeplay.errors import UsageError

POLL_SECONDS = 0.2


def _interval(text: str | None) -> float | None:
    if text is None:
        return None
    from kubeplay.plan import sources as plan_sources

    try:
        return plan_sources.parse_interval(text)
    except ValueError as err:
        raise UsageError(f"--interval: {err}") from err


@click.command()
@click.argument("directory", required=False, default="")
@click.option("--git", "git_url", default="", help="Follow a git repository (URL or path).")
@click.option("--ref", default="", help="git: branch, tag or commit (default: the remote HEAD).")
@click.option("--path", "subpath", default="", help="git: the directory inside the repository.")
@click.option("-R", "--recursive", is_flag=True, help="Every level of the directory.")
@click.option("--name", default="", help="The source's name (default: the directory's).")
@click.option("--no-prune", is_flag=True, help="Never delete what left the source.")
@click.option("--allow-empty", is_flag=True, help="Prune even when the source is empty.")
@click.option("--interval", default=None, help="Relist every (20s; git: 60s).")
@click.option("--atomic", is_flag=True, help="One invalid file holds the whole revision.")
@click.option("--no-self-heal", is_flag=True, help="Apply new revisions only, never drift.")
@click.option("--force", is_flag=True, help="Recreate objects whose immutable fields change.")
@click.option("--foreground", is_flag=True, help="Print one line per reconcile.")
@click.option("--once", is_flag=True, help="Reconcile now and exit (1 if a file is held).")
def watch(
    directory: str,
    git_url: str,
    ref: str,
    subpath: str,
    recursive: bool,
    name: str,
    no_prune: bool,
    allow_empty: bool,
    interval: str | None,
    atomic: bool,
    no_self_heal: bool,
    force: bool,
    foreground: bool,
    once: bool,
) -> None:
    """Keep DIR (or --git URL) applied: watch DIR [-R] [--name N] [--interval 20s]."""
    from kubeplay.cli import supervise as supervise_cli
    from kubeplay.services import sources

    if foreground and once:
        raise UsageError("watch: --foreground and --once exclude each other")
    s = settings_mod.load()
    rec = sources.register(
        s,
        directory=directory,
        git=git_url,
        ref=ref,
        subpath=subpath,
        name=name,
        recursive=recursive,
        prune=not no_prune,
        allow_empty=allow_empty,
        interval=_interval(interval),
        atomic=atomic,
        self_heal=not no_self_heal,
        force=force,
        reuse=once or foreground,  # CI's --once again, or following a source that exists
    )
    if once:
        report = sources.reconcile(s, rec.name)
        _echo_report(report)
        supervise_cli.ensure_supervisor()
        if report.failed or report.held or report.conflicts:
            sys.exit(1)
        return
    _nudge(rec.name)
    click.echo(f"source/{rec.name} watching {rec.location}")
    if foreground:
        _follow(rec.name)


def _echo_report(report: object) -> None:
    from kubeplay.services.sources import ReconcileReport

    assert isinstance(report, ReconcileReport)
    click.echo(f"{time.strftime('%H:%M:%S')} {report.line()}")


def _nudge(name: str) -> None:
    from kubeplay.engine.controllers.sources import source_key
    from kubeplay.engine.supervisor import nudge
    from kubeplay.services import supervision

    s = settings_mod.load()
    if supervision.running_pid(s) is not None:
        nudge(s, [source_key(name)])
    else:
        supervision.ensure_running(s)


def _follow(name: str) -> None:
    """One line per reconcile the supervisor makes, until interrupted or unwatched."""
    from kubeplay.errors import NotFoundError
    from kubeplay.services import sources

    s = settings_mod.load()
    seen = 0.0
    try:
        while True:
            try:
                view = sources.get_source(s, name)
            except NotFoundError:
                click.echo(f"source/{name} unwatched")
                return
            rec = view.record
            if rec.last_attempt != seen:
                seen = rec.last_attempt
                stamp = time.strftime("%H:%M:%S", time.localtime(rec.last_attempt))
                click.echo(f"{stamp} {name}: {rec.message or rec.status}")
                sys.stdout.flush()
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        return


@click.command()
@click.argument("name")
@click.option("--prune", is_flag=True, help="Also delete the objects the source applied.")
def unwatch(name: str, prune: bool) -> None:
    """Stop following source NAME (its objects stay unless --prune)."""
    from kubeplay.cli import supervise as supervise_cli
    from kubeplay.services import sources

    for line in sources.unwatch(settings_mod.load(), name, prune=prune):
        click.echo(line)
    click.echo(f"source/{name} unwatched")
    if prune:
        supervise_cli.ensure_supervisor()


@click.group()
def reconcile() -> None:
    """Reconcile now: reconcile source NAME."""


@reconcile.command("source")
@click.argument("name")
def reconcile_source(name: str) -> None:
    """Reconcile the watched source NAME now (exit 1 if a file is held or it failed)."""
    from kubeplay.cli import supervise as supervise_cli
    from kubeplay.services import sources

    report = sources.reconcile(settings_mod.load(), name)
    _echo_report(report)
    supervise_cli.ensure_supervisor()
    if report.failed or report.held or report.conflicts:
        sys.exit(1)


# --- get / describe -------------------------------------------------------------------------

RESOURCE_NAMES = frozenset({"source", "sources", "src"})


def handles(resource: str) -> bool:
    return resource.lower() in RESOURCE_NAMES


def managed_warnings(resource: str, names: tuple[str, ...], namespace: str) -> list[str]:
    """What `delete KIND NAME...` of objects of a watched source should say first."""
    from kubeplay.services import sources

    return sources.managed_warnings(settings_mod.load(), resource, namespace, names)


def get(names: tuple[str, ...], *, output: str | None) -> None:
    """get sources: NAME TYPE SOURCE REVISION READY FILES HELD AGE MESSAGE."""
    from kubeplay.cli import render
    from kubeplay.plan.sources import FileStatus
    from kubeplay.services import sources

    s = settings_mod.load()
    views = [sources.get_source(s, n) for n in names] if names else sources.list_sources(s)
    if render.echo_listing(
        output,
        views,
        to_kube=_as_object,
        ref=lambda v: f"source/{v.record.name}",
        single=len(names) == 1,
    ):
        return
    if not views:
        render.echo_none_found(None)
        return
    now = time.time()
    rows = []
    for v in views:
        r = v.record
        location = (
            r.location + (f"@{r.ref}" if r.ref else "") + (f"//{r.subpath}" if r.subpath else "")
        )
        held = sum(f.status is not FileStatus.APPLIED for f in v.files)
        rows.append(
            [
                r.name,
                r.type,
                location,
                r.revision[:12] or "<none>",
                "True" if r.status == "Ready" else "False",
                str(len(v.files)),
                str(held),
                render.human_duration(now - r.created_at),
                _short(f"{r.status}: {r.message}" if r.message else r.status),
            ]
        )
    headers = ["NAME", "TYPE", "SOURCE", "REVISION", "READY", "FILES", "HELD", "AGE", "MESSAGE"]
    click.echo(render.table(headers, rows))


def _short(text: str, width: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _as_object(view: object) -> dict[str, object]:
    from kubeplay.services.sources import SourceView

    assert isinstance(view, SourceView)
    r = view.record
    return {
        "apiVersion": "kubeplay.io/v1alpha1",
        "kind": "Source",
        "metadata": {"name": r.name},
        "spec": {
            "type": r.type,
            "location": r.location,
            "ref": r.ref,
            "path": r.subpath,
            "recursive": r.recursive,
            "interval": f"{r.interval_s:g}s",
            "prune": r.prune,
            "allowEmpty": r.allow_empty,
            "atomic": r.atomic,
            "selfHeal": r.self_heal,
            "force": r.force,
        },
        "status": {
            "status": r.status,
            "message": r.message,
            "revision": r.revision,
            "lastAttempt": r.last_attempt,
            "files": [
                {"path": f.relpath, "status": str(f.status), "error": f.error} for f in view.files
            ],
            "inventory": list(view.objects),
        },
    }


def describe(name: str) -> None:
    from kubeplay.cli import render
    from kubeplay.services import sources

    view = sources.get_source(settings_mod.load(), name)
    r = view.record
    now = time.time()
    attempt = render.human_duration(now - r.last_attempt) + " ago" if r.last_attempt else "never"
    lines = [
        f"Name:          {r.name}",
        f"Type:          {r.type}",
        f"Source:        {r.location}",
    ]
    if r.type == "git":
        lines += [f"Ref:           {r.ref or 'HEAD'}", f"Path:          {r.subpath or '/'}"]
    lines += [
        f"Recursive:     {str(r.recursive).lower()}",
        f"Interval:      {r.interval_s:g}s",
        f"Prune:         {str(r.prune).lower()}",
        f"Allow empty:   {str(r.allow_empty).lower()}",
        f"Atomic:        {str(r.atomic).lower()}",
        f"Self-heal:     {str(r.self_heal).lower()}",
        f"Force:         {str(r.force).lower()}",
        f"Revision:      {r.revision or '<none>'}",
        f"Status:        {r.status}",
        f"Message:       {r.message or '<none>'}",
        f"Last attempt:  {attempt}",
    ]
    if view.files:
        lines.append("Files:")
        rows = [[f.relpath, str(f.status), f.sha256[:12] or "-", f.error or ""] for f in view.files]
        table = render.table(["FILE", "STATUS", "SHA256", "ERROR"], rows)
        lines += ["  " + line for line in table.splitlines()]
    else:
        lines.append("Files:         <none>")
    if view.objects:
        lines.append("Inventory:")
        lines += [f"  {ref}" for ref in view.objects]
    else:
        lines.append("Inventory:     <none>")
    if view.events:
        lines.append("Events:")
        rows = []
        for at, type_, reason, message, count in view.events:
            age = render.human_duration(now - at) + (f" (x{count})" if count > 1 else "")
            rows.append([type_, reason, age, message])
        table = render.table(["Type", "Reason", "Age", "Message"], rows)
        lines += ["  " + line for line in table.splitlines()]
    else:
        lines.append("Events:        <none>")
    click.echo("\n".join(lines))
