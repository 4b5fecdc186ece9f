"""One demo company per test run (built once, copied when a test changes it) and one Spark
session per run (only if a Spark test asks for it)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from smarketing.demo import DemoSummary, build_demo
from smarketing.domain.clock import FrozenClock
from smarketing.services.workspace import Workspace, open_workspace
from smarketing.settings import load_settings

DEMO_DAY = date(2026, 11, 20)
# A day after the demo's "now" (its rows' updated_at), so the overlap window is past them.
CLOCK_AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
DEMO_PEOPLE = 1200


@dataclass(frozen=True)
class Demo:
    path: Path
    summary: DemoSummary


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    path = tmp_path_factory.mktemp("reports") / "demo"
    summary = build_demo(
        load_settings(workspace=path), people=DEMO_PEOPLE, seed=11, progress=False, today=DEMO_DAY
    )
    return Demo(path, summary)


@pytest.fixture(scope="session")
def demo_ws(demo: Demo) -> Iterator[Workspace]:
    """The shared demo workspace: read it, do not change it (copy it with `fresh_ws`)."""
    ws = open_workspace(load_settings(workspace=demo.path), clock=FrozenClock(CLOCK_AT))
    yield ws
    ws.close()


@pytest.fixture
def fresh_ws(demo: Demo, tmp_path: Path) -> Iterator[Workspace]:
    """A private copy of the demo workspace (its store, without the analytics copy)."""
    target = tmp_path / "ws"
    shutil.copytree(demo.path, target, ignore=shutil.ignore_patterns("analytics*"))
    ws = open_workspace(load_settings(workspace=target), clock=FrozenClock(CLOCK_AT))
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark")
    from smarketing.analytics.engines.spark_engine import spark_session

    session = spark_session("local[2]", app_name="smarketing-tests")
    yield session
    session.stop()
