"""Docs that cannot drift, and the layers of DESIGN.md kept by an import-linter contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from smarketing.cli.docs import render_all
from smarketing.playbook.schema import Playbook
from smarketing.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(render_all()))
def test_generated_reference_is_current(name: str) -> None:
    committed = (ROOT / "docs" / name).read_text(encoding="utf-8")
    assert committed == render_all()[name], f"docs/{name} is stale: run `make docs`"


def test_every_setting_is_documented() -> None:
    page = (ROOT / "docs" / "settings.md").read_text()
    for name, field in Settings.model_fields.items():
        assert f"SMARKETING_{name.upper()}" in page
        assert field.description, f"setting {name} has no description"


def test_every_playbook_section_is_explained() -> None:
    page = (ROOT / "docs" / "playbook.md").read_text()
    for name in Playbook.model_fields:
        assert f"`{name}`" in page, f"docs/playbook.md does not explain `{name}`"


def test_readme_quickstart_is_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = [line for line in quickstart.splitlines() if line.startswith("make ")]
    assert commands == ["make demo", "make test"]


def test_layers_contract_holds() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout
