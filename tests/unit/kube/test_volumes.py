"""kube.volumes: volume and volumeMount rules the API server checks in code
(pkg/apis/core/validation: ValidateVolumes, ValidateVolumeMounts, validateMountPropagation,
validateLocalDescendingPath), and the warnings for volume fields kubeplay does not implement."""

from __future__ import annotations

import textwrap

import pytest

from kubeplay.errors import ManifestError
from kubeplay.kube import loader, validate


def _pod(volumes: str, mounts: str = "[]", security: str = "{}") -> str:
    return textwrap.dedent(
        f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: web}}
        spec:
          volumes: {volumes}
          containers:
          - name: app
            image: busybox
            securityContext: {security}
            volumeMounts: {mounts}
        """
    )


def _validate(text: str) -> list[str]:
    return [w.render() for w in validate.validate(loader.load_text(text, source="pod.yaml"))]


def _error(text: str) -> str:
    with pytest.raises(ManifestError) as caught:
        _validate(text)
    return str(caught.value)


@pytest.mark.parametrize(
    ("volumes", "mounts", "security", "expected"),
    [
        pytest.param(
            "[{name: a, emptyDir: {}}, {name: a, emptyDir: {}}]",
            "[]",
            "{}",
            "spec.volumes[1].name: Duplicate value: 'a'",
            id="duplicate-volume-name",
        ),
        pytest.param(
            "[{name: Bad_Name, emptyDir: {}}]",
            "[]",
            "{}",
            "spec.volumes[0].name: invalid name 'Bad_Name': must be a DNS-1123 label",
            id="volume-name-dns-label",
        ),
        pytest.param(
            "[{name: a}]", "[]", "{}", "spec.volumes[0]: must specify a volume type", id="no-type"
        ),
        pytest.param(
            "[{name: a, emptyDir: {}, hostPath: {path: /x}}]",
            "[]",
            "{}",
            "may not specify more than 1 volume type",
            id="two-volume-types",
        ),
        pytest.param(
            "[{name: a, hostPath: {path: /x, type: Folder}}]",
            "[]",
            "{}",
            "spec.volumes[0].hostPath.type: Unsupported value: 'Folder'",
            id="hostpath-type-enum",
        ),
        pytest.param(
            "[{name: a, emptyDir: {medium: HugePages}}]",
            "[]",
            "{}",
            "spec.volumes[0].emptyDir.medium: Unsupported value: 'HugePages'",
            id="emptydir-medium",
        ),
        pytest.param(
            "[{name: a, configMap: {name: c, items: [{key: k, path: ../etc/passwd}]}}]",
            "[]",
            "{}",
            "spec.volumes[0].configMap.items[0].path: must not contain '..'",
            id="item-path-backsteps",
        ),
        pytest.param(
            "[{name: a, secret: {secretName: s, items: [{key: k, path: /etc/passwd}]}}]",
            "[]",
            "{}",
            "spec.volumes[0].secret.items[0].path: must be a relative path",
            id="item-path-absolute",
        ),
        pytest.param(
            "[{name: a, configMap: {name: c, items: [{key: 'a/b', path: p}]}}]",
            "[]",
            "{}",
            "spec.volumes[0].configMap.items[0].key: invalid key 'a/b'",
            id="item-key-not-a-config-key",
        ),
        pytest.param(
            "[{name: a, configMap: {name: c, defaultMode: 4095}}]",
            "[]",
            "{}",
            "spec.volumes[0].configMap.defaultMode: Invalid value: 4095",
            id="default-mode-above-0777",
        ),
        pytest.param(
            "[{name: a, downwardAPI: {items: [{path: p, fieldRef: {fieldPath: status.podIP}}]}}]",
            "[]",
            "{}",
            "spec.volumes[0].downwardAPI.items[0].fieldRef.fieldPath: Unsupported value",
            id="downward-fieldpath-not-for-volumes",
        ),
        pytest.param(
            "[{name: a, downwardAPI: {items: [{path: p,"
            " resourceFieldRef: {resource: limits.cpu}}]}}]",
            "[]",
            "{}",
            "resourceFieldRef.containerName: Required value",
            id="downward-resource-needs-container",
        ),
        pytest.param(
            "[{name: a, projected: {sources: [{configMap: {name: c, items: [{key: k, path: p}]}},"
            " {secret: {name: s, items: [{key: k, path: p}]}}]}}]",
            "[]",
            "{}",
            "spec.volumes[0].projected.sources[1].secret.items[0].path: "
            "conflicting duplicate paths",
            id="projected-duplicate-paths",
        ),
        pytest.param(
            "[]",
            "[{name: nope, mountPath: /x}]",
            "{}",
            "spec.containers[0].volumeMounts[0].name: Not found: 'nope'",
            id="mount-of-undefined-volume",
        ),
        pytest.param(
            "[{name: a, emptyDir: {}}]",
            "[{name: a, mountPath: /x}, {name: a, mountPath: /x}]",
            "{}",
            "spec.containers[0].volumeMounts[1].mountPath: Invalid value: '/x': must be unique",
            id="mount-path-unique",
        ),
        pytest.param(
            "[{name: a, emptyDir: {}}]",
            "[{name: a, mountPath: /x, subPath: ../../etc}]",
            "{}",
            "spec.containers[0].volumeMounts[0].subPath: must not contain '..'",
            id="subpath-backsteps",
        ),
        pytest.param(
            "[{name: a, emptyDir: {}}]",
            "[{name: a, mountPath: /x, subPath: /etc}]",
            "{}",
            "spec.containers[0].volumeMounts[0].subPath: must be a relative path",
            id="subpath-absolute",
        ),
        pytest.param(
            "[{name: a, emptyDir: {}}]",
            "[{name: a, mountPath: /x, subPath: s, subPathExpr: 'e'}]",
            "{}",
            "subPathExpr and subPath are mutually exclusive",
            id="subpath-and-subpathexpr",
        ),
        pytest.param(
            "[{name: a, hostPath: {path: /mnt}}]",
            "[{name: a, mountPath: /x, mountPropagation: Sideways}]",
            "{}",
            "mountPropagation: Unsupported value: 'Sideways'",
            id="propagation-enum",
        ),
        pytest.param(
            "[{name: a, hostPath: {path: /mnt}}]",
            "[{name: a, mountPath: /x, mountPropagation: Bidirectional}]",
            "{}",
            "Forbidden: Bidirectional mount propagation is available only to privileged containers",
            id="bidirectional-needs-privileged",
        ),
    ],
)
def test_invalid_volumes_are_refused(
    volumes: str, mounts: str, security: str, expected: str
) -> None:
    assert expected in _error(_pod(volumes, mounts, security))


def test_bidirectional_propagation_is_allowed_for_a_privileged_container() -> None:
    text = _pod(
        "[{name: a, hostPath: {path: /mnt}}]",
        "[{name: a, mountPath: /x, mountPropagation: Bidirectional}]",
        "{privileged: true}",
    )
    assert not any("mountPropagation" in w for w in _validate(text))


@pytest.mark.parametrize(
    ("volumes", "mounts", "warned"),
    [
        pytest.param(
            "[{name: a, nfs: {server: s, path: /}}]",
            "[]",
            "spec.volumes[0].nfs: not supported yet, ignored",
            id="nfs-volume-warned",
        ),
        pytest.param(
            "[{name: a, projected: {sources: [{serviceAccountToken: {path: t}}]}}]",
            "[]",
            "spec.volumes[0].projected.sources[0].serviceAccountToken: no service account tokens",
            id="service-account-token-warned",
        ),
        pytest.param(
            "[{name: a, emptyDir: {}}]",
            "[{name: a, mountPath: /x, recursiveReadOnly: Disabled}]",
            "spec.containers[0].volumeMounts[0].recursiveReadOnly: not supported yet",
            id="recursive-readonly-warned",
        ),
    ],
)
def test_unimplemented_volume_fields_are_warned(volumes: str, mounts: str, warned: str) -> None:
    assert any(warned in w for w in _validate(_pod(volumes, mounts)))


def test_implemented_volume_fields_are_not_warned() -> None:
    text = _pod(
        "[{name: a, emptyDir: {medium: Memory, sizeLimit: 1Mi}},"
        " {name: b, hostPath: {path: /x, type: DirectoryOrCreate}},"
        " {name: c, configMap: {name: c, optional: true, defaultMode: 0400,"
        "   items: [{key: k, path: p, mode: 0400}]}},"
        " {name: d, secret: {secretName: s}},"
        " {name: e, persistentVolumeClaim: {claimName: e, readOnly: true}},"
        " {name: f, downwardAPI: {items: [{path: n, fieldRef: {fieldPath: metadata.name}},"
        "   {path: m, resourceFieldRef: {containerName: app, resource: limits.memory,"
        "    divisor: 1Mi}}]}},"
        " {name: g, projected: {defaultMode: 0400, sources: [{configMap: {name: c}},"
        "   {secret: {name: s}}, {downwardAPI: {items: [{path: u,"
        "   fieldRef: {fieldPath: metadata.uid}}]}}]}}]",
        "[{name: a, mountPath: /a, readOnly: true}, {name: b, mountPath: /b, subPath: s},"
        " {name: c, mountPath: /c, subPathExpr: '$(X)', mountPropagation: HostToContainer}]",
    )
    text = text.replace(
        "spec:\n", "spec:\n  securityContext: {fsGroup: 1, fsGroupChangePolicy: Always}\n"
    )
    assert [w for w in _validate(text) if "volume" in w or "fsGroup" in w] == []
