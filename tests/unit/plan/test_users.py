from __future__ import annotations

from typing import Any

import pytest

from kubeplay.errors import KubeplayError
from kubeplay.plan.users import ResolvedUser, UserResolutionError, resolve_user

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment line
nginx:x:101:101:nginx user:/var/cache/nginx:/sbin/nologin
app:x:1000:1000::/home/app:/bin/sh
nohome:x:1001:1001::
broken-line
"""

GROUP = """\
root:x:0:
daemon:x:1:
wheel:x:10:root,app
nginx:x:101:
app:x:1000:app
audio:x:29:app,nginx
"""


def _resolve(image_user: str = "", **kwargs: Any) -> ResolvedUser:
    options: dict[str, Any] = {
        "run_as_user": None,
        "run_as_group": None,
        "passwd": PASSWD,
        "group": GROUP,
    }
    options.update(kwargs)
    return resolve_user(image_user, **options)


@pytest.mark.parametrize(
    ("image_user", "kwargs", "expected"),
    [
        pytest.param("", {}, ResolvedUser(0, 0, (0, 10), "/root"), id="empty-image-user-is-root"),
        pytest.param(
            "", {"passwd": "", "group": ""}, ResolvedUser(0, 0, (0,), "/"), id="no-passwd-file"
        ),
        pytest.param(
            "nginx",
            {},
            ResolvedUser(101, 101, (101, 29), "/var/cache/nginx"),
            id="image-user-name-from-passwd",
        ),
        pytest.param(
            "1000",
            {},
            ResolvedUser(1000, 1000, (1000, 10, 29), "/home/app"),
            id="image-user-uid-from-passwd",
        ),
        pytest.param(
            "4242", {}, ResolvedUser(4242, 0, (0,), "/"), id="image-uid-not-in-passwd-gid-0"
        ),
        pytest.param(
            "nginx:audio",
            {},
            ResolvedUser(101, 101, (101, 29), "/var/cache/nginx"),
            id="image-user-group-part-ignored-like-kubelet",
        ),
        pytest.param(
            "4242:4242",
            {},
            ResolvedUser(4242, 0, (0,), "/"),
            id="image-uid-gid-group-part-ignored-like-kubelet",
        ),
        pytest.param(
            "nginx",
            {"run_as_user": 1000},
            ResolvedUser(1000, 1000, (1000, 10, 29), "/home/app"),
            id="runAsUser-overrides-image-user",
        ),
        pytest.param(
            "",
            {"run_as_user": 5000},
            ResolvedUser(5000, 0, (0,), "/"),
            id="runAsUser-not-in-passwd",
        ),
        pytest.param(
            "nginx",
            {"run_as_group": 3000},
            ResolvedUser(101, 3000, (3000, 29), "/var/cache/nginx"),
            id="runAsGroup-overrides-primary-gid",
        ),
        pytest.param(
            "",
            {"run_as_user": 1000, "run_as_group": 2000},
            ResolvedUser(1000, 2000, (2000, 10, 29), "/home/app"),
            id="runAsUser-and-runAsGroup",
        ),
        pytest.param(
            "nginx",
            {"supplemental_groups": (500, 29, 600)},
            ResolvedUser(101, 101, (101, 29, 500, 600), "/var/cache/nginx"),
            id="supplementalGroups-appended-deduplicated",
        ),
        pytest.param(
            "1001", {}, ResolvedUser(1001, 1001, (1001,), "/"), id="empty-home-defaults-to-root-dir"
        ),
        pytest.param(
            "app",
            {},
            ResolvedUser(1000, 1000, (1000, 10, 29), "/home/app"),
            id="group-named-like-user-is-not-supplementary",
        ),
    ],
)
def test_resolve_user(image_user: str, kwargs: dict[str, Any], expected: ResolvedUser) -> None:
    assert _resolve(image_user, **kwargs) == expected


@pytest.mark.parametrize(
    ("image_user", "kwargs"),
    [
        pytest.param("ghost", {}, id="unknown-user-name-error"),
        pytest.param("ghost:0", {}, id="unknown-user-name-with-group-error"),
        pytest.param("nginx", {"passwd": ""}, id="user-name-without-passwd-file-error"),
    ],
)
def test_resolve_user_unknown_name(image_user: str, kwargs: dict[str, Any]) -> None:
    name = image_user.partition(":")[0]
    with pytest.raises(UserResolutionError) as info:
        _resolve(image_user, **kwargs)
    assert str(info.value) == f"unable to find user {name}: no matching entries in passwd file"
    assert isinstance(info.value, KubeplayError)


def test_run_as_user_skips_unknown_image_user_name() -> None:
    assert _resolve("ghost", run_as_user=0).uid == 0
