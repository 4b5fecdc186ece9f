"""`/metrics` in Prometheus's text format, read with Prometheus's own parser: the queue as the
store holds it, and this process's answers and refusals."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from smarketing.api.app import create_app
from smarketing.domain.stages import Role
from smarketing.services import admin
from smarketing.services.workspace import Workspace
from smarketing.store import migrations_runner


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_show_the_queue_and_what_this_process_answered(workspace: Workspace) -> None:
    write_key = admin.add_source(workspace, name="site").secret
    api_key = admin.create_api_key(workspace, name="prometheus", role=Role.VIEWER).secret
    app = create_app(workspace.settings, clock=workspace.clock, tracking_processor="external")
    track = {"type": "track", "event": "Signed Up", "userId": "u-1"}
    with TestClient(app) as client:
        first = [{**track, "messageId": "m-1"}, {**track, "messageId": "m-2"}]
        second = [{**track, "messageId": "m-2"}, {"type": "track", "messageId": "m-3"}]
        for batch in (first, second):
            answer = client.post("/v1/batch", json={"batch": batch}, auth=(write_key, ""))
            assert answer.status_code == 200
        for _ in range(6):  # five failures, then a refusal
            client.post("/login", data={"email": "eve@acme.example", "password": "guess"})
        assert client.get("/metrics").status_code == 401
        scraped = client.get("/metrics", headers={"Authorization": f"Bearer {api_key}"})

    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(scraped.text)
    events = "smarketing_tracking_events_total"
    assert got[(events, (("status", "stored"),))] == 2
    assert got[(events, (("status", "duplicate"),))] == 1
    assert got[(events, (("status", "failed"),))] == 1  # a track call without `event`
    assert got[("smarketing_tracking_queue_waiting", ())] == 2
    assert got[("smarketing_tracking_queue_lag_seconds", ())] == 0  # the clock stands still
    assert got[("smarketing_tracking_queue_limit", ())] == 100_000
    assert "smarketing_tracking_queue_limit 100000\n" in scraped.text  # exact, not 1e+05
    assert got[("smarketing_failed_events_to_replay", ())] == 1
    assert got[("smarketing_tracking_refused_total", ())] == 0
    assert got[("smarketing_api_rate_limited_total", ())] == 0
    assert got[("smarketing_login_throttled_total", ())] == 1
    info = next(labels for (name, labels) in got if name == "smarketing_info")
    assert dict(info)["schema"] == migrations_runner.head_revision()
