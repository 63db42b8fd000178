"""Print the settings table of docs/operations.md from `Settings` (a test checks they match)."""

from __future__ import annotations

from dthub.hub.settings import Settings


def settings_table() -> str:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        if field.default is None:
            default = "SQLite `<home>/hub.db`" if name == "db_url" else "none"
        else:
            default = f"`{field.default}`"
        lines.append(f"| `DTHUB_{name.upper()}` | {default} | {field.description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(settings_table(), end="")
