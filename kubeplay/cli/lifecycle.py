"""`kubeplay down`, `delete`, `scale`, `create job` and `system reset`: the commands that remove
or resize what runs; parsing and rendering only."""

from __future__ import annotations

import click

from kubeplay.cli import sources as sources_cli
from kubeplay.cli import supervise as supervise_cli
from kubeplay.cli.common import ns as _ns
from kubeplay.cli.common import settings as _settings
from kubeplay.cli.common import warn as _warn


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--grace-period", type=float, default=None, help="Seconds before SIGKILL.")
@click.option("--volumes", is_flag=True, help="Also remove the named volumes of their claims.")
def down(files: tuple[str, ...], grace_period: float | None, volumes: bool) -> None:
    """Stop and remove the pods FILES describe."""
    from kubeplay.services import play as play_mod

    report = play_mod.down(_settings(), files, grace=grace_period, volumes=volumes)
    for ref in report.removed:
        click.echo(f"pod/{ref.split('/', 1)[1]} deleted")
    for ref in report.workloads:
        click.echo(f"{ref.split('/', 1)[1]} deleted")
    for ref in report.objects:
        click.echo(f"{ref} deleted")
    for name in report.volumes:
        click.echo(f"volume/{name} deleted")
    _warn(f"volume {name}: still used by another pod, kept" for name in report.volumes_in_use)
    supervise_cli.ensure_supervisor()


@click.command()
@click.argument("resource", required=False)
@click.argument("names", nargs=-1)
@click.option("-n", "--namespace", default=None)
@click.option("--grace-period", type=float, default=None)
@click.option("-f", "--filename", "files", multiple=True, help="Delete what these files define.")
@click.option("-R", "--recursive", is_flag=True, help="Read -f directories recursively.")
@click.option(
    "--cascade",
    default="background",
    help="background (default): the dependents go afterwards (the supervisor removes them); "
    "foreground: before the owner; orphan: they stay, without their ownerReference.",
)
def delete(
    resource: str | None,
    names: tuple[str, ...],
    namespace: str | None,
    grace_period: float | None,
    files: tuple[str, ...],
    recursive: bool,
    cascade: str,
) -> None:
    """Delete objects: delete KIND NAME... | delete -f PATH..."""
    from kubeplay.cli import objects as objects_cli
    from kubeplay.errors import UsageError
    from kubeplay.services import play as play_mod

    cascade = objects_cli.cascade_of(cascade)
    if files:
        if resource:
            raise UsageError("delete: give either -f PATH or KIND NAME..., not both")
        if objects_cli.delete_files(_settings(), files, recursive=recursive, cascade=cascade):
            supervise_cli.ensure_supervisor()
        return
    if not resource or not names:
        raise UsageError("delete: give KIND NAME... or -f PATH")
    _warn(sources_cli.managed_warnings(resource, names, _ns(namespace)))
    if objects_cli.handles(resource):
        return objects_cli.delete(_settings(), resource, names, namespace=_ns(namespace))
    if resource.lower() not in ("pod", "pods", "po"):
        s = _settings()
        if objects_cli.delete_any(
            s, resource, names, namespace=_ns(namespace), grace=grace_period, cascade=cascade
        ):
            supervise_cli.ensure_supervisor()
        return
    report = play_mod.delete(_settings(), _ns(namespace), names, grace=grace_period)
    for ref in report.removed:
        click.echo(f'pod "{ref.split("/", 1)[1]}" deleted')
    supervise_cli.ensure_supervisor()


@click.command()
@click.argument("resource")
@click.argument("names", nargs=-1)
@click.option("--replicas", type=click.IntRange(min=0), required=True, help="The new size.")
@click.option("-n", "--namespace", default=None)
def scale(resource: str, names: tuple[str, ...], replicas: int, namespace: str | None) -> None:
    """Set a Deployment's, ReplicaSet's or StatefulSet's replicas: scale KIND/NAME --replicas N."""
    from kubeplay.services import workloads

    report = workloads.scale(
        _settings(), resource, names, replicas=replicas, namespace=_ns(namespace)
    )
    for line in report.lines:
        click.echo(line)
    _warn(report.warnings)
    supervise_cli.ensure_supervisor()


@click.group()
def create() -> None:
    """Create an object from another (create job NAME --from=cronjob/NAME)."""


@create.command("job")
@click.argument("name")
@click.option("--from", "source", required=True, help="cronjob/NAME: run its jobTemplate now.")
@click.option("-n", "--namespace", default=None)
def create_job(name: str, source: str, namespace: str | None) -> None:
    """Run a CronJob's Job now, as `kubectl create job NAME --from=cronjob/NAME`."""
    from kubeplay.services import jobs

    click.echo(jobs.create_from_cronjob(_settings(), _ns(namespace), name, source))
    supervise_cli.ensure_supervisor()


@click.group()
def system() -> None:
    """Manage this kubeplay install."""


@system.command("reset")
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
def system_reset(force: bool) -> None:
    """Remove every pod, the bridge, nft table, dnsmasq, images and all state."""
    from kubeplay.services import system as system_mod

    s = _settings()
    if not force:
        click.confirm(
            f"Remove every pod, image and all state under {s.root} and {s.runroot}, "
            f"and the bridge {s.bridge}?",
            abort=True,
        )
    report = system_mod.reset(s)
    for ref in report.pods:
        click.echo(f"pod/{ref.split('/', 1)[1]} deleted")
    click.echo("kubeplay reset: done")
