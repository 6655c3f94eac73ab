"""The `kubeplay` command line: parsing, rendering and exit codes, nothing else.

Every command calls one service and renders its report. Imports of services happen inside
the commands so that `kubeplay get pods` starts fast. Exit codes: 0 ok, 1 runtime failure,
2 bad input or usage; a KubeplayError prints `error: <message>` without a traceback.
"""

from __future__ import annotations

import sys
import time
from typing import Any, NoReturn

import click

from kubeplay import settings as settings_mod
from kubeplay.cli import apply as apply_cli
from kubeplay.cli import check as check_cli
from kubeplay.cli import generate as generate_cli
from kubeplay.cli import images as images_cli
from kubeplay.cli import sources as sources_cli
from kubeplay.cli import supervise as supervise_cli
from kubeplay.cli import volumes as volumes_cli
from kubeplay.errors import KubeplayError

OUTPUTS = click.Choice(["wide", "json", "yaml", "name"])


def _settings() -> settings_mod.Settings:
    return settings_mod.load()


def _ns(namespace: str | None) -> str:
    return namespace or "default"


def _warn(lines: Any) -> None:
    for line in lines:
        click.echo(f"warning: {line}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


@cli.command()
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


@cli.command()
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


@cli.group()
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


def _require_pods(resource: str) -> None:
    if resource.lower() not in ("pod", "pods", "po"):
        from kubeplay.errors import UsageError

        raise UsageError(f'the server doesn\'t have a resource type "{resource}"')


@cli.command()
@click.argument("resource")
@click.argument("names", nargs=-1)
@click.option("-n", "--namespace", default=None)
@click.option("-A", "--all-namespaces", is_flag=True)
@click.option("-o", "--output", type=OUTPUTS, default=None)
@click.option("-w", "--watch", is_flag=True, help="After the list, print changes as they come.")
@click.option("-l", "--selector", default="", help="Label selector (app=web,tier!=db).")
@click.option(
    "--field-selector",
    default="",
    help="Events only: involvedObject.kind=Pod,involvedObject.name=web,type!=Normal ...",
)
@click.option("--for", "for_object", default="", help="Events only: of KIND/NAME (deploy/web).")
def get(
    resource: str,
    names: tuple[str, ...],
    namespace: str | None,
    all_namespaces: bool,
    output: str | None,
    watch: bool,
    selector: str,
    field_selector: str,
    for_object: str,
) -> None:
    """Show objects: get KIND [NAME...] [-n NS | -A] [-l SEL] [-o wide|json|yaml|name] [-w];
    get events [--for KIND/NAME] [--field-selector F]."""
    from kubeplay.cli import objects as objects_cli
    from kubeplay.cli import render
    from kubeplay.errors import UsageError
    from kubeplay.services import pods

    if resource.lower() in ("events", "event", "ev"):
        involved = _involved(_settings(), for_object) if for_object else None
        supervise_cli.revive_supervisor()
        return supervise_cli.get_events(
            None if all_namespaces else _ns(namespace),
            watch=watch,
            involved=involved,
            field_selector=field_selector,
        )
    if field_selector or for_object:
        flag = "--field-selector" if field_selector else "--for"
        raise UsageError(f"get {resource}: {flag} is only supported for events")
    if sources_cli.handles(resource):
        supervise_cli.revive_supervisor()  # a source shown must be followed
        return sources_cli.get(names, output=output)
    s = _settings()
    get_all = resource.lower() == "all"
    listed = None  # `get po,sa`: the kinds of a list, shown as `get all` shows its kinds
    if "," in resource:
        from kubeplay.services import resources

        if names or watch:
            raise UsageError(f"get {resource}: a list of kinds takes no NAME and no -w here")
        listed = resources.resolve_list(s, resource)
        get_all = True
    if objects_cli.handles(resource) and not selector:
        return objects_cli.get(
            s,
            resource,
            names,
            namespace=_ns(namespace),
            all_namespaces=all_namespaces,
            output=output,
        )
    if resource.lower() not in ("pod", "pods", "po") and not get_all:
        return objects_cli.get_any(
            s,
            resource,
            names,
            namespace=_ns(namespace),
            all_namespaces=all_namespaces,
            output=output,
            selector=selector,
            watch=watch,
        )
    supervise_cli.revive_supervisor()
    if watch:
        ns = None if all_namespaces else _ns(namespace)
        return supervise_cli.watch_pods(ns, names=names, wide=output == "wide")
    if names:
        views = [pods.get_pod(s, _ns(namespace), n) for n in names]
    else:
        views = pods.get_pods(s, namespace=None if all_namespaces else _ns(namespace))
    if selector:
        from kubeplay.kube import selectors

        wanted = selectors.parse(selector)
        views = [
            v
            for v in views
            if selectors.matches(
                wanted, (v.record.manifest.get("metadata") or {}).get("labels") or {}
            )
        ]
    if get_all:
        if listed is not None and all(k.kind != "Pod" for k in listed):
            views = []
        sections = objects_cli.get_all(
            s,
            namespace=_ns(namespace),
            all_namespaces=all_namespaces,
            selector=selector,
            kinds=listed,
        )
        now = time.time()
        if views:
            headers = render.pod_headers(namespaces=all_namespaces, wide=False)
            rows = [render.pod_row(v, now, namespaces=all_namespaces, wide=False) for v in views]
            for row in rows:
                row[1 if all_namespaces else 0] = "pod/" + row[1 if all_namespaces else 0]
            sections.insert(0, render.table(headers, rows))
        if not sections:
            where = "" if all_namespaces else f" in {_ns(namespace)} namespace"
            click.echo(f"No resources found{where}.", err=True)
            return
        click.echo("\n\n".join(sections))
        return
    if output in ("json", "yaml"):
        items = [v.to_kube() for v in views]
        doc = items[0] if len(names) == 1 else {"apiVersion": "v1", "kind": "List", "items": items}
        click.echo(render.dump(doc, output))
        return
    if output == "name":
        for v in views:
            click.echo(f"pod/{v.record.name}")
        return
    if not views:
        where = "" if all_namespaces else f" in {_ns(namespace)} namespace"
        click.echo(f"No resources found{where}.", err=True)
        return
    now = time.time()
    wide = output == "wide"
    headers = render.pod_headers(namespaces=all_namespaces, wide=wide)
    rows = [render.pod_row(v, now, namespaces=all_namespaces, wide=wide) for v in views]
    click.echo(render.table(headers, rows))


def _involved(settings: Any, text: str) -> tuple[str, str]:
    """`--for KIND/NAME` (kubectl events): the involved object's kind and name."""
    from kubeplay.errors import UsageError
    from kubeplay.services import resources

    word, _, name = text.partition("/")
    if not word or not name or "/" in name:
        raise UsageError(f"--for: {text} must be in the format TYPE/NAME")
    return resources.resolve(settings, word).kind, name


@cli.command()
@click.argument("resource")
@click.argument("name")
@click.option("-n", "--namespace", default=None)
def describe(resource: str, name: str, namespace: str | None) -> None:
    """Show one object for people, with its events: describe KIND NAME."""
    from kubeplay.cli import describe as describe_mod
    from kubeplay.services import jobs, pods

    if resource.lower() in ("svc", "service", "services"):
        from kubeplay.services import resources

        service = resources.describe_service(_settings(), _ns(namespace), name)
        text = describe_mod.describe_service(service.body, service.slices, service.no_endpoints)
        click.echo(text, nl=False)
        click.echo(supervise_cli.describe_events(service.uid))
        return
    if sources_cli.handles(resource):
        supervise_cli.revive_supervisor()
        return sources_cli.describe(name)
    if resource.lower() in (*jobs.JOB_RESOURCES, *jobs.CRONJOB_RESOURCES):
        batch = jobs.describe(_settings(), resource, _ns(namespace), name)
        none = not batch.events
        if batch.body.get("kind") == "Job":
            text = describe_mod.describe_job(batch.body, batch.phases, no_events=none)
        else:
            text = describe_mod.describe_cronjob(batch.body, batch.next_at, no_events=none)
        click.echo(text)
        if batch.events:
            source = "job-controller" if batch.body.get("kind") == "Job" else "cronjob-controller"
            click.echo(supervise_cli.render_events(batch.events, source=source))
        return
    if resource.lower() in describe_mod.SET_RESOURCES:
        return _describe_set(resource, name, _ns(namespace))
    if resource.lower() not in ("pod", "pods", "po"):
        uid, text = describe_mod.describe_object(_settings(), resource, name, _ns(namespace))
        click.echo(text)
        click.echo(supervise_cli.describe_events(uid))
        return
    supervise_cli.revive_supervisor()
    view = pods.get_pod(_settings(), _ns(namespace), name)
    click.echo(describe_mod.describe_pod(view.to_kube()))
    click.echo(supervise_cli.describe_supervision())
    click.echo(supervise_cli.describe_events(view.record.uid))


def _describe_set(resource: str, name: str, namespace: str) -> None:
    from kubeplay.cli import describe as describe_mod
    from kubeplay.services import resources

    settings = _settings()
    view = resources.describe_set(settings, resources.resolve(settings, resource), namespace, name)
    kind = view.body.get("kind")
    none = not view.events  # kubectl aligns `Events: <none>` with the lines above it
    if kind == "Deployment":
        text = describe_mod.describe_deployment(view.body, list(view.replicasets), no_events=none)
    elif kind == "ReplicaSet":
        text = describe_mod.describe_replicaset(view.body, view.phases, no_events=none)
    else:
        text, none = describe_mod.describe_set(view.body, view.phases), False
    click.echo(text)
    if not none:
        click.echo(supervise_cli.render_events(view.events))


@cli.command()
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


@cli.command()
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


@cli.command("port-forward")
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


@cli.command()
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


def _seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for unit in ("ms", "s", "m", "h"):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    return float(text)


@cli.group()
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


cli.add_command(supervise_cli.agent)
cli.add_command(check_cli.check)
cli.add_command(apply_cli.apply)
cli.add_command(apply_cli.diff)
cli.add_command(sources_cli.watch)
cli.add_command(sources_cli.unwatch)
cli.add_command(sources_cli.reconcile)


@cli.group()
def generate() -> None:
    """Generate manifests (and more) from what runs."""


generate.add_command(generate_cli.kube)
generate.add_command(supervise_cli.generate_systemd)


cli.add_command(volumes_cli.volume)


@cli.group()
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


@cli.command()
def version() -> None:
    """Print kubeplay's version."""
    from kubeplay import __version__

    click.echo(f"kubeplay {__version__}")


images_cli.register(cli)


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
