"""The operator console (运行管理台): Jinja2 pages and HTMX fragments at `/console`, zh-CN first.

`mount(app)` adds the pages, their static files (`static/`, with the npm packages `make vendor` copies into
`static/vendor/`: no CDN, the console works offline) and the redirect of `/` to `/console/`.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from dthub.web import operations, pages

STATIC = pages.HERE / "static"


def mount(app: FastAPI) -> None:
    """Serve the console on `app`: pages under `/console/`, assets under `/console/static/`."""
    app.include_router(pages.router)
    app.include_router(operations.router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    app.exception_handler(pages.LoginRequired)(pages.login_redirect)
    app.exception_handler(pages.PageRefused)(pages.refusal_page)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)
