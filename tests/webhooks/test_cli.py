"""The `smarketing webhooks` and `worker` commands, as a receiver's developer meets them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smarketing.cli.main import run
from smarketing.services.workspace import Workspace

from .conftest import StartReceiver
from .test_signing import BODY, MSG_ID, SECRET, SIGNATURE, TIMESTAMP

HEADERS = ["--id", MSG_ID, "--timestamp", str(TIMESTAMP), "--signature", SIGNATURE]


def verify(*extra: str, stdin: str | None = BODY.decode()) -> tuple[int, str]:
    result = run(["webhooks", "verify", "--secret", SECRET, *extra], stdin=stdin)
    return result.exit_code, (result.stdout + result.stderr).strip()


def test_verify_accepts_the_reference_message_from_stdin_or_a_file(tmp_path: Path) -> None:
    assert verify(*HEADERS, "--now", str(TIMESTAMP + 60)) == (
        0,
        "valid: a v1 signature matches and the timestamp is within 300 s",
    )
    body = tmp_path / "body.json"
    body.write_bytes(BODY)
    code, _ = verify(
        *HEADERS, "--body-file", str(body), "--now", "2021-02-25T15:02:10Z", stdin=None
    )
    assert code == 0


@pytest.mark.parametrize(
    ("argv", "stdin", "says"),
    [
        ([*HEADERS, "--now", str(TIMESTAMP)], BODY.decode() + "\n", "no valid v1 signature"),
        (HEADERS, BODY.decode(), "is too old"),
        ([*HEADERS, "--now", str(TIMESTAMP - 301)], BODY.decode(), "is too new"),
        (
            ["--id", MSG_ID, "--timestamp", "yesterday", "--signature", SIGNATURE],
            BODY.decode(),
            "not a whole number of seconds",
        ),
        (["--id", MSG_ID, "--timestamp", str(TIMESTAMP)], BODY.decode(), "missing header(s)"),
    ],
)
def test_verify_says_exactly_why_not_and_exits_1(argv: list[str], stdin: str, says: str) -> None:
    code, output = verify(*argv, stdin=stdin)
    assert code == 1
    assert output.startswith("error: invalid webhook:")
    assert says in output
    assert "Traceback" not in output


def test_add_list_send_test_and_the_delivery_log(
    workspace: Workspace,
    backend: str,
    start_receiver: StartReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if backend == "postgres":
        monkeypatch.setenv("SMARKETING_DATABASE_URL", str(workspace.settings.database_url))
    ws = ["--workspace", str(workspace.settings.workspace)]
    receiver = start_receiver()  # the CLI runs on the system clock

    added = run(["webhooks", "add", receiver.url, "--event", "deal.won", "-e", "deal.lost", *ws])
    assert added.exit_code == 0, added.stderr
    receiver.secret = added.stdout.splitlines()[-1]
    assert receiver.secret.startswith("whsec_")
    sub_id = added.stdout.split(":", 1)[0].removeprefix("subscription ")
    bad = run(["webhooks", "add", receiver.url, "--event", "deal.wom", *ws])
    assert bad.exit_code == 1
    assert "unknown event type(s): deal.wom" in bad.stderr

    listed = run(["webhooks", "list", *ws]).stdout
    assert listed == f"{sub_id}\tactive\t{receiver.url}\tdeal.won,deal.lost\n"
    assert receiver.secret not in listed

    sent = run(["webhooks", "send-test", sub_id, *ws])
    assert sent.exit_code == 0, sent.stderr
    assert "HTTP 200" in sent.stdout
    assert json.loads(receiver.received[0].body)["type"] == "webhook.test"
    assert receiver.received[0].verdict == "valid"

    receiver.status = 503
    failed = run(["webhooks", "send-test", sub_id, *ws])
    assert failed.exit_code == 1
    assert "HTTP 503" in failed.stderr

    (line,) = run(["webhooks", "deliveries", "--status", "retrying", *ws]).stdout.splitlines()
    delivery_id, rest = line.split("\t", 1)
    assert rest.startswith(f"retrying\twebhook.test\tsubscription {sub_id}\t1 attempt(s)\tHTTP 503")
    attempts = run(["webhooks", "attempts", delivery_id, *ws]).stdout
    assert attempts.startswith("#1\t")
    assert "HTTP 503" in attempts
    assert len(run(["webhooks", "deliveries", *ws]).stdout.splitlines()) == 2

    once = run(["worker", "--once", *ws])
    assert once.exit_code == 0, once.stderr
    assert "webhooks: 0 event(s)" in once.stdout.splitlines()[-1]
    assert once.stdout.splitlines()[:4] == [
        "processed 0 queued tracking events",
        "route_waiting: 0",
        "check_sla: 0",
        "recycle_due: 0",
    ]
