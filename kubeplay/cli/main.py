"""The `kubeplay` command line: parsing, rendering and exit codes, nothing else.

Every command calls one service and renders its report. Commands are registered by the path
of their module (`COMMANDS`, a `LazyGroup`) and imported when run, and they import services
inside their function, so that `kubeplay get pods` imports only what listing pods needs.
Exit codes: 0 ok, 1 runtime failure, 2 bad input or usage; a KubeplayError prints
`error: <message>` without a traceback.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from kubeplay.cli import images as images_cli
from kubeplay.cli import supervise as supervise_cli
from kubeplay.cli.common import settings as _settings
from kubeplay.cli.common import warn as _warn
from kubeplay.cli.lazy import LazyGroup
from kubeplay.errors import KubeplayError

# name -> "module:attribute" of every command but `play` and `version` (defined below)
COMMANDS = {
    "agent": "kubeplay.cli.supervise:agent",
    "apply": "kubeplay.cli.apply:apply",
    "check": "kubeplay.cli.check:check",
    "create": "kubeplay.cli.lifecycle:create",
    "delete": "kubeplay.cli.lifecycle:delete",
    "describe": "kubeplay.cli.show:describe",
    "diff": "kubeplay.cli.apply:diff",
    "down": "kubeplay.cli.lifecycle:down",
    "exec": "kubeplay.cli.containers:exec",
    "generate": "kubeplay.cli.generate:generate",
    "get": "kubeplay.cli.show:get",
    "image": "kubeplay.cli.images:image",
    "login": "kubeplay.cli.images:login",
    "logout": "kubeplay.cli.images:logout",
    "logs": "kubeplay.cli.containers:logs",
    "port-forward": "kubeplay.cli.containers:port_forward",
    "reconcile": "kubeplay.cli.sources:reconcile",
    "rollout": "kubeplay.cli.rollout:rollout",
    "scale": "kubeplay.cli.lifecycle:scale",
    "system": "kubeplay.cli.lifecycle:system",
    "unwatch": "kubeplay.cli.sources:unwatch",
    "volume": "kubeplay.cli.volumes:volume",
    "wait": "kubeplay.cli.containers:wait",
    "watch": "kubeplay.cli.sources:watch",
}


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug events to stderr.")
def cli(verbose: bool) -> None:
    """Run Kubernetes YAML for real on this host."""
    from kubeplay import log

    log.configure(verbose=verbose)


@cli.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--replace", is_flag=True, help="Remove the pods these files made, then play.")
@click.option("--kube-version", default="", help="Kubernetes version of the schema (1.37).")
@click.option("--configmap", "configmaps", multiple=True, help="ConfigMap/Secret YAML to use.")
@images_cli.tls_option
@images_cli.authfile_option
@images_cli.cert_dir_option
def play(
    files: tuple[str, ...],
    replace: bool,
    kube_version: str,
    configmaps: tuple[str, ...],
    tls_verify: bool | None,
    authfile: str,
    cert_dir: str,
) -> None:
    """Run every Pod in FILES (files, directories, or - for stdin)."""
    from kubeplay.cli import objects as objects_cli
    from kubeplay.cli import progress
    from kubeplay.services import play as play_mod

    with progress.for_stderr() as renderer:
        report = play_mod.play(
            _settings(),
            files,
            replace=replace,
            kube_version=kube_version,
            configmaps=configmaps,
            pull_options=images_cli.pull_options(tls_verify, authfile, cert_dir),
            progress=renderer,
        )
    objects_cli.echo_applied(report.objects)
    _warn(report.warnings)
    for ref in report.replaced:
        name = ref.split("/", 1)[1]  # a pod's name, or a workload's `deployment.apps/web`
        click.echo(f"{name if '/' in name else 'pod/' + name} replaced")
    for name in report.volumes:
        click.echo(f"volume/{name} created")
    for ref in report.pods:
        click.echo(f"pod/{ref.split('/', 1)[1]} created")
    for ref in report.workloads:
        click.echo(f"{ref.split('/', 1)[1]} created")
    supervise_cli.ensure_supervisor()


@cli.command()
def version() -> None:
    """Print kubeplay's version."""
    from kubeplay import __version__

    click.echo(f"kubeplay {__version__}")


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        _fail("aborted", 1)
    except click.ClickException as err:
        err.show()
        sys.exit(2)
    except KubeplayError as err:
        _fail(str(err), err.exit_code)
    except BrokenPipeError:
        sys.exit(1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
