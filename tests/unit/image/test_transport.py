"""skopeo's stderr -> the message a user sees (and an ErrImagePull carries), and the flags
kubeplay's options become on skopeo's command line.

The stderr samples are verbatim from skopeo 1.9.3 against docker-registry 2.8 on loopback.
"""

from __future__ import annotations

import pytest

from kubeplay.image import transport
from kubeplay.image.transport import Options


def _fatal(msg: str) -> str:
    escaped = msg.replace("\\", "\\\\").replace('"', '\\"')
    return f'time="2026-11-22T17:11:42Z" level=fatal msg="{escaped}"\n'


_NAME = 'Error parsing image name "docker://127.0.0.1:43009/none:1": '


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        pytest.param(
            _fatal(
                _NAME + "reading manifest 1 in 127.0.0.1:43009/none: manifest unknown: "
                "manifest unknown"
            ),
            "reading manifest 1 in 127.0.0.1:43009/none: manifest unknown: manifest unknown",
            id="manifest-unknown",
        ),
        pytest.param(
            _fatal(
                _NAME + "reading manifest 1 in 127.0.0.1:47901/none: unauthorized: "
                "authentication required"
            ),
            "reading manifest 1 in 127.0.0.1:47901/none: unauthorized: authentication required"
            " (log in with `kubeplay login REGISTRY`, or give --authfile)",
            id="unauthorized",
        ),
        pytest.param(
            _fatal(
                _NAME + 'pinging container registry 127.0.0.1:9: Get "http://127.0.0.1:9/v2/":'
                " dial tcp 127.0.0.1:9: connect: connection refused"
            ),
            'pinging container registry 127.0.0.1:9: Get "http://127.0.0.1:9/v2/": '
            "dial tcp 127.0.0.1:9: connect: connection refused",
            id="connection-refused",
        ),
        pytest.param(
            _fatal(
                _NAME + "pinging container registry 127.0.0.1:43009: Get "
                '"https://127.0.0.1:43009/v2/": x509: certificate signed by unknown authority'
            ),
            'pinging container registry 127.0.0.1:43009: Get "https://127.0.0.1:43009/v2/": '
            "x509: certificate signed by unknown authority (the registry's certificate is not "
            "trusted: --cert-dir DIR with its CA as DIR/ca.crt, or --tls-verify=false)",
            id="x509-unknown-authority",
        ),
        pytest.param(
            _fatal(
                _NAME + "pinging container registry 127.0.0.1:47901: Get "
                '"https://127.0.0.1:47901/v2/": http: server gave HTTP response to HTTPS '
                "client"
            ),
            'pinging container registry 127.0.0.1:47901: Get "https://127.0.0.1:47901/v2/": '
            "http: server gave HTTP response to HTTPS client (a plain-HTTP registry: "
            "--tls-verify=false, or insecure = true for it in registries.conf)",
            id="plain-http-registry",
        ),
        pytest.param(
            'time="x" level=warning msg="ignored"\nError: unknown flag: --bogus\n',
            "Error: unknown flag: --bogus",
            id="no-fatal-line-last-line",
        ),
        pytest.param("", "skopeo exited 1", id="silent-failure"),
    ],
)
def test_skopeo_message(stderr: str, expected: str) -> None:
    assert transport.skopeo_message(stderr, 1) == expected


@pytest.mark.parametrize(
    ("options", "copy", "expected"),
    [
        pytest.param(Options(), False, [], id="defaults-from-registries-conf"),
        pytest.param(Options(tls_verify=False), False, ["--tls-verify=false"], id="inspect-tls"),
        pytest.param(Options(tls_verify=True), True, ["--src-tls-verify=true"], id="copy-tls"),
        pytest.param(
            Options(authfile="/a.json", cert_dir="/certs"),
            False,
            ["--authfile", "/a.json", "--cert-dir", "/certs"],
            id="inspect-auth-and-certs",
        ),
        pytest.param(
            Options(tls_verify=False, authfile="/a.json", cert_dir="/certs"),
            True,
            ["--src-tls-verify=false", "--src-authfile", "/a.json", "--src-cert-dir", "/certs"],
            id="copy-source-flags",
        ),
    ],
)
def test_options_as_skopeo_flags(options: Options, copy: bool, expected: list[str]) -> None:
    assert transport._source_args(options, copy=copy) == expected
