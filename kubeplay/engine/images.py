"""Image ensure: the kubelet's EnsureImageExists for kubeplay, used by play and by sync.

`ensure_image` decides with `plan.images.compute_pull_sources` (pull policy, whether the
store has the image, registries.conf short names) and fetches through the image store from
podman's storage or a registry, trying each source in order. It never raises for a pull that
failed: it returns an ImageResult with the kubelet's reason (ErrImagePull, ErrImageNeverPull)
and the registry's message, which the engine records as the container's waiting state.
`ensure_images` does several at once (play pulls every image of its pods in parallel before
it syncs them). `prepare_start` finds the image a container is created from: plans do not
hold images (`plan.pods.resolve_image` adds the image's config at creation).
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
    from kubeplay.state.store import ContainerRecord

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


def image_for_start(
    host: Host,
    ctr: ContainerPlan,
    *,
    prior: ContainerRecord | None,
    pulled: Mapping[tuple[str, str], ImageResult],
) -> ImageResult:
    """The image a container is created from, pulled per its policy when needed (the
    kubelet's EnsureImageExists before generateContainerConfig).

    `pulled` holds what this command already ensured (play pulls every image before it
    syncs): used as it is, a failure not tried twice. A container started again from the same
    definition (`prior` has its spec hash) keeps the image its last instance was made from
    while the store has it, so a restart never pulls (as before a plan held the image id)."""
    earlier = pulled.get((ctr.image, ctr.pull_policy))
    if earlier is not None and (earlier.ref is None or _held(host, earlier.ref.image_id)):
        return earlier
    if prior is not None and prior.image_id and prior.spec_hash == ctr.spec_hash:
        record = host.images.find(prior.image_id)
        if record is not None:
            return ImageResult(
                ctr.image, ctr.pull_policy, _ref(ctr.image, record.image_id, record.config)
            )
    return ensure_image(host, ctr.image, policy=ctr.pull_policy)


def _held(host: Host, image_id: str) -> bool:
    return host.images.find(image_id) is not None


def prepare_start(
    host: Host,
    plan: PodPlan,
    name: str,
    *,
    prior: ContainerRecord | None,
    pulled: Mapping[tuple[str, str], ImageResult],
) -> tuple[ContainerPlan, ImageRef] | None:
    """The container to start and its image, or None: the image could not be had, and the
    container is left waiting with the kubelet's reason and the registry's message."""
    ctr = plan.container(name)
    if ctr is None:
        return None
    result = image_for_start(host, ctr, prior=prior, pulled=pulled)
    if result.ref is None:
        record_image_failure(host, plan, ctr, result)
        return None
    return ctr, result.ref


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
