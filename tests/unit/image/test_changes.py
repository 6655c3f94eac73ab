"""--change lines (Dockerfile syntax) applied to an ImageConfig, as `podman import` does.

Table tests over kubeplay.image.changes: each instruction's accepted forms, in-order
application (later ENV/LABEL replace earlier ones), and the ImageError for bad lines.
"""

from __future__ import annotations

import pytest

from kubeplay.errors import ImageError
from kubeplay.image import changes
from kubeplay.plan.images import ImageConfig

BASE = ImageConfig()


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(['CMD ["/bin/sh"]'], ImageConfig(cmd=("/bin/sh",)), id="cmd-exec-form"),
        pytest.param(
            ["CMD echo hi && sleep 1"],
            ImageConfig(cmd=("/bin/sh", "-c", "echo hi && sleep 1")),
            id="cmd-shell-form",
        ),
        pytest.param(
            ['CMD ["a", 1]'], ImageConfig(cmd=("/bin/sh", "-c", '["a", 1]')), id="cmd-bad-json"
        ),
        pytest.param(["CMD=/bin/sh"], ImageConfig(cmd=("/bin/sh", "-c", "/bin/sh")), id="cmd-eq"),
        pytest.param(
            ['entrypoint ["/bin/busybox", "httpd"]'],
            ImageConfig(entrypoint=("/bin/busybox", "httpd")),
            id="entrypoint-lowercase",
        ),
        pytest.param(["ENV A=1"], ImageConfig(env=("A=1",)), id="env-eq"),
        pytest.param(["ENV A hello world"], ImageConfig(env=("A=hello world",)), id="env-legacy"),
        pytest.param(
            ['ENV A=1 B="two words" C=a\\ b'],
            ImageConfig(env=("A=1", "B=two words", "C=a b")),
            id="env-many-quoted",
        ),
        pytest.param(
            ["ENV A=1", "ENV B=2", "ENV A=3"], ImageConfig(env=("A=3", "B=2")), id="env-replace"
        ),
        pytest.param(["ENV E="], ImageConfig(env=("E=",)), id="env-empty-value"),
        pytest.param(["WORKDIR /srv"], ImageConfig(working_dir="/srv"), id="workdir"),
        pytest.param(
            ["WORKDIR /srv", "WORKDIR www/../app"], ImageConfig(working_dir="/srv/app"), id="wd-rel"
        ),
        pytest.param(["WORKDIR app"], ImageConfig(working_dir="/app"), id="workdir-rel-root"),
        pytest.param(["USER 65534:65534"], ImageConfig(user="65534:65534"), id="user"),
        pytest.param(["USER nobody"], ImageConfig(user="nobody"), id="user-name"),
        pytest.param(["EXPOSE 80"], ImageConfig(exposed_ports=("80/tcp",)), id="expose-tcp"),
        pytest.param(
            ["EXPOSE 80/tcp 53/UDP", "EXPOSE 80"],
            ImageConfig(exposed_ports=("80/tcp", "53/udp")),
            id="expose-many-dedup",
        ),
        pytest.param(
            ["EXPOSE 8000-8002/udp"],
            ImageConfig(exposed_ports=("8000/udp", "8001/udp", "8002/udp")),
            id="expose-range",
        ),
        pytest.param(["STOPSIGNAL SIGINT"], ImageConfig(stop_signal="SIGINT"), id="stopsignal"),
        pytest.param(["STOPSIGNAL 9"], ImageConfig(stop_signal="9"), id="stopsignal-number"),
        pytest.param(
            ['LABEL a=b "c d"=e', "LABEL a=z"],
            ImageConfig(labels=(("a", "z"), ("c d", "e"))),
            id="labels",
        ),
        pytest.param(["LABEL maintainer me"], ImageConfig(labels=(("maintainer", "me"),)), id="lb"),
        pytest.param(
            ['VOLUME ["/data", "/logs"]', "VOLUME /data /cache"],
            ImageConfig(volumes=("/data", "/logs", "/cache")),
            id="volumes",
        ),
        pytest.param([], BASE, id="no-changes"),
    ],
)
def test_apply_changes(lines: list[str], expected: ImageConfig) -> None:
    assert changes.apply_changes(BASE, lines) == expected


def test_changes_keep_existing_fields() -> None:
    start = ImageConfig(cmd=("sh",), env=("PATH=/bin",))
    got = changes.apply_changes(start, ["ENV HOME=/root"])
    assert got == ImageConfig(cmd=("sh",), env=("PATH=/bin", "HOME=/root"))


@pytest.mark.parametrize(
    ("line", "why"),
    [
        pytest.param("CMD", "INSTRUCTION VALUE", id="no-value"),
        pytest.param("CMD   ", "INSTRUCTION VALUE", id="blank-value"),
        pytest.param("RUN make", "unsupported instruction RUN", id="run"),
        pytest.param("ONBUILD RUN x", "unsupported instruction ONBUILD", id="onbuild"),
        pytest.param("ENV A", "ENV needs a value", id="env-no-value"),
        pytest.param('ENV A="unterminated', "ENV:", id="env-bad-quote"),
        pytest.param("ENV A=1 B", "'B' is not KEY=VALUE", id="env-mixed"),
        pytest.param("EXPOSE http", "invalid port 'http'", id="expose-name"),
        pytest.param("EXPOSE 70000", "1-65535", id="expose-range"),
        pytest.param("EXPOSE 80/icmp", "invalid port", id="expose-proto"),
        pytest.param("VOLUME data", "not an absolute path", id="volume-relative"),
        pytest.param("STOPSIGNAL kill me", "invalid signal", id="signal"),
        pytest.param("USER a b", "invalid user", id="user-words"),
        pytest.param("", "INSTRUCTION VALUE", id="empty"),
    ],
)
def test_invalid_change(line: str, why: str) -> None:
    with pytest.raises(ImageError, match="invalid change") as info:
        changes.apply_changes(BASE, [line])
    assert why in str(info.value)
