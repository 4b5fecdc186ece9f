"""The agreement between marketing and sales: schema, loading with positions, versions, diff."""

from smarketing.playbook.loader import load_playbook, load_playbook_text
from smarketing.playbook.schema import Playbook

__all__ = ["Playbook", "load_playbook", "load_playbook_text"]
