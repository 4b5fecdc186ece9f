"""The commented default playbook that `smarketing init` writes."""

from __future__ import annotations

from datetime import date
from importlib.resources import files


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def default_playbook_text(today: date) -> str:
    """The default playbook, with a revenue goal for the quarter of `today`."""
    template = files("smarketing.playbook").joinpath("default_playbook.yaml").read_text("utf-8")
    return template.replace("{quarter}", quarter_of(today))
