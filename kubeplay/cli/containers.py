"""`kubeplay logs`, `exec`, `port-forward` and `wait`: commands on one pod's containers;
parsing and output only (`services.containers` does the work)."""

from __future__ import annotations

import sys

import click

from kubeplay.cli import supervise as supervise_cli
from kubeplay.cli.common import ns as _ns
from kubeplay.cli.common import seconds as _seconds
from kubeplay.cli.common import settings as _settings


def _require_pods(resource: str) -> None:
    if resource.lower() not in ("pod", "pods", "po"):
        from kubeplay.errors import UsageError

        raise UsageError(f'the server doesn\'t have a resource type "{resource}"')


@click.command()
@click.argument("pod")
@click.option("-c", "--container", default=None)
@click.option("-n", "--namespace", default=None)
@click.option("-f", "--follow", is_flag=True)
@click.option("--tail", type=int, default=-1)
@click.option("--timestamps", is_flag=True)
@click.option("-p", "--previous", is_flag=True)
def logs(
    pod: str,
    container: str | None,
    namespace: str | None,
    follow: bool,
    tail: int,
    timestamps: bool,
    previous: bool,
) -> None:
    """Print a container's logs."""
    from kubeplay.services import containers

    pod = pod.removeprefix("pod/").removeprefix("pods/")
    supervise_cli.revive_supervisor()
    for line in containers.logs(
        _settings(),
        _ns(namespace),
        pod,
        container=container,
        follow=follow,
        tail=tail,
        previous=previous,
    ):
        text = f"{line.timestamp} {line.text}" if timestamps else line.text
        click.echo(text)
        if follow:
            sys.stdout.flush()


@click.command()
@click.option("-i", "--stdin", "interactive", is_flag=True)
@click.option("-t", "--tty", is_flag=True)
@click.option("-c", "--container", default=None)
@click.option("-n", "--namespace", default=None)
@click.argument("pod")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def exec(
    interactive: bool,
    tty: bool,
    container: str | None,
    namespace: str | None,
    pod: str,
    command: tuple[str, ...],
) -> None:
    """Run a command in a container: exec [-i] [-t] POD [-c CTR] -- CMD..."""
    from kubeplay.services import containers

    argv = list(command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    pod = pod.removeprefix("pod/").removeprefix("pods/")
    code = containers.exec_in(
        _settings(),
        _ns(namespace),
        pod,
        argv,
        container=container,
        tty=tty,
        interactive=interactive,
    )
    sys.exit(code)


@click.command("port-forward")
@click.option("-n", "--namespace", default=None)
@click.option(
    "--address",
    default="127.0.0.1",
    help="Addresses to listen on, comma separated (default 127.0.0.1).",
)
@click.argument("resource")
@click.argument("ports", nargs=-1, required=True)
def port_forward(
    namespace: str | None, address: str, resource: str, ports: tuple[str, ...]
) -> None:
    """Forward local ports to a pod: port-forward pod/NAME|svc/NAME|deploy/NAME
    [[ADDR:]LOCAL:]REMOTE... (REMOTE a port number or name; a Service's port)."""
    import signal
    import threading

    from kubeplay.services import portforward

    target = portforward.resolve(
        _settings(),
        _ns(namespace),
        resource,
        ports,
        addresses=[a.strip() for a in address.split(",") if a.strip()],
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    portforward.run(target, stop=stop, ready=lambda line: click.echo(line, err=False))


@click.command()
@click.argument("target")
@click.option("--for", "condition", required=True, help="condition=Ready or delete")
@click.option("--timeout", default="30s", help="e.g. 60s, 2m")
@click.option("-n", "--namespace", default=None)
def wait(target: str, condition: str, timeout: str, namespace: str | None) -> None:
    """Wait for a pod condition: wait pod/NAME --for=condition=Ready --timeout=60s (or a
    Job's: wait job/NAME --for=condition=complete)."""
    from kubeplay.services import containers

    kind, _, name = target.partition("/")
    if name and kind.lower() in ("job", "jobs", "job.batch", "jobs.batch"):
        from kubeplay.services import jobs

        supervise_cli.revive_supervisor()
        click.echo(
            jobs.wait(
                _settings(), _ns(namespace), name, condition=condition, timeout=_seconds(timeout)
            )
        )
        return
    _require_pods(kind if name else "pod")
    name = name or kind
    supervise_cli.revive_supervisor()
    msg = containers.wait(
        _settings(), _ns(namespace), name, condition=condition, timeout=_seconds(timeout)
    )
    click.echo(msg)
