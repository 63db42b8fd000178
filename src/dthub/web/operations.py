"""Operations pages of the console: vehicle supervision (车辆监管), traffic (交通运行) and the trip planner
(出行规划), with the JSON their maps poll.

Each page reads as the person logged in, through the layer the API uses: the vehicles routes' own
functions (`domains.vehicles.api`: alarms, their workflow, KPIs) and `web.fleet` (live positions and tracks
through `hub.access` and `hub.query`); the roads jobs for clearance-checked road data; the transit planner's
own route, which the planner page posts to. Maps draw the hub's own GeoJSON on a plain local style: no
tiles, no CDN.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse

from dthub.console import SHANGHAI
from dthub.domains.vehicles import api as vehicles_api
from dthub.hub.web import ApiProblem, HubDep
from dthub.web import fleet, i18n, planner, traffic
from dthub.web.overview import local_midnight, network_tpi
from dthub.web.pages import PageRefused, PersonDep, check_csrf, form_of, lang_of, render, source_text

router = APIRouter(prefix="/console", include_in_schema=False)
POLL_S = 3
"""Seconds between two polls of live positions."""
ALARM_ROWS = 50
TPI_HISTORY = timedelta(days=7)


def _json(value: Any) -> str:
    """JSON to embed in a `<script type="application/json">` (no `</` to end it early)."""
    return json.dumps(value, ensure_ascii=False, default=str).replace("</", "<\\/")


# Vehicle supervision


@router.get("/vehicles")
def vehicles_page(
    request: Request, hub: HubDep, me: PersonDep, q: str = "", day: date | None = None
) -> HTMLResponse:
    live = fleet.live(hub, me, search=q)
    shown_day = day or fleet.latest_day(hub) or datetime.now(UTC).astimezone(SHANGHAI).date()
    alarms: list[vehicles_api.AlarmOut] = []
    kpis: list[vehicles_api.KpisOut] = []
    refused = live.refused
    if refused is None:
        try:
            alarms = vehicles_api.get_alarms(hub, me, status=None, rule=None, limit=ALARM_ROWS)
            kpis = vehicles_api.get_kpis(hub, me, shown_day)
        except ApiProblem as exc:
            refused = exc.error
    return render(
        request,
        "vehicles.html",
        me,
        live=live,
        refused=refused,
        alarms=alarms,
        kpis=kpis,
        q=q,
        day=shown_day,
        poll_s=POLL_S,
        initial=_json(live.geojson()),
        clock=lambda iso: datetime.fromisoformat(iso).astimezone(SHANGHAI).strftime("%H:%M:%S"),
    )


@router.get("/vehicles/live.json")
def vehicles_live(hub: HubDep, me: PersonDep, q: str = "") -> JSONResponse:
    live = fleet.live(hub, me, search=q)
    body = {
        **live.geojson(),
        "refused": live.refused,
        "online": live.online,
        "polled_at": datetime.now(UTC).isoformat(),
    }
    return JSONResponse(body)


@router.get("/vehicles/track.json")
def vehicles_track(hub: HubDep, me: PersonDep, plate: str, day: date) -> JSONResponse:
    found = fleet.track(hub, me, plate, day)
    return JSONResponse(
        {
            "plate": found.plate,
            "day": found.day.isoformat(),
            "refused": found.refused,
            "coarse": found.coarse,
            "points": found.points,
        }
    )


@router.post("/vehicles/alarms/{alarm_id:path}/{step}", dependencies=[Depends(check_csrf)])
async def alarm_step(request: Request, hub: HubDep, me: PersonDep, alarm_id: str, step: str) -> HTMLResponse:
    """Acknowledge or handle an alarm through the vehicles API's own steps (who: the person; a note)."""
    error = None
    try:
        if step == "acknowledge":
            alarm = vehicles_api.acknowledge_alarm(hub, me, alarm_id)
        elif step == "handle":
            note = (await form_of(request)).get("note", "").strip()
            if not note:
                raise ApiProblem(422, "request.invalid", "note: required")
            alarm = vehicles_api.handle_alarm(hub, me, alarm_id, vehicles_api.HandleBody(note=note))
        else:
            raise PageRefused(404, "notfound.title", step)
    except ApiProblem as exc:
        if exc.status_code in (403, 404):
            title = "forbidden.title" if exc.status_code == 403 else "notfound.title"
            raise PageRefused(exc.status_code, title, exc.detail) from None
        error = exc.detail
        shown = vehicles_api.get_alarms(hub, me, status=None, rule=None, limit=1000)
        found = next((a for a in shown if a.id == alarm_id), None)
        if found is None:
            raise PageRefused(404, "notfound.title", alarm_id) from None
        alarm = found
    return render(request, "_alarm_row.html", me, alarm=alarm, error=error)


# Traffic


@router.get("/traffic")
def traffic_page(request: Request, hub: HubDep, me: PersonDep) -> HTMLResponse:
    allowed = traffic.cleared(hub, me, traffic.OBSERVATIONS, traffic.DETECTOR_SEGMENTS, traffic.SEGMENTS)
    levels = traffic.latest_levels(hub) if allowed else None
    history = network_tpi(hub, window=TPI_HISTORY) if allowed else None
    forecasts_cleared = allowed and traffic.cleared(hub, me, traffic.FORECASTS)
    comparison = traffic.forecast_vs_actual(hub) if forecasts_cleared else None
    lang = lang_of(request)

    def stamp(at: datetime) -> str:
        return at.astimezone(SHANGHAI).strftime("%m-%d %H:%M")

    chart = None
    if history is not None:
        chart = _json({"times": [stamp(p.at) for p in history.points], "tpi": [p.tpi for p in history.points],
                       "name": "TPI"})  # fmt: skip
    versus = None
    if comparison is not None:
        names = [i18n.translate(lang, "traffic.forecast"), i18n.translate(lang, "traffic.actual")]
        versus = _json(
            {"times": [stamp(t) for t in comparison.times], "forecast": comparison.forecast,
             "actual": comparison.actual, "names": names}
        )  # fmt: skip
    return render(
        request,
        "traffic.html",
        me,
        cleared=allowed,
        levels=levels,
        history=history,
        chart=chart,
        comparison=comparison,
        versus=versus,
        sources=source_text(request, hub) if history is not None else "",
        colours=traffic.LEVEL_COLOURS,
    )


@router.get("/map/segments.json")
def map_segments(hub: HubDep, me: PersonDep) -> JSONResponse:
    """Segments with a geometry, coloured by level; empty when the person's clearance does not reach."""
    if not traffic.cleared(hub, me, traffic.SEGMENTS):
        return JSONResponse({"type": "FeatureCollection", "features": []})
    measured = traffic.cleared(hub, me, traffic.OBSERVATIONS, traffic.DETECTOR_SEGMENTS)
    return JSONResponse(traffic.segment_map(hub, traffic.latest_levels(hub) if measured else None))


@router.get("/map/alarms.json")
def map_alarms(hub: HubDep, me: PersonDep) -> JSONResponse:
    figures = fleet.alarm_figures(hub, me, since=local_midnight(datetime.now(UTC)))
    return JSONResponse({"type": "FeatureCollection", "features": list(figures.features)})


# Trip planner


@router.get("/planner")
def planner_page(
    request: Request, hub: HubDep, me: PersonDep, feed: str | None = None, bikeshare: str | None = None
) -> HTMLResponse:
    names = planner.feeds(hub)
    systems = planner.bikeshares(hub)
    chosen = feed if feed in names else planner.default_feed(names)
    day = None
    if chosen is not None:
        day = planner.default_day(hub, chosen, datetime.now(UTC).astimezone(SHANGHAI).date())
    return render(
        request,
        "planner.html",
        me,
        feeds=names,
        feed=chosen,
        day=day,
        bikeshares=systems,
        bikeshare=bikeshare if bikeshare in systems else None,
    )


@router.get("/planner/stops.json")
def planner_stops(hub: HubDep, me: PersonDep, feed: str) -> JSONResponse:
    stops = planner.stops(hub, feed)
    if stops is None:
        raise PageRefused(404, "notfound.title", feed)
    return JSONResponse(stops)


@router.get("/planner/bikes.json")
def planner_bikes(hub: HubDep, me: PersonDep, system: str) -> JSONResponse:
    stations = planner.bike_stations(hub, system)
    if stations is None:
        raise PageRefused(404, "notfound.title", system)
    return JSONResponse(stations)
