"""Password guessing on the dashboard: five failures for an email from one address, then one
try every three minutes (429 with Retry-After, the password not even checked); the user from
another address is not locked out; a success forgets them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from smarketing.api.app import create_app
from smarketing.domain.stages import Role
from smarketing.services import admin
from smarketing.services.workspace import Workspace
from smarketing.web.login_throttle import FAILURES, WINDOW_S, LoginThrottle


def test_a_guessed_email_is_locked_out_and_another_is_not(workspace: Workspace) -> None:
    admin.add_user(workspace, email="mo@acme.example", role=Role.MARKETING, password="pw-1234")
    admin.add_user(workspace, email="sy@acme.example", role=Role.SALES, password="pw-5678")
    with TestClient(create_app(workspace.settings)) as client:

        def login(email: str, password: str) -> tuple[int, str]:
            page = client.post("/login", data={"email": email, "password": password})
            return page.status_code, page.text

        assert [login("mo@acme.example", f"guess-{i}")[0] for i in range(FAILURES)] == [401] * 5
        refused = client.post("/login", data={"email": " MO@acme.example", "password": "pw-1234"})
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) == WINDOW_S // FAILURES
        assert "too many failed logins for this email from here" in refused.text
        assert "smarketing_session" not in refused.cookies
        assert login("sy@acme.example", "pw-5678")[0] == 200  # others sign in as usual
        assert login("nobody@acme.example", "x")[0] == 401


def test_failures_drain_at_the_window_rate_and_a_success_forgets_them() -> None:
    clock = [0.0]
    throttle = LoginThrottle(now=lambda: clock[0])
    ada, guesser, home = "ada@acme.example", "203.0.113.9", "198.51.100.7"
    for _ in range(FAILURES):
        assert throttle.retry_after(ada, guesser) == 0
        throttle.failed(ada, guesser)
    assert throttle.retry_after("Ada@Acme.example ", guesser) == WINDOW_S // FAILURES
    assert throttle.retry_after(ada, home) == 0  # Ada herself, from elsewhere, is not locked out
    clock[0] += WINDOW_S / FAILURES  # one more try has come back, not more
    assert throttle.retry_after(ada, guesser) == 0
    throttle.failed(ada, guesser)
    assert throttle.retry_after(ada, guesser) == WINDOW_S // FAILURES
    throttle.succeeded(ada, guesser)
    throttle.failed(ada, guesser)
    assert throttle.retry_after(ada, guesser) == 0  # the count starts again
