"""Image ensure: the kubelet's EnsureImageExists for kubeplay, used by play and by sync.

`ensure_image` decides with `plan.images.compute_pull_sources` (pull policy, whether the
store has the image, registries.conf short names) and fetches through the image store from
podman's storage or a registry, trying each source in order. It never raises for a pull that
failed: it returns an ImageResult with the kubelet's reason (ErrImagePull, ErrImageNeverPull)
and the registry's message, which the engine records as the container's waiting state.
`ensure_images` does several at once (play pulls every image of its pods in parallel before
compiling plans). `refresh_plan` recompiles a pod's plan once a missing image has arrived.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubeplay import log
from kubeplay.engine.host import Host
from kubeplay.errors import ImageError
from kubeplay.plan import images as imgplan
from kubeplay.plan.images import ImageRef, PullPolicy, Transport

if TYPE_CHECKING:
    from kubeplay.image.pulls import PullProgress
    from kubeplay.image.transport import Options
    from kubeplay.plan.pods import ContainerPlan, PodPlan

_log = log.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ImageResult:
    """How ensuring one (image, policy) went."""

    image: str  # as the manifest wrote it
    policy: str
    ref: ImageRef | None  # the stored image, or None when it could not be had
    pulled: bool = False  # fetched by this call
    reason: str = ""  # ErrImagePull | ErrImageNeverPull when ref is None
    message: str = ""


def registries() -> imgplan.Registries:
    from kubeplay.image import registries as registries_mod

    return registries_mod.load()


def _podman_storage_exists() -> bool:
    from kubeplay.image import transport

    return transport.storage_graphroot().is_dir()


def ensure_image(
    host: Host,
    image: str,
    *,
    policy: str,
    options: Options | None = None,
    progress: PullProgress | None = None,
    config: imgplan.Registries | None = None,
) -> ImageResult:
    config = config if config is not None else registries()
    names = imgplan.local_names(image, config)
    stored = host.images.find(image, candidates=names)
    sources = imgplan.compute_pull_sources(
        image, policy=policy, present=stored is not None, registries=config
    )
    if not sources and stored is not None:
        return ImageResult(image, policy, _ref(image, stored.image_id, stored.config))
    errors: list[str] = []
    podman = _podman_storage_exists()
    for source in sources:
        if source.transport is Transport.CONTAINERS_STORAGE and not podman:
            continue
        try:
            record = host.images.pull(source, options=options, progress=progress)
        except ImageError as err:
            _log.info("image_source_failed", image=image, source=source.name, error=str(err))
            if source.transport is Transport.DOCKER:
                errors.append(str(err))
            continue
        return ImageResult(image, policy, _ref(image, record.image_id, record.config), pulled=True)
    return ImageResult(
        image,
        policy,
        None,
        reason=imgplan.failure_reason(policy),
        message=_failure_message(image, policy, errors),
    )


def _ref(image: str, image_id: str, config: imgplan.ImageConfig) -> ImageRef:
    return ImageRef(ref=imgplan.normalize_reference(image), image_id=image_id, config=config)


def _failure_message(image: str, policy: str, errors: Sequence[str]) -> str:
    if policy == PullPolicy.NEVER:
        return imgplan.never_pull_message(image)
    if errors:
        return "; ".join(dict.fromkeys(errors))
    return (
        f"image {image}: not in kubeplay's store nor in podman's storage (a localhost/ image "
        "is made on this host: kubeplay image import, image load or image tag)"
    )


def ensure_images(
    host: Host,
    wanted: Iterable[tuple[str, str]],
    *,
    options: Options | None = None,
    progress: PullProgress | None = None,
    parallelism: int = 4,
) -> dict[tuple[str, str], ImageResult]:
    """ensure_image for every distinct (image, policy), pulls in parallel."""
    todo = list(dict.fromkeys(wanted))
    if not todo:
        return {}
    config = registries()

    def one(item: tuple[str, str]) -> ImageResult:
        return ensure_image(
            host, item[0], policy=item[1], options=options, progress=progress, config=config
        )

    if len(todo) == 1:
        return {todo[0]: one(todo[0])}
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(todo)))) as pool:
        return dict(zip(todo, pool.map(one, todo), strict=True))


def images_for_plan(host: Host, plan: PodPlan) -> dict[str, ImageRef]:
    """The ImageRefs of a plan's containers whose image the store still has."""
    found: dict[str, ImageRef] = {}
    for ctr in plan.all_containers():
        if not ctr.image_id or ctr.image_ref in found:
            continue
        record = host.images.find(ctr.image_id)
        if record is not None:
            found[ctr.image_ref] = ImageRef(ctr.image_ref, record.image_id, record.config)
    return found


def ensure_container_image(
    host: Host, plan: PodPlan, ctr: ContainerPlan, *, failed: Mapping[str, ImageResult]
) -> tuple[PodPlan, ImageResult | None]:
    """Before a container starts: its image, pulled per its policy when the store lacks it.

    Returns the plan (recompiled and stored when an image arrived, so command, env and user
    come from the image's config) and None, or the unchanged plan and the failure. `failed`
    holds what this command already tried (play pulled before syncing): not tried twice.
    """
    if ctr.image_id and host.images.find(ctr.image_id) is not None:
        return plan, None
    earlier = failed.get(ctr.image)
    if earlier is not None and earlier.ref is None:
        return plan, earlier
    result = ensure_image(host, ctr.image, policy=ctr.pull_policy)
    if result.ref is None:
        return plan, result
    return refresh_plan(host, plan, {result.ref.ref: result.ref}), None


def refresh_plan(host: Host, plan: PodPlan, arrived: Mapping[str, ImageRef]) -> PodPlan:
    """Recompile the pod's plan from its manifest with the images now in the store."""
    from kubeplay.plan import pods as plans

    rec = host.store.get_pod_by_uid(plan.uid)
    if rec is None:
        return plan
    images = {**images_for_plan(host, plan), **arrived}
    fresh = plans.compile_pod(
        rec.manifest, uid=plan.uid, images=images, service_env=plan.service_env
    )
    host.store.update_pod(plan.uid, plan_json=plans.to_json(fresh))
    _log.info("pod_plan_refreshed", pod=plan.ref, images=sorted(arrived))
    return fresh


def prepare_start(
    host: Host, plan: PodPlan, name: str, *, failed: Mapping[str, ImageResult]
) -> tuple[PodPlan, ContainerPlan | None]:
    """The plan and container to start, or None: the image could not be had, and the
    container is left waiting with the kubelet's reason and the registry's message."""
    ctr = plan.container(name)
    if ctr is None:
        return plan, None
    plan, missing = ensure_container_image(host, plan, ctr, failed=failed)
    if missing is not None:
        record_image_failure(host, plan, ctr, missing)
        return plan, None
    return plan, plan.container(name)


def record_image_failure(
    host: Host, plan: PodPlan, ctr: ContainerPlan, result: ImageResult
) -> None:
    """Container waiting ErrImagePull/ErrImageNeverPull with the message, and the kubelet's
    events (Failed: `Failed to pull image ...`, then `Error: <reason>`)."""
    import time

    from kubeplay.state.store import ContainerRecord

    rec = host.store.get_pod_by_uid(plan.uid)
    prior = next((c for c in rec.containers if c.name == ctr.name), None) if rec else None
    host.store.put_container(
        ContainerRecord(
            pod_uid=plan.uid,
            name=ctr.name,
            kind=ctr.kind,
            restart_count=prior.restart_count if prior else 0,
            last_termination=prior.last_termination if prior else None,
            waiting_reason=result.reason,
            waiting_message=result.message,
        )
    )
    group = "initContainers" if ctr.kind == "init" else "containers"
    where = f"spec.{group}{{{ctr.name}}}"
    now = time.time()
    if result.reason == imgplan.ERR_IMAGE_NEVER_PULL:
        host.store.add_event(
            plan.uid,
            type="Warning",
            reason="ErrImageNeverPull",
            message=result.message,
            field_path=where,
            at=now,
        )
    else:
        host.store.add_event(
            plan.uid,
            type="Warning",
            reason="Failed",
            message=f'Failed to pull image "{ctr.image}": {result.message}',
            field_path=where,
            at=now,
        )
        host.store.add_event(
            plan.uid,
            type="Warning",
            reason="Failed",
            message=f"Error: {result.reason}",
            field_path=where,
            at=now,
        )
    _log.info(
        "image_pull_failed",
        pod=plan.ref,
        container=ctr.name,
        image=ctr.image,
        reason=result.reason,
        message=result.message,
    )
