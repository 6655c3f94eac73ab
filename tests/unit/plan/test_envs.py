"""Container env from ConfigMaps, Secrets and the downward API (kubelet makeEnvironmentVariables).

Sources: https://kubernetes.io/docs/tasks/inject-data-application/distribute-credentials-secure/,
https://kubernetes.io/docs/tasks/configure-pod-container/configure-pod-configmap/ (envFrom,
prefix, invalid keys skipped, optional), .../downward-api-volume-expose-pod-information/
(fieldRef, resourceFieldRef with divisor; unset limits are the node's allocatable).
"""

from __future__ import annotations

from typing import Any

import pytest

from kubeplay.plan import envs
from kubeplay.plan.envs import EnvConfigError, EnvSource, PodFacts

POD = PodFacts(
    name="web",
    namespace="prod",
    uid="u-1",
    labels={"app": "web"},
    annotations={"team": "blue"},
    service_account_name="builder",
    pod_ip="10.0.0.5",
    host_ip="192.0.2.1",
)
OBJECTS: dict[tuple[str, str], dict[str, Any]] = {
    ("ConfigMap", "cm"): {
        "data": {"mode": "fast", "level": "3", "1st": "x"},
        "binaryData": {"b": "AA=="},
    },
    ("Secret", "sec"): {"data": {"password": "czNjcmV0"}},
}
CAPACITY = {"cpu": 2, "memory": 4 * 2**30, "ephemeral-storage": 10**10}


def _resolve(source: EnvSource, resources: dict[str, Any] | None = None) -> envs.ResolvedEnv:
    return envs.resolve(
        source,
        pod=POD,
        lookup=lambda kind, name: OBJECTS.get((kind, name)),
        container="app",
        resources={"app": resources or {}, "side": {"limits": {"memory": "1Gi"}}},
        capacity=CAPACITY,
    )


def _env(*entries: dict[str, Any], env_from: tuple[dict[str, Any], ...] = ()) -> dict[str, str]:
    got = _resolve(EnvSource(env=entries, env_from=env_from))
    return dict(got.env)


def _ref(kind: str, **ref: Any) -> dict[str, Any]:
    return {"valueFrom": {kind: ref}}


@pytest.mark.parametrize(
    ("entries", "env_from", "expected"),
    [
        pytest.param(
            ({"name": "M", **_ref("configMapKeyRef", name="cm", key="mode")},),
            (),
            {"M": "fast"},
            id="configMapKeyRef",
        ),
        pytest.param(
            ({"name": "P", **_ref("secretKeyRef", name="sec", key="password")},),
            (),
            {"P": "s3cret"},
            id="secretKeyRef-decoded",
        ),
        pytest.param(
            ({"name": "B", **_ref("configMapKeyRef", name="cm", key="b", optional=True)},),
            (),
            {},
            id="configMapKeyRef-does-not-see-binaryData",
        ),
        pytest.param(
            ({"name": "X", **_ref("configMapKeyRef", name="none", key="k", optional=True)},),
            (),
            {},
            id="optional-missing-object-skipped",
        ),
        pytest.param(
            (),
            ({"configMapRef": {"name": "cm"}, "prefix": "CM_"},),
            {"CM_1st": "x", "CM_level": "3", "CM_mode": "fast"},
            id="envFrom-with-prefix",
        ),
        pytest.param(
            ({"name": "level", "value": "override"},),
            ({"configMapRef": {"name": "cm"}}, {"secretRef": {"name": "sec"}}),
            {"level": "override", "mode": "fast", "password": "s3cret"},
            id="env-wins-over-envFrom-invalid-key-skipped",
        ),
        pytest.param(
            (),
            ({"secretRef": {"name": "none", "optional": True}},),
            {},
            id="envFrom-optional-missing",
        ),
        pytest.param(
            ({"name": "C", "value": "$(mode)-$$(mode)-$(nope)"},),
            ({"configMapRef": {"name": "cm"}},),
            {"level": "3", "mode": "fast", "C": "fast-$(mode)-$(nope)"},
            id="value-expands-envFrom-vars-dollar-dollar-escapes",
        ),
    ],
)
def test_object_references(
    entries: tuple[dict[str, Any], ...],
    env_from: tuple[dict[str, Any], ...],
    expected: dict[str, str],
) -> None:
    assert _env(*entries, env_from=env_from) == expected


def test_invalid_envfrom_keys_are_reported() -> None:
    got = _resolve(EnvSource(env_from=({"configMapRef": {"name": "cm"}},)))
    assert got.warnings == (
        "Keys [1st] from the EnvFrom configmap prod/cm were skipped since they are considered "
        "invalid environment variable names.",
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        pytest.param(
            _ref("configMapKeyRef", name="none", key="k"),
            'configmap "none" not found',
            id="missing-configmap",
        ),
        pytest.param(
            _ref("secretKeyRef", name="none", key="k"),
            'secret "none" not found',
            id="missing-secret",
        ),
        pytest.param(
            _ref("configMapKeyRef", name="cm", key="k"),
            "couldn't find key k in ConfigMap prod/cm",
            id="missing-configmap-key",
        ),
        pytest.param(
            _ref("secretKeyRef", name="sec", key="k"),
            "couldn't find key k in Secret prod/sec",
            id="missing-secret-key",
        ),
    ],
)
def test_missing_reference_is_a_config_error(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(EnvConfigError) as caught:
        _env({"name": "X", **entry})
    assert str(caught.value) == message


def test_missing_envfrom_object_is_a_config_error() -> None:
    with pytest.raises(EnvConfigError, match=r'^configmap "none" not found$'):
        _env(env_from=({"configMapRef": {"name": "none"}},))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("metadata.name", "web", id="name"),
        pytest.param("metadata.namespace", "prod", id="namespace"),
        pytest.param("metadata.uid", "u-1", id="uid"),
        pytest.param("metadata.labels['app']", "web", id="label"),
        pytest.param("metadata.labels['none']", "", id="missing-label-empty"),
        pytest.param("metadata.annotations['team']", "blue", id="annotation"),
        pytest.param("spec.nodeName", "localhost", id="nodeName"),
        pytest.param("spec.serviceAccountName", "builder", id="serviceAccountName"),
        pytest.param("status.podIP", "10.0.0.5", id="podIP"),
        pytest.param("status.hostIP", "192.0.2.1", id="hostIP"),
    ],
)
def test_field_ref(path: str, expected: str) -> None:
    assert _env({"name": "F", **_ref("fieldRef", fieldPath=path)})["F"] == expected


@pytest.mark.parametrize(
    ("ref", "resources", "expected"),
    [
        pytest.param(
            {"resource": "limits.cpu"}, {"limits": {"cpu": "250m"}}, "1", id="cpu-rounds-up"
        ),
        pytest.param(
            {"resource": "limits.cpu", "divisor": "1m"},
            {"limits": {"cpu": "250m"}},
            "250",
            id="cpu-millis",
        ),
        pytest.param({"resource": "limits.cpu"}, {}, "2", id="cpu-limit-defaults-to-node"),
        pytest.param(
            {"resource": "limits.memory", "divisor": "1Mi"},
            {},
            "4096",
            id="memory-limit-defaults-to-node",
        ),
        pytest.param(
            {"resource": "requests.memory"},
            {"limits": {"memory": "1Ki"}},
            "1024",
            id="request-defaults-to-limit",
        ),
        pytest.param({"resource": "requests.cpu"}, {}, "0", id="no-request-zero"),
        pytest.param(
            {"resource": "limits.memory", "divisor": "1M"},
            {"limits": {"memory": "1Mi"}},
            "2",
            id="memory-divisor-rounds-up",
        ),
        pytest.param(
            {"resource": "limits.memory", "containerName": "side", "divisor": "1Gi"},
            {},
            "1",
            id="other-container",
        ),
    ],
)
def test_resource_field_ref(ref: dict[str, Any], resources: dict[str, Any], expected: str) -> None:
    got = dict(
        _resolve(EnvSource(env=({"name": "R", **_ref("resourceFieldRef", **ref)},)), resources).env
    )
    assert got["R"] == expected


def test_command_and_args_expand_from_the_resolved_env() -> None:
    source = EnvSource(
        env=(
            {"name": "M", **_ref("configMapKeyRef", name="cm", key="mode")},
            {"name": "HOME", "value": "/h"},
        ),
        command=("run", "$(M)"),
        args=("--x=$$(M)",),
    )
    got = _resolve(source)
    assert got.env == (("M", "fast"), ("HOME", "/h"))
    assert (got.command, got.args) == (("run", "fast"), ("--x=$(M)",))


def test_unset_command_and_args_stay_unset_for_the_image() -> None:
    entry = {"name": "M", **_ref("configMapKeyRef", name="cm", key="mode")}
    got = _resolve(EnvSource(env=(entry,)))
    assert (got.command, got.args) == (None, None)


def test_env_is_the_containers_own_without_the_image_env() -> None:
    """What command, args and subPathExpr expand from: envFrom and env, not the image's Env
    (kubelet's makeMounts gets opts.Envs); the image's Env goes under it at creation."""
    source = EnvSource(
        env_from=({"configMapRef": {"name": "cm"}, "prefix": "CM_"},),
        env=({"name": "M", **_ref("configMapKeyRef", name="cm", key="mode")},),
    )
    got = _resolve(source)
    assert dict(got.env) == {"CM_1st": "x", "CM_level": "3", "CM_mode": "fast", "M": "fast"}
