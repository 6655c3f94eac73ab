"""`describe KIND NAME` of stored objects in kubectl's layouts: its ConfigMap and Secret
describers (a Secret's values never shown, their sizes only) and its generic describer
(pkg/describe/describe.go: genericDescriber, printUnstructuredContent, smartLabelFor)."""

from __future__ import annotations

import pytest

from kubeplay.cli import describe


@pytest.mark.parametrize(
    ("field", "label"),
    [
        pytest.param("apiVersion", "API Version", id="api-acronym"),
        pytest.param("uid", "UID", id="uid-acronym"),
        pytest.param("creationTimestamp", "Creation Timestamp", id="camel-case-words"),
        pytest.param("APIVersion", "API Version", id="capitals-then-word"),
        pytest.param("spec", "Spec", id="one-word"),
        pytest.param("k8s.io/name", "k8s.io/name", id="other-characters-kept"),
    ],
)
def test_smart_label(field: str, label: str) -> None:
    assert describe.smart_label(field) == label


def test_generic_describer_prints_fields_as_indented_labels() -> None:
    body = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": "data",
            "namespace": "default",
            "uid": "u-1",
            "labels": {"b": "2", "a": "1"},
        },
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    assert describe.describe_body("PersistentVolumeClaim", body).splitlines() == [
        "Name:         data",
        "Namespace:    default",
        "Labels:       a=1",
        "              b=2",
        "Annotations:  <none>",
        "API Version:  v1",
        "Kind:         PersistentVolumeClaim",
        "Metadata:",
        "  UID:  u-1",
        "Spec:",
        "  Access Modes:",
        "    ReadWriteOnce",
        "  Resources:",
        "    Requests:",
        "      Storage:  1Gi",
    ]


def test_secret_shows_sizes_never_values() -> None:
    body = {"metadata": {"name": "s", "namespace": "prod"}, "data": {"password": "czNjcmV0"}}
    text = describe.describe_body("Secret", body)
    assert "s3cret" not in text and "czNjcmV0" not in text
    assert text.splitlines()[-4:] == ["", "Data", "====", "password:  6 bytes"]
    assert "Type:  Opaque" in text.splitlines()


def test_config_map_shows_its_data_as_kubectl() -> None:
    body = {"metadata": {"name": "cfg", "namespace": "default"}, "data": {"color": "blue"}}
    lines = describe.describe_body("ConfigMap", body).splitlines()
    assert lines[4:] == ["", "Data", "====", "color:", "----", "blue", "", "", "BinaryData", "===="]
