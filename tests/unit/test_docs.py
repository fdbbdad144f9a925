"""The README documents every setting, and openapi.yaml every route."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from termserver.config import SETTINGS

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_every_setting_is_documented_in_the_readme(setting) -> None:
    assert f"`{setting.env}`" in (REPO / "README.md").read_text(encoding="utf-8")


def test_every_route_is_in_openapi(tmp_path: Path) -> None:
    import yaml  # type: ignore[import-untyped]

    from termserver import create_app

    spec = yaml.safe_load((REPO / "openapi.yaml").read_text(encoding="utf-8"))
    documented = set(spec["paths"])
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'docs.sqlite'}"})
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", lambda m: "{" + {"resource_id": "id"}.get(m.group(1),
                                                                                               m.group(1)) + "}",
                      rule.rule)
        if path not in documented:
            missing.append(path)
    assert not missing, f"routes missing from openapi.yaml: {missing}"
