"""`kubeplay volume ls | inspect | rm`: the named volumes of persistentVolumeClaims.

Parsing and rendering only; `services.volumes` does the work.
"""

from __future__ import annotations

import json
import time

import click

from kubeplay import settings as settings_mod


@click.group("volume")
def volume() -> None:
    """Manage named volumes (persistentVolumeClaims)."""


@volume.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Names only.")
def volume_ls(quiet: bool) -> None:
    """List named volumes."""
    from kubeplay.cli import render
    from kubeplay.services import volumes

    views = volumes.list_volumes(settings_mod.load())
    if quiet:
        for view in views:
            click.echo(view.record.name)
        return
    now = time.time()
    rows = [
        [
            "local",
            v.record.name,
            render.human_duration(now - v.record.created_at),
            ",".join(v.users) or "<none>",
        ]
        for v in views
    ]
    click.echo(render.table(["DRIVER", "VOLUME NAME", "AGE", "USED BY"], rows))


@volume.command("inspect")
@click.argument("names", nargs=-1, required=True)
def volume_inspect(names: tuple[str, ...]) -> None:
    """Show named volumes as JSON."""
    from kubeplay.services import volumes

    views = volumes.inspect(settings_mod.load(), names)
    click.echo(json.dumps([v.to_dict() for v in views], indent=2))


@volume.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Remove the pods using it first.")
def volume_rm(names: tuple[str, ...], force: bool) -> None:
    """Remove named volumes (refused while a pod uses one, unless --force)."""
    from kubeplay.services import volumes

    for name in volumes.remove(settings_mod.load(), names, force=force):
        click.echo(name)
