"""Dashboard pages: login with the users' passwords, and the overview both teams share."""

from __future__ import annotations

import json
import time
from importlib.resources import files
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from smarketing.domain import credentials
from smarketing.domain.stages import FUNNEL, SIDE_STAGES
from smarketing.errors import AuthenticationError
from smarketing.services import admin, people, playbooks
from smarketing.services.workspace import Workspace
from smarketing.web.login_throttle import LoginThrottle

router = APIRouter(include_in_schema=False)
COOKIE = "smarketing_session"
SESSION_SECONDS = 12 * 3600
templates = Environment(
    loader=PackageLoader("smarketing.web", "templates"), autoescape=select_autoescape()
)


def _ws(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    ws = _ws(request)
    html = templates.get_template(name).render(demo=ws.settings.is_demo, **context)
    return HTMLResponse(html, status_code=status)


def _user_of(request: Request) -> str | None:
    token = request.cookies.get(COOKIE)
    payload = credentials.verify_token(token, _ws(request).session_secret) if token else None
    if payload is None:
        return None
    data = json.loads(payload)
    return str(data["email"]) if data.get("exp", 0) > time.time() else None


@router.get("/login")
def login_form(request: Request) -> HTMLResponse:
    return _render(request, "login.html", error=None)


@router.post("/login")
def login(
    request: Request, email: Annotated[str, Form()], password: Annotated[str, Form()]
) -> Response:
    ws = _ws(request)
    throttle: LoginThrottle = request.app.state.login_throttle
    client = request.client.host if request.client else ""
    wait = throttle.retry_after(email, client)
    if wait:
        refused = _render(
            request,
            "login.html",
            status=429,
            error=f"too many failed logins for this email from here; try again in {wait} s",
        )
        refused.headers["Retry-After"] = str(wait)
        return refused
    try:
        user = admin.authenticate_user(ws, email=email, password=password)
    except AuthenticationError as exc:
        throttle.failed(email, client)
        return _render(request, "login.html", status=401, error=exc.message)
    throttle.succeeded(email, client)
    token = credentials.sign_token(
        json.dumps({"email": user.email, "exp": time.time() + SESSION_SECONDS}), ws.session_secret
    )
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", max_age=SESSION_SECONDS)
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/")
def overview(request: Request) -> Response:
    email = _user_of(request)
    if email is None:
        return RedirectResponse("/login", status_code=303)
    ws = _ws(request)
    counts = people.overview(ws)
    by_stage = dict(counts["stages"])
    pb = ws.playbook.playbook
    stages = [
        (pb.stage_label(s), by_stage.get(s.value, 0))
        for s in (*FUNNEL, *SIDE_STAGES)
        if s in pb.enabled_stages
    ]
    top = max((n for _, n in stages), default=1) or 1
    return _render(
        request,
        "overview.html",
        email=email,
        stages=stages,
        top=top,
        channels=counts["channels"][:12],
        version=playbooks.current_version(ws),
        playbook_name=pb.name,
    )


@router.get("/static/{name}")
def static(name: str) -> Response:
    resource = files("smarketing.web").joinpath("static", name)
    if "/" in name or not resource.is_file():
        return Response(status_code=404)
    return Response(resource.read_bytes(), media_type="text/css" if name.endswith(".css") else None)
