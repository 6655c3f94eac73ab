"""registries.conf as kubeplay reads it (short names) and as it hands it to skopeo (mirrors,
insecure registries): the file chosen, drop-ins in order, search lists, aliases, bad TOML.

skopeo itself applies `[[registry]]` tables (mirrors, insecure, blocked); kubeplay's part is
to pass the same file to it, which the argv tests below check.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeplay.errors import ImageError
from kubeplay.image import registries, transport
from kubeplay.plan.images import Registries, registry_names

CONF = """\
unqualified-search-registries = ["quay.io", " 127.0.0.1:5000 ", "quay.io", ""]

[aliases]
"demo" = "127.0.0.1:5000/team/demo"
"team/tool" = "quay.io/tools/tool"

[[registry]]
location = "127.0.0.1:5000"
insecure = true

[[registry]]
prefix = "example.invalid/app"
location = "example.invalid/app"
[[registry.mirror]]
location = "127.0.0.1:6000/mirror/app"
insecure = true
"""


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    path = tmp_path / "registries.conf"
    path.write_text(CONF)
    return path


def test_search_registries_in_order_without_duplicates_or_blanks(conf: Path) -> None:
    loaded = registries.load({"CONTAINERS_REGISTRIES_CONF": str(conf)})
    assert loaded.search == ("quay.io", "127.0.0.1:5000")


def test_aliases_are_read_sorted(conf: Path) -> None:
    loaded = registries.load({"CONTAINERS_REGISTRIES_CONF": str(conf)})
    assert loaded.aliases == (
        ("demo", "127.0.0.1:5000/team/demo"),
        ("team/tool", "quay.io/tools/tool"),
    )


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        pytest.param("demo:2", ("127.0.0.1:5000/team/demo:2",), id="short-name-alias"),
        pytest.param("team/tool", ("quay.io/tools/tool:latest",), id="two-part-alias"),
        pytest.param(
            "busybox:1",
            ("quay.io/busybox:1", "127.0.0.1:5000/busybox:1"),
            id="short-name-search-registries",
        ),
        pytest.param(
            "example.invalid/app:1", ("example.invalid/app:1",), id="qualified-name-unchanged"
        ),
    ],
)
def test_short_names_through_the_file(conf: Path, ref: str, expected: tuple[str, ...]) -> None:
    loaded = registries.load({"CONTAINERS_REGISTRIES_CONF": str(conf)})
    assert registry_names(ref, loaded) == expected


def test_missing_file_means_docker_hub(tmp_path: Path) -> None:
    loaded = registries.load({"CONTAINERS_REGISTRIES_CONF": str(tmp_path / "none.conf")})
    assert loaded == Registries()
    assert registry_names("busybox", loaded) == ("docker.io/library/busybox:latest",)


def test_empty_search_list_in_the_file_means_docker_hub(tmp_path: Path) -> None:
    path = tmp_path / "r.conf"
    path.write_text("unqualified-search-registries = []\n")
    loaded = registries.load({"CONTAINERS_REGISTRIES_CONF": str(path)})
    assert registry_names("busybox", loaded) == ("docker.io/library/busybox:latest",)


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "r.conf"
    path.write_text("unqualified-search-registries = [\n")
    with pytest.raises(ImageError, match=f"registries config {path}: cannot read"):
        registries.load({"CONTAINERS_REGISTRIES_CONF": str(path)})


def test_dropins_in_name_order_replace_search_and_merge_aliases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = tmp_path / "registries.conf"
    system.write_text('unqualified-search-registries = ["a.io"]\n[aliases]\n"x" = "a.io/x"\n')
    dropins = tmp_path / "registries.conf.d"
    dropins.mkdir()
    (dropins / "20-late.conf").write_text('unqualified-search-registries = ["c.io"]\n')
    (dropins / "10-early.conf").write_text(
        'unqualified-search-registries = ["b.io"]\n[aliases]\n"y" = "b.io/y"\n"x" = "b.io/x"\n'
    )
    (dropins / "ignored.txt").write_text('unqualified-search-registries = ["no.io"]\n')
    monkeypatch.setattr(registries, "SYSTEM", system)
    assert registries.config_files({}) == [
        system,
        dropins / "10-early.conf",
        dropins / "20-late.conf",
    ]
    loaded = registries.load({})
    assert loaded.search == ("c.io",)
    assert loaded.aliases == (("x", "b.io/x"), ("y", "b.io/y"))


def test_the_variable_replaces_the_system_file_and_dropins(
    conf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registries, "SYSTEM", tmp_path / "system.conf")
    assert registries.config_files({"CONTAINERS_REGISTRIES_CONF": str(conf)}) == [conf]


def test_skopeo_gets_the_same_file_for_mirrors_and_insecure_registries(
    conf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTAINERS_REGISTRIES_CONF", str(conf))
    argv = transport.Skopeo("skopeo")._argv("inspect", "docker://example.invalid/app:1")
    assert argv == [
        "skopeo",
        "--registries-conf",
        str(conf),
        "inspect",
        "docker://example.invalid/app:1",
    ]


def test_without_the_variable_skopeo_reads_its_own_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CONTAINERS_REGISTRIES_CONF", raising=False)
    argv = transport.Skopeo("skopeo", tmpdir=tmp_path)._argv("inspect", "docker://x/y:1")
    assert argv == ["skopeo", "--tmpdir", str(tmp_path), "inspect", "docker://x/y:1"]
