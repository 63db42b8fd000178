"""Demo accounts (演示账号): one person per main role, with passwords made on the first run.

No password is in the repository: each is generated with `secrets` when the account is created, kept in
`<home>/demo-accounts.json` (mode 0600, beside the demo's own database) so that later runs can print it
again, and printed by `dthub demo`. Accounts that exist are left alone.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from dthub.hub import identity
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.identity import Role
from dthub.hub.identity_tables import PersonRow


@dataclass(frozen=True, kw_only=True)
class DemoAccount:
    username: str
    name: str
    role: Role
    clearance: Level


ACCOUNTS = (
    DemoAccount(username="demo-admin", name="演示管理员 Demo admin", role=Role.ADMIN, clearance=Level.CORE),
    DemoAccount(
        username="demo-steward",
        name="演示数据管理员 Demo steward",
        role=Role.DATA_STEWARD,
        clearance=Level.IMPORTANT,
    ),
    DemoAccount(
        username="demo-analyst", name="演示分析员 Demo analyst", role=Role.ANALYST, clearance=Level.GENERAL_2
    ),
)


def ensure_accounts(hub: Hub) -> dict[str, str]:
    """Create the demo accounts that are missing; return username → password for those whose password is
    known (made now or on an earlier run)."""
    path = hub.settings.home / "demo-accounts.json"
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    for account in ACCOUNTS:
        with hub.store.session() as session:
            exists = session.get(PersonRow, account.username) is not None
        if exists:
            continue
        password = secrets.token_urlsafe(12)
        identity.add_person(
            hub.store,
            account.username,
            name=account.name,
            password=password,
            role=account.role,
            clearance=account.clearance,
            by="cli:demo",
        )
        known[account.username] = password
    _write_private(path, json.dumps(known, ensure_ascii=False, indent=2))
    return {a.username: known[a.username] for a in ACCOUNTS if a.username in known}


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
