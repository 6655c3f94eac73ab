"""services.apply's helpers: kubectl diff's rendering (Secret values masked by
plan.apply.masked_secrets), the applyset of a PATH set, -R expansion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubeplay.kube.kinds import ObjectKey
from kubeplay.services import apply as apply_svc


def _secret(**data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": data}


def test_render_diff_names_live_and_merged_as_kubectl() -> None:
    key = ObjectKey("apps", "Deployment", "default", "web")
    before = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 1}}
    after = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 2}}
    text = apply_svc.render_diff(key, before, after)
    assert text.splitlines()[:2] == [
        "--- LIVE/apps.v1.Deployment.default.web",
        "+++ MERGED/apps.v1.Deployment.default.web",
    ]
    assert "-  replicas: 1" in text.splitlines()
    assert "+  replicas: 2" in text.splitlines()


def test_render_diff_never_shows_a_secret_value() -> None:
    key = ObjectKey("", "Secret", "default", "s")
    text = apply_svc.render_diff(key, _secret(a="b2xk"), _secret(a="bmV3"))
    assert "b2xk" not in text and "bmV3" not in text
    assert "*** (after)" in text
    created = apply_svc.render_diff(key, None, _secret(a="b2xk"))
    assert "b2xk" not in created
    assert "+  a: '***'" in created.splitlines()


def test_applyset_is_the_path_set_in_any_order(tmp_path: Path) -> None:
    a, b = str(tmp_path / "a.yaml"), str(tmp_path / "b")
    assert apply_svc.applyset([a, b]) == apply_svc.applyset([b, a])
    assert apply_svc.applyset([a]) != apply_svc.applyset([a, b])


def test_recursive_expansion_skips_dotfiles_and_other_files(tmp_path: Path) -> None:
    for rel in ("a.yaml", "sub/b.yml", "sub/.hidden.yaml", ".git/c.yaml", "notes.txt"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    got = apply_svc.expand_paths([str(tmp_path)], recursive=True)
    assert [Path(p).relative_to(tmp_path).as_posix() for p in got] == ["a.yaml", "sub/b.yml"]
    assert apply_svc.expand_paths([str(tmp_path)], recursive=False) == [str(tmp_path)]
