"""`kubeplay apply` and `kubeplay diff`: kubectl's declarative verbs; parsing, rendering and exit
codes only (`services.apply` does the work).

apply prints kubectl's lines (`pod/web created`, `configmap/cfg configured`,
`deployment.apps/api unchanged`, `pod/old pruned`); a refused object is printed as an error and
the command exits 1 after applying the others. diff exits 0 without differences, 1 with, and
2 on an error, as `kubectl diff`.
"""

from __future__ import annotations

import sys

import click

from kubeplay import settings as settings_mod
from kubeplay.cli import images as images_cli
from kubeplay.cli.common import seconds as _seconds


@click.command()
@click.option("-f", "--filename", "files", multiple=True, required=True, help="File, dir or -.")
@click.option("-R", "--recursive", is_flag=True, help="Read directories recursively.")
@click.option("--prune", is_flag=True, help="Remove what an earlier apply of these paths made.")
@click.option("--dry-run", is_flag=True, help="Print what would change, change nothing.")
@click.option("--force", is_flag=True, help="Delete and recreate objects refused as immutable.")
@click.option("--wait", is_flag=True, help="Wait until every applied pod is Ready.")
@click.option("--timeout", default="5m", help="How long --wait waits (e.g. 60s, 5m).")
@click.option("--kube-version", default="", help="Kubernetes version of the schema (1.37).")
@images_cli.tls_option
@images_cli.authfile_option
@images_cli.cert_dir_option
def apply(
    files: tuple[str, ...],
    recursive: bool,
    prune: bool,
    dry_run: bool,
    force: bool,
    wait: bool,
    timeout: str,
    kube_version: str,
    tls_verify: bool | None,
    authfile: str,
    cert_dir: str,
) -> None:
    """Create or update the objects in FILES, as kubectl apply: apply -f PATH..."""
    from kubeplay.cli import progress
    from kubeplay.cli import supervise as supervise_cli
    from kubeplay.services import apply as apply_svc

    settings = settings_mod.load()
    with progress.for_stderr() as renderer:
        report = apply_svc.apply(
            settings,
            files,
            recursive=recursive,
            prune=prune,
            dry_run=dry_run,
            force=force,
            wait=wait,
            timeout=_seconds(timeout),
            kube_version=kube_version,
            pull_options=images_cli.pull_options(tls_verify, authfile, cert_dir),
            progress=renderer,
            before_wait=lambda r: supervise_cli.ensure_supervisor() if r.pods_changed else None,
        )
    for line in report.warnings:
        click.echo(f"warning: {line}", err=True)
    for line in report.lines:
        click.echo(line)
    for line in report.refused:
        click.echo(f"error: {line}", err=True)
    if report.pods_changed:
        supervise_cli.ensure_supervisor()
    if report.not_ready:
        click.echo(
            f"error: timed out waiting for the condition on {', '.join(report.not_ready)}",
            err=True,
        )
    if report.refused or report.not_ready:
        sys.exit(1)


@click.command()
@click.option("-f", "--filename", "files", multiple=True, required=True, help="File, dir or -.")
@click.option("-R", "--recursive", is_flag=True, help="Read directories recursively.")
@click.option("--prune", is_flag=True, help="Also show what apply --prune would remove.")
def diff(files: tuple[str, ...], recursive: bool, prune: bool) -> None:
    """Show what apply -f FILES would change: exit 0 none, 1 differences, 2 error."""
    from kubeplay.errors import KubeplayError
    from kubeplay.services import apply as apply_svc

    try:
        report = apply_svc.diff(settings_mod.load(), files, recursive=recursive, prune=prune)
    except KubeplayError as err:  # exit 1 means "differences": an error is always above
        click.echo(f"error: {err}", err=True)
        sys.exit(max(2, err.exit_code))
    for line in report.warnings:
        click.echo(f"warning: {line}", err=True)
    click.echo(report.text, nl=False)
    sys.exit(1 if report.changed else 0)
