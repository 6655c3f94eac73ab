"""`kubeplay rollout status|history|undo|restart|pause|resume`: kubectl's messages and exit
codes; `services.workloads` does the work."""

from __future__ import annotations

import time
from typing import Any

import click

from kubeplay.cli import supervise as supervise_cli
from kubeplay.cli.common import ns as _ns
from kubeplay.cli.common import settings as _settings
from kubeplay.cli.common import warn as _warn
from kubeplay.errors import KubeplayError


@click.group()
def rollout() -> None:
    """Manage a Deployment's rollout: status, history, undo, restart, pause, resume."""


def _rollout_target(resource: str, name: str | None) -> str:
    from kubeplay.services import workloads

    _info, names = workloads.targets(
        _settings(), resource, [name] if name else [], allowed=workloads.ROLLOUT_KINDS
    )
    return names[0]


@rollout.command("status")
@click.argument("resource")
@click.argument("name", required=False)
@click.option("-n", "--namespace", default=None)
@click.option("-w", "--watch", type=bool, default=True, help="Wait for the rollout to finish.")
@click.option("--timeout", type=float, default=0.0, help="Seconds to wait (0: for ever).")
def rollout_status(
    resource: str, name: str | None, namespace: str | None, watch: bool, timeout: float
) -> None:
    """Print a rollout's progress until it finishes (kubectl's messages and exit codes)."""
    from kubeplay.services import workloads

    target = _rollout_target(resource, name)
    deadline = time.monotonic() + timeout if timeout > 0 else None
    last = ""
    while True:
        state = workloads.rollout_state(_settings(), _ns(namespace), target)
        if state.error:
            raise KubeplayError(state.error)
        if state.message != last:
            click.echo(state.message)
            last = state.message
        if state.done or not watch:
            return
        if deadline is not None and time.monotonic() >= deadline:
            raise KubeplayError("timed out waiting for the condition")
        time.sleep(0.2)


@rollout.command("history")
@click.argument("resource")
@click.argument("name", required=False)
@click.option("-n", "--namespace", default=None)
@click.option("--revision", type=click.IntRange(min=0), default=0)
def rollout_history(resource: str, name: str | None, namespace: str | None, revision: int) -> None:
    """List a Deployment's revisions (REVISION, CHANGE-CAUSE)."""
    from kubeplay.services import workloads

    target = _rollout_target(resource, name)
    for line in workloads.rollout_history(_settings(), _ns(namespace), target, revision=revision):
        click.echo(line)


@rollout.command("undo")
@click.argument("resource")
@click.argument("name", required=False)
@click.option("-n", "--namespace", default=None)
@click.option("--to-revision", type=click.IntRange(min=0), default=0)
def rollout_undo(resource: str, name: str | None, namespace: str | None, to_revision: int) -> None:
    """Roll back to the previous revision (or --to-revision N)."""
    from kubeplay.services import workloads

    target = _rollout_target(resource, name)
    report = workloads.rollout_undo(_settings(), _ns(namespace), target, to_revision=to_revision)
    _rollout_report(report)


@rollout.command("restart")
@click.argument("resource")
@click.argument("name", required=False)
@click.option("-n", "--namespace", default=None)
def rollout_restart(resource: str, name: str | None, namespace: str | None) -> None:
    """Restart every pod by rolling out (the template's restartedAt annotation)."""
    from kubeplay.services import workloads

    target = _rollout_target(resource, name)
    _rollout_report(workloads.rollout_restart(_settings(), _ns(namespace), target, now=time.time()))


@rollout.command("pause")
@click.argument("resource")
@click.argument("name", required=False)
@click.option("-n", "--namespace", default=None)
def rollout_pause(resource: str, name: str | None, namespace: str | None) -> None:
    """Pause a Deployment's rollouts (scaling goes on)."""
    from kubeplay.services import workloads

    target = _rollout_target(resource, name)
    _rollout_report(workloads.rollout_pause(_settings(), _ns(namespace), target, paused=True))


@rollout.command("resume")
@click.argument("resource")
@click.argument("name", required=False)
@click.option("-n", "--namespace", default=None)
def rollout_resume(resource: str, name: str | None, namespace: str | None) -> None:
    """Resume a paused Deployment."""
    from kubeplay.services import workloads

    target = _rollout_target(resource, name)
    _rollout_report(workloads.rollout_pause(_settings(), _ns(namespace), target, paused=False))


def _rollout_report(report: Any) -> None:
    for line in report.lines:
        click.echo(line)
    _warn(report.warnings)
    supervise_cli.ensure_supervisor()
