"""Load a playbook from YAML, naming file, line and column of every problem.

Problems print as `FILE:LINE:COLUMN: field.path: message` (lines and columns from 1), the way
compilers and linters do, so editors can jump to them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from smarketing.errors import PlaybookError
from smarketing.playbook.schema import Loc, Playbook, semantic_problems


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.field}: {self.message}"


@dataclass(frozen=True, slots=True)
class LoadedPlaybook:
    playbook: Playbook
    text: str
    content_hash: str


def content_hash(playbook: Playbook) -> str:
    """SHA-256 of the playbook's meaning (canonical JSON), so comments and layout don't count."""
    canonical = json.dumps(playbook.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _field_path(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


def _locate(root: Any, loc: Loc, *, at_key: bool = False) -> tuple[int, int, list[str | int]]:
    """Line/column (0-based) of the deepest node of `loc` found in the YAML tree, and the path
    that was found (pydantic adds union tags to `loc` that are not in the file: skipped)."""
    node, line, col = root, 0, 0
    path: list[str | int] = []
    if isinstance(root, CommentedMap | CommentedSeq):
        line, col = root.lc.line, root.lc.col
    for step in loc:
        part = step
        if isinstance(node, CommentedMap) and part in node:
            scalar_value = _is_scalar(node[part]) and not at_key
            line, col = node.lc.value(part) if scalar_value else node.lc.key(part)
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line, col = node.lc.item(part)
            node = node[part]
        elif isinstance(node, CommentedMap) and isinstance(part, str) and part.endswith("_"):
            alias = part.rstrip("_")
            if alias in node:
                line, col = node.lc.key(alias)
                node = node[alias]
                part = alias
            else:
                continue
        else:
            continue
        path.append(part)
    return line, col, path


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, Mapping | list)


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; `smarketing playbook schema` lists the fields)"
    if kind == "missing":
        return "required field is missing"
    msg = str(error["msg"])
    return msg.removeprefix("Value error, ")


def load_playbook_text(text: str, *, filename: str = "smarketing.yaml") -> LoadedPlaybook:
    """Parse and validate playbook text; raise `PlaybookError` listing every problem."""
    yaml = YAML(typ="rt")
    try:
        root = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = Problem(filename, line, col, "(yaml)", str(exc.problem or exc))
        raise PlaybookError("the playbook is not valid YAML", problems=[str(problem)]) from None
    except YAMLError as exc:
        raise PlaybookError(
            "the playbook is not valid YAML", problems=[f"{filename}:1:1: (yaml): {exc}"]
        ) from None
    if not isinstance(root, Mapping):
        problem = Problem(
            filename, 1, 1, "(top)", "the playbook must be a mapping with `version: 1`"
        )
        raise PlaybookError("the playbook is empty or not a mapping", problems=[str(problem)])
    plain = json.loads(json.dumps(root, default=str))
    problems: list[Problem] = []
    try:
        playbook = Playbook.model_validate(plain)
    except ValidationError as exc:
        for error in exc.errors():
            at_key = error["type"] == "extra_forbidden"
            line, col, path = _locate(root, tuple(error["loc"]), at_key=at_key)
            shown = path if error["type"] != "missing" else [*path, error["loc"][-1]]
            problems.append(
                Problem(filename, line + 1, col + 1, _field_path(shown), _message(error))
            )
    else:
        for loc, message in semantic_problems(playbook):
            line, col, _path = _locate(root, loc)
            problems.append(Problem(filename, line + 1, col + 1, _field_path(loc), message))
    if problems:
        unique = sorted(set(problems), key=lambda p: (p.line, p.column, p.field))
        raise PlaybookError(
            f"{len(unique)} problem(s) in the playbook", problems=[str(p) for p in unique]
        )
    return LoadedPlaybook(playbook=playbook, text=text, content_hash=content_hash(playbook))


def load_playbook(path: Path) -> LoadedPlaybook:
    """Load the playbook file at `path`, with a clear error when it is missing or unreadable."""
    if not path.is_file():
        raise PlaybookError(
            f"no playbook at {path}",
            hint="run `smarketing init DIR` to create one, or pass --workspace",
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlaybookError(
            f"cannot read the playbook {path}: {exc}", hint="save it as UTF-8 text"
        ) from None
    return load_playbook_text(text, filename=str(path))
