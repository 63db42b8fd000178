"""Page routes of the operator console (运行管理台), mounted at `/console`.

Server-rendered Jinja2 pages; HTMX swaps the fragments of the quarantine replay and of the access-request
decisions. A person logs in with `hub.identity` (the session token in an HttpOnly cookie) and every page goes
through the same layer as the API: `hub.access.decide` for what each dataset's fields would show,
`hub.access_requests` for the workflow (a steward decides), the role for which pages appear.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from dthub.console import SHANGHAI, local_time, source_name
from dthub.hub import access, access_requests, audit, catalog, identity, lineage, quarantine
from dthub.hub.access_requests import STEWARDS, AccessError
from dthub.hub.audit_tables import AuditLogRow
from dthub.hub.core import Hub
from dthub.hub.dataset import DatasetSpec
from dthub.hub.domain import UnknownName
from dthub.hub.identity import Consumer, IdentityError, Role
from dthub.hub.web import HubDep
from dthub.web import csrf, fleet, i18n, traffic
from dthub.web.overview import freshness, local_midnight, network_tpi, overview

HERE = Path(__file__).parent
SESSION_COOKIE = "dthub_session"
LANG_COOKIE = "dthub_lang"
AUDIT_ROLES = frozenset({Role.ADMIN, Role.AUDITOR, Role.DATA_STEWARD})
"""Who reads the audit log; stewards and admins (`STEWARDS`) also browse the quarantine and decide."""
AUDIT_PAGE_ROWS = 100
QUARANTINE_PAGE_ROWS = 50
LINEAGE_ROWS = 20
REQUEST_DAYS = 30

router = APIRouter(prefix="/console", include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")


class LoginRequired(Exception):
    """No live session: the console answers with a redirect to the login page."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class PageRefused(Exception):
    """A page the person's role does not reach (403), or a thing that does not exist (404)."""

    def __init__(self, status: int, title_key: str, detail: str = "") -> None:
        super().__init__(f"{status} {title_key}")
        self.status, self.title_key, self.detail = status, title_key, detail


def lang_of(request: Request) -> str:
    return i18n.language(request.cookies.get(LANG_COOKIE))


def person(request: Request, hub: HubDep) -> Consumer:
    """The person of the session cookie; `LoginRequired` without a live one."""
    token = request.cookies.get(SESSION_COOKIE)
    found = identity.authenticate(hub.store, token, "session") if token else None
    if found is None or found.kind != "person":
        raise LoginRequired(request.url.path)
    return found


PersonDep = Annotated[Consumer, Depends(person)]


async def check_csrf(request: Request) -> None:
    """Refuse (403) a POST whose CSRF token is not its session's: a form field `csrf` or the HTMX header."""
    session = request.cookies.get(SESSION_COOKIE)
    given = request.headers.get(csrf.HEADER) or (await form_of(request)).get(csrf.FIELD)
    if not csrf.valid(csrf.session_token(session) if session else None, given):
        raise PageRefused(403, "csrf.title", "csrf.detail")


CsrfDep = Depends(check_csrf)


def need(consumer: Consumer, roles: frozenset[Role]) -> None:
    if consumer.role not in roles:
        raise PageRefused(403, "forbidden.title", "forbidden.detail")


def render(
    request: Request, name: str, consumer: Consumer | None, status: int = 200, **context: Any
) -> HTMLResponse:
    lang = lang_of(request)

    def t(key: str, **values: object) -> str:
        return i18n.translate(lang, key, **values)

    nav = [
        ("overview", "/console/"),
        ("vehicles", "/console/vehicles"),
        ("traffic", "/console/traffic"),
        ("planner", "/console/planner"),
        ("catalog", "/console/catalog"),
        ("access", "/console/access"),
    ]
    if consumer is not None and consumer.role in STEWARDS:
        nav.insert(2, ("quarantine", "/console/quarantine"))
    if consumer is not None and consumer.role in AUDIT_ROLES:
        nav.insert(-1, ("audit", "/console/audit"))
    session = request.cookies.get(SESSION_COOKIE)
    return templates.TemplateResponse(
        request,
        name,
        {
            "t": t,
            "csrf": context.pop("csrf", None) or (csrf.session_token(session) if session else ""),
            "lang": lang,
            "me": consumer,
            "nav": nav,
            "when": local_time,
            "reason_text": lambda reason: reason_text(lang, reason),
            **context,
        },
        status_code=status,
    )


def source_text(request: Request, hub: Hub) -> str:
    """Where the detector speeds behind a TPI come from, said in the page's language (simulated says so)."""
    lang = lang_of(request)
    return "、".join(i18n.translate(lang, f"source.{name}") for name in traffic.detector_sources(hub))


def reason_text(lang: str, reason: str) -> str:
    if reason.startswith("rule."):
        return i18n.translate(lang, "reason.rule", rule=reason.removeprefix("rule."))
    text = i18n.translate(lang, f"reason.{reason}")
    return reason if text == f"reason.{reason}" else text


async def form_of(request: Request) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body as one value per name."""
    fields = parse_qs((await request.body()).decode(), keep_blank_values=True)
    return {name: values[-1] for name, values in fields.items()}


# Login, language


@router.get("/login")
def login_page(request: Request, next: str = "/console/") -> HTMLResponse:
    return _login_form(request, next=_local(next), failed=False)


def _login_form(request: Request, *, next: str, failed: bool) -> HTMLResponse:
    """The login form with a fresh double-submit CSRF token (cookie and hidden field)."""
    token = csrf.new_login_token()
    page = render(
        request, "login.html", None, status=401 if failed else 200, next=next, failed=failed, csrf=token
    )
    page.set_cookie(csrf.LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/console/login")
    return page


@router.post("/login")
async def login(request: Request, hub: HubDep) -> Response:
    form = await form_of(request)
    target = _local(form.get("next", "/console/"))
    if not csrf.valid(request.cookies.get(csrf.LOGIN_COOKIE), form.get(csrf.FIELD)):
        raise PageRefused(403, "csrf.title", "csrf.detail")
    try:
        issued = identity.login(hub.store, form.get("username", ""), form.get("password", ""))
    except IdentityError:
        return _login_form(request, next=target, failed=True)
    answer = RedirectResponse(target, status_code=303)
    max_age = int((issued.expires_at - datetime.now(UTC)).total_seconds())
    answer.set_cookie(SESSION_COOKIE, issued.text, max_age=max_age, httponly=True, samesite="lax")
    answer.delete_cookie(csrf.LOGIN_COOKIE, path="/console/login")
    return answer


@router.post("/logout", dependencies=[CsrfDep])
def logout() -> Response:
    answer = RedirectResponse("/console/login", status_code=303)
    answer.delete_cookie(SESSION_COOKIE)
    return answer


@router.get("/lang/{code}")
def switch_language(code: str, next: str = "/console/") -> Response:
    answer = RedirectResponse(_local(next), status_code=303)
    answer.set_cookie(LANG_COOKIE, i18n.language(code), max_age=365 * 86_400, samesite="lax")
    return answer


def _local(target: str) -> str:
    """Only paths of the console: never redirect off the site."""
    return target if target.startswith("/console/") or target == "/console" else "/console/"


# Overview


@router.get("/")
def overview_page(request: Request, hub: HubDep, me: PersonDep) -> HTMLResponse:
    now = datetime.now(UTC)
    roads = [hub.registry.datasets[name] for name in ("roads.detector_observations", "roads.segments")]
    cleared = all(me.clearance.rank >= spec.level.rank for spec in roads)
    day = network_tpi(hub) if cleared else None
    chart = None
    if day is not None:
        lang = lang_of(request)
        chart = json.dumps(
            {
                "times": [point.at.astimezone(SHANGHAI).strftime("%m-%d %H:%M") for point in day.points],
                "tpi": [point.tpi for point in day.points],
                "name": i18n.translate(lang, "overview.tpi_now").split()[0],
            },
            ensure_ascii=False,
        ).replace("</", "<\\/")
    return render(
        request,
        "overview.html",
        me,
        figures=overview(hub, now=now),
        live=fleet.live(hub, me, now=now),
        alarms=fleet.alarm_figures(hub, me, since=local_midnight(now)),
        cleared=cleared,
        day=day,
        sources=source_text(request, hub) if day is not None else "",
        chart=chart,
    )


# Catalog


@router.get("/catalog")
def catalog_page(request: Request, hub: HubDep, me: PersonDep) -> HTMLResponse:
    specs = sorted(hub.registry.datasets.values(), key=lambda spec: spec.id)
    figures = catalog.figures(hub.store, [spec.id for spec in specs])
    now = datetime.now(UTC)
    rows = [
        {
            "spec": spec,
            "figures": figures[spec.id],
            "freshness": freshness(spec, figures[spec.id], now=now),
            "access": _access_key(hub, me, spec),
        }
        for spec in specs
    ]
    return render(request, "catalog.html", me, rows=rows)


@router.get("/catalog/{dataset_id}")
def dataset_page(request: Request, hub: HubDep, me: PersonDep, dataset_id: str) -> HTMLResponse:
    try:
        spec = hub.registry.dataset(dataset_id)
    except UnknownName:
        raise PageRefused(404, "notfound.title", dataset_id) from None
    figures = catalog.figures(hub.store, [spec.id])[spec.id]
    decision = _decision(hub, me, spec)
    return render(
        request,
        "dataset.html",
        me,
        spec=spec,
        figures=figures,
        freshness=freshness(spec, figures, now=datetime.now(UTC)),
        access_key=_access_key(hub, me, spec),
        fields=catalog.schema_fields(spec),
        treatments={name: t.value for name, t in decision.fields.items()},
        batches=lineage.batches(hub.store, spec.id, limit=LINEAGE_ROWS),
        source_name=source_name,
    )


def _decision(hub: Hub, me: Consumer, spec: DatasetSpec) -> access.Decision:
    """What `me` would get of the dataset (the API's policy); no read happens, so nothing is audited."""
    granted = access.active_grant(hub.store, me.actor, spec.id) is not None
    return access.decide(me, spec, granted=granted)


def _access_key(hub: Hub, me: Consumer, spec: DatasetSpec) -> str:
    if me.clearance.rank < spec.level.rank:
        return "access.below"  # said first: a grant would not help
    decision = _decision(hub, me, spec)
    if not decision.allowed:
        return "access.none"
    plain = all(t is access.Treatment.PLAIN for t in decision.fields.values())
    return "access.plain" if plain else "access.masked"


# Quarantine


def _cleared_datasets(hub: Hub, me: Consumer) -> list[str]:
    """Datasets whose raw records the person's clearance reaches."""
    return sorted(s.id for s in hub.registry.datasets.values() if me.clearance.rank >= s.level.rank)


@router.get("/quarantine")
def quarantine_page(request: Request, hub: HubDep, me: PersonDep) -> HTMLResponse:
    need(me, STEWARDS)
    cleared = _cleared_datasets(hub, me)
    pages = [quarantine.list_records(hub, dataset=d, limit=QUARANTINE_PAGE_ROWS) for d in cleared]
    records = sorted((r for page in pages for r in page.records), key=lambda r: r.id, reverse=True)
    total = sum(page.total for page in pages)
    return render(request, "quarantine.html", me, records=records[:QUARANTINE_PAGE_ROWS], total=total)


def _record(hub: Hub, me: Consumer, record_id: int) -> Any:
    need(me, STEWARDS)
    try:
        record = quarantine.get(hub, record_id)
    except quarantine.NoSuchRecord:
        raise PageRefused(404, "notfound.title", str(record_id)) from None
    if record.dataset_id not in _cleared_datasets(hub, me):
        raise PageRefused(403, "forbidden.title", "forbidden.detail")
    return record


@router.get("/quarantine/{record_id}/edit")
def quarantine_edit(request: Request, hub: HubDep, me: PersonDep, record_id: int) -> HTMLResponse:
    record = _record(hub, me, record_id)
    return render(request, "_replay_form.html", me, record=record)


@router.post("/quarantine/{record_id}/replay", dependencies=[CsrfDep])
async def quarantine_replay(request: Request, hub: HubDep, me: PersonDep, record_id: int) -> HTMLResponse:
    record = _record(hub, me, record_id)
    raw = (await form_of(request)).get("raw")
    lang = lang_of(request)
    try:
        result = quarantine.replay(hub, record.id, raw=raw)
    except quarantine.NotOpen as exc:
        message, ok = i18n.translate(lang, "quarantine.not_open", status=exc.status), False
    except quarantine.NothingToReplay:
        message, ok = i18n.translate(lang, "quarantine.nothing"), False
    else:
        counts = {n: getattr(result, n) for n in ("read", "landed", "quarantined", "duplicate")}
        message, ok = i18n.translate(lang, "quarantine.replayed", **counts), result.quarantined == 0
    return render(request, "_replay_result.html", me, record=record, message=message, ok=ok)


# Audit


@router.get("/audit")
def audit_page(request: Request, hub: HubDep, me: PersonDep) -> HTMLResponse:
    need(me, AUDIT_ROLES)
    checked = audit.verify(hub.store)
    with hub.store.session() as session:
        query = select(AuditLogRow).order_by(AuditLogRow.seq.desc()).limit(AUDIT_PAGE_ROWS)
        entries = list(session.scalars(query))
    details = {e.seq: json.dumps(e.detail, ensure_ascii=False, sort_keys=True) for e in entries}
    return render(request, "audit.html", me, result=checked, entries=entries, details=details)


# Access requests


@router.get("/access")
def access_page(request: Request, hub: HubDep, me: PersonDep, filed: int | None = None) -> HTMLResponse:
    steward = me.role in STEWARDS
    rows = [
        row
        for row in access_requests.requests(hub, consumer=None if steward else me.actor)
        if row.consumer == me.actor or access_requests.stewards(me, row.dataset_id)
    ]
    requestable = sorted(
        spec.id
        for spec in hub.registry.datasets.values()
        if any(fnmatchcase(spec.id, pattern) for pattern in me.scopes)
    )
    return render(
        request,
        "access.html",
        me,
        rows=rows,
        decides={row.id for row in rows if access_requests.stewards(me, row.dataset_id)},
        requestable=requestable,
        days=REQUEST_DAYS,
        filed=filed,
        error=None,
    )


@router.post("/access/requests", dependencies=[CsrfDep])
async def file_request(request: Request, hub: HubDep, me: PersonDep) -> Response:
    form = await form_of(request)
    try:
        days = max(1, int(form.get("days") or REQUEST_DAYS))
        row = access_requests.request(
            hub,
            me,
            form.get("dataset_id", ""),
            purpose=form.get("purpose", ""),
            expires_at=datetime.now(UTC) + timedelta(days=days),
        )
    except (AccessError, ValueError) as exc:
        detail = exc.detail if isinstance(exc, AccessError) else str(exc)
        raise PageRefused(422, "requests.new", detail) from None
    return RedirectResponse(f"/console/access?filed={row.id}", status_code=303)


@router.post("/access/requests/{request_id}/{step}", dependencies=[CsrfDep])
async def decide_request(
    request: Request, hub: HubDep, me: PersonDep, request_id: int, step: str
) -> HTMLResponse:
    need(me, STEWARDS)
    note = (await form_of(request)).get("note", "")
    error = None
    try:
        if step in ("approve", "reject"):
            access_requests.decide(hub, request_id, me, approve=step == "approve", note=note)
        elif step == "provision":
            access_requests.provision(hub, request_id, me)
        else:
            raise PageRefused(404, "notfound.title", step)
    except AccessError as exc:
        error = f"{exc.reason}: {exc.detail}"
    row = next((r for r in access_requests.requests(hub) if r.id == request_id), None)
    if row is None:
        raise PageRefused(404, "notfound.title", str(request_id))
    decides = {row.id} if access_requests.stewards(me, row.dataset_id) else set()
    return render(request, "_request_row.html", me, row=row, decides=decides, error=error)


def login_redirect(request: Request, exc: LoginRequired) -> Response:
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": "/console/login"})
    return RedirectResponse(f"/console/login?next={quote(exc.path)}", status_code=303)


def refusal_page(request: Request, exc: PageRefused) -> Response:
    hub: Hub = request.app.state.hub
    token = request.cookies.get(SESSION_COOKIE)
    me = identity.authenticate(hub.store, token, "session") if token else None
    return render(request, "refused.html", me, status=exc.status, title_key=exc.title_key, detail=exc.detail)
