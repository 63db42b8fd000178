"""CSRF tokens of the console (跨站请求伪造防护): every POST carries a token the page gave it.

A logged-in person's token is an HMAC of their session token (which lives in an HttpOnly cookie no other
site can read), so it is per session and needs no storage. The login form, which has no session yet, gets a
random token in a cookie of its own and the same value in the form (double submit). A token travels as the
form field `csrf` or, from HTMX, as the header `X-CSRF-Token` (set once on `<body hx-headers>`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

FIELD = "csrf"
HEADER = "X-CSRF-Token"
LOGIN_COOKIE = "dthub_login_csrf"
_LABEL = b"dthub console csrf v1"


def session_token(session: str) -> str:
    """The CSRF token of a session: HMAC-SHA256 of the session token under a fixed label."""
    return hmac.new(_LABEL, session.encode(), hashlib.sha256).hexdigest()


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


def valid(expected: str | None, given: str | None) -> bool:
    """Whether `given` is the `expected` token (compared in constant time); false when either is absent."""
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
