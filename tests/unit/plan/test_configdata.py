"""ConfigMap and Secret payloads as the API server stores them and the kubelet reads them.

Sources: https://kubernetes.io/docs/concepts/configuration/configmap/ (data, binaryData,
immutable), https://kubernetes.io/docs/concepts/configuration/secret/ (data is base64,
stringData is merged into data on write and wins over it, immutable Secrets),
k8s.io/apimachinery validation.IsConfigMapKey, pkg/apis/core/validation
ValidateConfigMapUpdate / ValidateSecretUpdate.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubeplay.plan import configdata


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        pytest.param("game.properties", True, id="dotted-file-name"),
        pytest.param("KEY_NAME", True, id="env-style"),
        pytest.param("key-name", True, id="dashes"),
        pytest.param(".hidden", True, id="one-leading-dot"),
        pytest.param("a" * 253, True, id="253-chars"),
        pytest.param("a" * 254, False, id="254-chars-too-long"),
        pytest.param("a b", False, id="space"),
        pytest.param("a/b", False, id="slash"),
        pytest.param(".", False, id="dot"),
        pytest.param("..", False, id="dot-dot"),
        pytest.param("..data", False, id="leading-dot-dot"),
        pytest.param("", False, id="empty"),
    ],
)
def test_config_keys(key: str, valid: bool) -> None:
    assert configdata.is_valid_key(key) is valid


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"data": {"a": "x"}}, {"a": b"x"}, id="configmap-data-is-utf8"),
        pytest.param({"data": {"a": "é"}}, {"a": "é".encode()}, id="configmap-data-non-ascii"),
        pytest.param(
            {"data": {"a": "x"}, "binaryData": {"b": _b64("\x00\x01")}},
            {"a": b"x", "b": b"\x00\x01"},
            id="configmap-binary-data-decoded",
        ),
        pytest.param({}, {}, id="configmap-empty"),
    ],
)
def test_configmap_data(body: dict[str, Any], expected: dict[str, bytes]) -> None:
    assert configdata.configmap_data(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"data": {"p": _b64("s3cret")}}, {"p": b"s3cret"}, id="secret-data-base64"),
        pytest.param({"stringData": {"p": "plain"}}, {"p": b"plain"}, id="secret-string-data"),
        pytest.param(
            {"data": {"p": _b64("old"), "q": _b64("kept")}, "stringData": {"p": "new"}},
            {"p": b"new", "q": b"kept"},
            id="secret-string-data-wins-over-data",
        ),
        pytest.param({"data": {"p": "c2Vj\ncmV0"}}, {"p": b"secret"}, id="secret-base64-lines"),
    ],
)
def test_secret_data(body: dict[str, Any], expected: dict[str, bytes]) -> None:
    assert configdata.secret_data(body) == expected


def test_normalize_secret_merges_string_data_and_defaults_type() -> None:
    body = {"kind": "Secret", "data": {"p": _b64("old")}, "stringData": {"p": "new", "u": "me"}}
    got = configdata.normalize("Secret", body)
    assert got == {"kind": "Secret", "data": {"p": _b64("new"), "u": _b64("me")}, "type": "Opaque"}
    assert configdata.secret_data(got) == {"p": b"new", "u": b"me"}
    assert "stringData" in body  # the input is not changed


def test_normalize_configmap_is_as_played() -> None:
    body = {"kind": "ConfigMap", "data": {"a": "1"}, "binaryData": {"b": _b64("2")}}
    assert configdata.normalize("ConfigMap", body) == body


@pytest.mark.parametrize(
    ("kind", "body", "expected"),
    [
        pytest.param(
            "ConfigMap",
            {"data": {"a": "1"}, "binaryData": {"b": _b64("\xff")}},
            {"a": "1"},
            id="configmap-env-reads-data-only",
        ),
        pytest.param(
            "Secret", {"data": {"p": _b64("s3cret")}}, {"p": "s3cret"}, id="secret-env-decoded"
        ),
    ],
)
def test_env_data(kind: str, body: dict[str, Any], expected: dict[str, str]) -> None:
    assert configdata.env_data(kind, body) == expected


IMMUTABLE = "field is immutable when `immutable` is set"


@pytest.mark.parametrize(
    ("kind", "old", "new", "expected"),
    [
        pytest.param(
            "ConfigMap", {"data": {"a": "1"}}, {"data": {"a": "2"}}, [], id="mutable-may-change"
        ),
        pytest.param(
            "ConfigMap",
            {"immutable": True, "data": {"a": "1"}},
            {"immutable": True, "data": {"a": "1"}, "metadata": {"labels": {"x": "y"}}},
            [],
            id="immutable-same-data-labels-may-change",
        ),
        pytest.param(
            "ConfigMap",
            {"immutable": True, "data": {"a": "1"}},
            {"immutable": True, "data": {"a": "2"}},
            [("data", IMMUTABLE)],
            id="immutable-data-changed",
        ),
        pytest.param(
            "ConfigMap",
            {"immutable": True, "binaryData": {"b": _b64("1")}},
            {"immutable": True},
            [("binaryData", IMMUTABLE)],
            id="immutable-binary-data-removed",
        ),
        pytest.param(
            "ConfigMap",
            {"immutable": True, "data": {"a": "1"}},
            {"data": {"a": "1"}},
            [("immutable", IMMUTABLE)],
            id="immutable-cannot-be-unset",
        ),
        pytest.param(
            "ConfigMap",
            {"data": {"a": "1"}},
            {"immutable": True, "data": {"a": "2"}},
            [],
            id="mutable-may-become-immutable",
        ),
        pytest.param(
            "Secret",
            {"immutable": True, "data": {"p": _b64("1")}, "type": "Opaque"},
            {"immutable": True, "data": {"p": _b64("2")}, "type": "Opaque"},
            [("data", IMMUTABLE)],
            id="immutable-secret-data-changed",
        ),
        pytest.param(
            "Secret",
            {"data": {}, "type": "Opaque"},
            {"data": {}, "type": "kubernetes.io/basic-auth"},
            [("type", "field is immutable")],
            id="secret-type-never-changes",
        ),
    ],
)
def test_immutable_problems(
    kind: str, old: dict[str, Any], new: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert configdata.immutable_problems(kind, old, new) == expected
