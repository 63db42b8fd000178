"""The `dthub` command on real PeMS files: ingest, quarantine, lineage, the catalog and the demo; and
`docs/cli.md`, which shows the `--help` of every command as it is (regenerate it with
`.venv/bin/python tests/test_cli.py`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
import sqlalchemy
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner, Result

from dthub.cli import app
from dthub.demo.city import build_network
from dthub.demo.detectors import place_detectors
from dthub.domains import DOMAINS, registry
from dthub.hub import identity
from dthub.hub.core import Hub
from dthub.hub.settings import Settings

DOCS = Path(__file__).parents[1] / "docs" / "cli.md"
HELP_ENV = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
"""Stable help output: width, no colour, no live terminal."""
HELP_BLOCK = re.compile(
    r"<!-- help: (?P<command>[\w .-]+) -->\n```text\n(?P<help>.*?)```\n<!-- /help -->\n", re.S
)


class Dthub(Protocol):
    def __call__(self, *args: str, **env: str) -> Result: ...


@pytest.fixture
def dthub(tmp_path: Path) -> Dthub:
    """Run `dthub ARGS...` on a hub in a temporary home; tables wide enough never to wrap."""
    runner = CliRunner()
    base = {"DTHUB_HOME": str(tmp_path / "hub"), "COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}

    def invoke(*args: str, **env: str) -> Result:
        return runner.invoke(app, list(args), env={**base, **env}, prog_name="dthub")

    return invoke


def row(output: str, first_cell: str) -> list[str]:
    """The cells of the table row that starts with `first_cell`."""
    line = next(line for line in output.splitlines() if line.startswith(f"│ {first_cell} "))
    return [cell.strip() for cell in line.strip("│").split("│")]


def figures(dthub: Dthub) -> dict[str, dict[str, Any]]:
    result = dthub("datasets", "--json")
    assert result.exit_code == 0, result.output
    return {dataset["id"]: dataset for dataset in json.loads(result.stdout)}


def test_two_real_files_land_2592_rows_each(dthub: Dthub, pems_files: list[Path]) -> None:
    first, second = pems_files[:2]
    result = dthub("ingest", str(first), str(second), "--adapter", "pems.station_5min")
    assert result.exit_code == 0, result.output
    assert row(result.stdout, first.name)[:6] == [first.name, "committed", "2592", "2592", "0", "0"]
    assert row(result.stdout, second.name)[:6] == [second.name, "committed", "2592", "2592", "0", "0"]
    assert row(result.stdout, "合计 Total (2)")[2:6] == ["5184", "5184", "0", "0"]
    assert "Nothing was quarantined" in result.stdout


def test_the_same_file_again_is_skipped_and_lands_nothing(dthub: Dthub, pems_files: list[Path]) -> None:
    dthub("ingest", str(pems_files[0]), "--adapter", "pems.station_5min")
    again = dthub("ingest", str(pems_files[0]), "--adapter", "pems.station_5min")
    name = pems_files[0].name
    assert again.exit_code == 0, again.output
    assert row(again.stdout, name)[:6] == [name, "skipped", "2592", "0", "0", "2592"]
    assert figures(dthub)["roads.detector_observations"]["rows"] == 2592


def test_a_folder_is_read_file_by_file_and_json_gives_one_object_per_batch(
    dthub: Dthub, pems_files: list[Path]
) -> None:
    folder = pems_files[0].parent
    result = dthub("ingest", str(folder), "--glob", "*_2022_10_*.csv", "-a", "pems.stations", "--json")
    assert result.exit_code == 0, result.output
    batches = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(b["source"]).name for b in batches] == [p.name for p in pems_files[:4]]
    assert [(b["status"], b["read"], b["landed"] + b["duplicate"]) for b in batches] == [
        ("committed", 2592, 2592)
    ] * 4


@dataclass(frozen=True, kw_only=True)
class Damaged:
    """A real file with line 10 truncated and a bad number on line 20, ingested; its quarantine ids."""

    path: Path
    line_10: str
    """Line 10 as it was before it was truncated."""
    bad_line_20: str
    truncated_id: int
    bad_number_id: int


@pytest.fixture
def damaged(dthub: Dthub, pems_files: list[Path], tmp_path: Path) -> Damaged:
    lines = pems_files[2].read_text().split("\n")
    line_10 = lines[9]
    lines[9] = line_10[:40]
    fields = lines[19].split(",")
    fields[9] = "12x"  # total flow
    lines[19] = ",".join(fields)
    path = tmp_path / "damaged_2022_10_18.csv"
    path.write_text("\n".join(lines))
    result = dthub("ingest", str(path), "--adapter", "pems.station_5min")
    assert result.exit_code == 0, result.output
    assert row(result.stdout, path.name)[:6] == [path.name, "committed", "2592", "2590", "2", "0"]
    assert "dthub quarantine list --dataset roads.detector_observations" in result.stdout
    records = json.loads(dthub("quarantine", "list", "--json").stdout)["records"]
    ids = {record["reason"]: record["id"] for record in records}
    return Damaged(
        path=path,
        line_10=line_10,
        bad_line_20=lines[19],
        truncated_id=ids["pems.wrong_column_count"],
        bad_number_id=ids["pems.bad_number"],
    )


def test_damaged_lines_are_listed_with_their_reason_and_line(dthub: Dthub, damaged: Damaged) -> None:
    listing = dthub("quarantine", "list")
    assert listing.exit_code == 0, listing.output
    truncated = row(listing.stdout, str(damaged.truncated_id))
    bad_number = row(listing.stdout, str(damaged.bad_number_id))
    assert truncated[1:6] == [
        "roads.detector_observations",
        "pems.wrong_column_count",
        damaged.path.name,
        "line 10",
        "expected 52 fields, found 8",
    ]
    assert bad_number[1:6] == [
        "roads.detector_observations",
        "pems.bad_number",
        damaged.path.name,
        "line 20",
        "total_flow: 12x is not a number",
    ]
    reasons = dthub("quarantine", "reasons").stdout
    assert row(reasons, "roads.detector_observations")[3] == "1"
    assert "pems.wrong_column_count" in reasons
    assert "pems.bad_number" in reasons


def test_show_prints_every_field_and_the_raw_text(dthub: Dthub, damaged: Damaged) -> None:
    shown = dthub("quarantine", "show", str(damaged.bad_number_id))
    assert shown.exit_code == 0, shown.output
    assert damaged.bad_line_20 in shown.stdout.splitlines()  # whole, unwrapped, to copy
    for text in ("状态 Status", "open", str(damaged.path), "line 20", "pems.bad_number", "Note"):
        assert text in shown.stdout


def test_a_fixed_line_replayed_lands_and_the_record_is_closed(dthub: Dthub, damaged: Damaged) -> None:
    replayed = dthub("quarantine", "replay", str(damaged.truncated_id), "--raw", damaged.line_10)
    assert replayed.exit_code == 0, replayed.output
    assert "已入湖 Landed" in replayed.stdout
    assert figures(dthub)["roads.detector_observations"]["rows"] == 2591
    assert "replayed" in dthub("quarantine", "show", str(damaged.truncated_id)).stdout

    again = dthub("quarantine", "replay", str(damaged.truncated_id))
    assert again.exit_code == 1
    assert again.stderr.strip() == (
        f"错误 Error: quarantine record {damaged.truncated_id} is replayed, not open; nothing replayed "
        f"(see: dthub quarantine show {damaged.truncated_id})"
    )


def test_a_line_replayed_unfixed_is_still_refused_and_stays_open(dthub: Dthub, damaged: Damaged) -> None:
    replayed = dthub("quarantine", "replay", str(damaged.bad_number_id))
    assert replayed.exit_code == 1
    assert "still refused" in replayed.stderr
    assert "total_flow: 12x is not a number" in replayed.stderr
    open_ids = [r["id"] for r in json.loads(dthub("quarantine", "list", "--json").stdout)["records"]]
    assert damaged.bad_number_id in open_ids


def test_raw_text_that_holds_no_record_is_refused_before_replay(dthub: Dthub, damaged: Damaged) -> None:
    header = damaged.path.read_text().split("\n")[0] + "\n"
    for raw in ("  ", header):
        result = dthub("quarantine", "replay", str(damaged.truncated_id), "--raw", raw)
        assert result.exit_code == 2
        assert "Traceback" not in result.output
    assert len(json.loads(dthub("quarantine", "list", "--json").stdout)["records"]) == 2


def test_discard_closes_a_record_with_the_note(dthub: Dthub, damaged: Damaged) -> None:
    discarded = dthub("quarantine", "discard", str(damaged.bad_number_id), "--note", "检测器调试 sensor test")
    assert discarded.exit_code == 0, discarded.output
    shown = dthub("quarantine", "show", str(damaged.bad_number_id)).stdout
    assert "discarded" in shown
    assert "检测器调试 sensor test" in shown
    again = dthub("quarantine", "discard", str(damaged.bad_number_id), "--note", "again")
    assert again.exit_code == 1
    assert "is discarded, not open" in again.stderr


def test_user_mistakes_end_in_one_line_not_a_traceback(dthub: Dthub, pems_files: list[Path]) -> None:
    cases = {
        ("ingest", str(pems_files[0]), "--adapter", "pems.nope"): (
            f"unknown adapter 'pems.nope'; known: {', '.join(sorted(registry().adapters))}"
        ),
        ("ingest", "missing.csv", "--adapter", "pems.stations"): "no such file or folder: missing.csv",
        ("quarantine", "show", "99"): "no quarantine record 99",
        ("lineage", "--dataset", "roads.nope"): "unknown dataset 'roads.nope'",
        ("datasets", "--domain", "nope"): (
            f"unknown domain 'nope'; known: {', '.join(sorted(d.name for d in DOMAINS))}"
        ),
    }
    for args, message in cases.items():
        result = dthub(*args)
        assert result.exit_code == 2, args
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert message in result.stderr
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_lineage_lists_the_batches_newest_first(dthub: Dthub, pems_files: list[Path]) -> None:
    first, second = pems_files[:2]
    dthub("ingest", str(first), str(second), "--adapter", "pems.station_5min")
    dthub("ingest", str(first), "--adapter", "pems.station_5min")
    batches = json.loads(dthub("lineage", "--json").stdout)
    assert [(Path(b["source"]).name, b["status"], b["landed"]) for b in batches] == [
        (first.name, "skipped", 0),
        (second.name, "committed", 2592),
        (first.name, "committed", 2592),
    ]
    log = dthub("lineage", "--dataset", "roads.detector_observations")
    assert log.exit_code == 0, log.output
    ids = [line.split()[2] for line in log.stdout.splitlines() if line.startswith("批次 batch")]
    assert ids == [batch["batch_id"] for batch in batches]
    assert f"sha256 {batches[0]['source_checksum'][:12]}" in log.stdout


def test_datasets_json_has_the_figures(dthub: Dthub, pems_files: list[Path]) -> None:
    dthub("ingest", str(pems_files[0]), "--adapter", "pems.station_5min")
    observations = figures(dthub)["roads.detector_observations"]
    observations.pop("last_landed_at")
    assert observations == {
        "id": "roads.detector_observations",
        "domain": "roads",
        "title_zh": "检测器五分钟观测",
        "title_en": "Detector 5-minute observations",
        "level": "general-2",
        "rows": 2592,
        "files": observations["files"],
        "size_bytes": observations["size_bytes"],
        "latest_event_at": "2022-10-05T06:55:00+00:00",  # 23:55 in California
        "batches": 1,
        "rows_read": 2592,
        "rows_quarantined": 0,
        "open_quarantine": 0,
        "valid_ratio": 1.0,
    }
    assert observations["files"] >= 1
    assert observations["size_bytes"] > 0
    table = dthub("datasets").stdout
    assert "2022-10-05" in table
    assert "14:55" in table


def test_demo_ingests_the_real_sample_into_both_datasets(dthub: Dthub, pems_files: list[Path]) -> None:
    realdata = str(pems_files[0].parents[2])
    built = dthub("demo", "--no-serve", "--vehicles", "50", DTHUB_REALDATA=realdata)
    assert built.exit_code == 0, built.output
    assert "Real data: Caltrans PeMS detectors (District 4, US-101 N, 2022)" in built.stdout
    assert "all generated (names marked 模拟" in built.stdout
    assert row(built.stdout, "合计 Total (13)")[2] == str(13 * 2592)
    catalog = figures(dthub)
    observations = catalog["roads.detector_observations"]
    simulated = observations["rows"] - 13 * 2592  # the demo city's detectors, today so far
    assert simulated > 0
    assert simulated % len(place_detectors(build_network())) == 0
    assert observations["batches"] == 13 + 1
    assert (catalog["roads.detector_stations"]["rows"], catalog["roads.detector_stations"]["batches"]) == (
        9,
        13,
    )

    first_passwords = demo_passwords(built.stdout)
    assert sorted(first_passwords) == ["demo-admin", "demo-analyst", "demo-steward"]

    again = dthub("demo", "--no-serve", "--vehicles", "50", DTHUB_REALDATA=realdata)
    assert again.exit_code == 0, again.output
    assert again.stdout.count("│ skipped ") >= 4 * 13 + 2  # and the city's network and detector map
    assert demo_passwords(again.stdout) == first_passwords
    added = figures(dthub)["roads.detector_observations"]["rows"] - observations["rows"]
    assert added in (0, len(place_detectors(build_network())))  # at most the interval that just ended


def demo_passwords(stdout: str) -> dict[str, str]:
    """username → password of the demo accounts printed by `dthub demo`."""
    found = re.findall(r"^\s+(demo-[a-z]+)\s+(\S+)\s+", stdout, flags=re.MULTILINE)
    return dict(found)


def test_printed_demo_accounts_can_log_in(dthub: Dthub, tmp_path: Path) -> None:
    built = dthub("demo", "--no-serve", DTHUB_REALDATA=str(tmp_path / "absent"))
    passwords = demo_passwords(built.stdout)

    hub = Hub.open(Settings(home=tmp_path / "hub"), DOMAINS)
    try:
        for username, password in passwords.items():
            assert identity.login(hub.store, username, password).text.startswith("dths_")
        with pytest.raises(identity.IdentityError):
            identity.login(hub.store, "demo-admin", "not the password")
    finally:
        hub.close()


def test_demo_without_the_real_data_says_so_and_builds_only_the_simulated_city(
    dthub: Dthub, tmp_path: Path
) -> None:
    result = dthub("demo", "--no-serve", "--vehicles", "50", DTHUB_REALDATA=str(tmp_path / "absent"))
    assert result.exit_code == 0, result.output
    assert "Real data absent" in result.stderr
    assert "DTHUB_REALDATA" in result.stderr
    catalog = figures(dthub)
    assert catalog["roads.detector_stations"]["rows"] == 0
    assert catalog["roads.segments"]["rows"] == len(build_network().segments)


# docs/cli.md


def command_paths(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and group, depth first, in the order they are declared."""
    yield path
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from command_paths(sub, (*path, name))


def help_text(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env=HELP_ENV, prog_name="dthub")
    assert result.exit_code == 0, result.output
    plain = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    return "\n".join(line.rstrip() for line in plain.splitlines()).strip("\n") + "\n"


def all_help() -> dict[str, str]:
    return {" ".join(("dthub", *p)): help_text(p) for p in command_paths(typer.main.get_command(app))}


def regenerate(doc: str) -> str:
    """`doc` with each help block replaced by the real help; a command without one gets a section."""
    helps = all_help()
    doc = HELP_BLOCK.sub(lambda m: block(m["command"], helps.get(m["command"], m["help"])), doc)
    documented = {m["command"] for m in HELP_BLOCK.finditer(doc)}
    missing = [
        f"\n## `{name}`\n\n{block(name, text)}" for name, text in helps.items() if name not in documented
    ]
    return doc + "".join(missing)


def block(command: str, text: str) -> str:
    return f"<!-- help: {command} -->\n```text\n{text}```\n<!-- /help -->\n"


def test_docs_show_the_help_of_every_command() -> None:
    documented = {m["command"]: m["help"] for m in HELP_BLOCK.finditer(DOCS.read_text())}
    assert documented == all_help(), "docs/cli.md is stale: run .venv/bin/python tests/test_cli.py"


if __name__ == "__main__":
    DOCS.write_text(regenerate(DOCS.read_text() if DOCS.exists() else "# 命令行 Command line\n"))
    print(f"wrote {DOCS}")


def test_audit_verify_names_the_entry_changed_behind_the_hubs_back(dthub: Dthub, tmp_path: Path) -> None:
    # three accounts, then the trip planner's identity provisioned through the request workflow
    dthub("demo", "--no-serve", DTHUB_REALDATA=str(tmp_path / "absent"))
    sound = dthub("audit", "verify")
    assert sound.exit_code == 0, sound.output
    entries = re.search(r"The audit chain is sound: (\d+) entries", sound.stdout)
    assert entries is not None, sound.stdout
    assert int(entries[1]) > 3
    listed = dthub("audit", "list", "--limit", "1000").stdout
    assert "person:demo-steward" in listed
    assert "maas-planner" in listed

    hub = Hub.open(Settings(home=tmp_path / "hub"), DOMAINS)
    try:
        with hub.store.engine.begin() as connection:
            connection.execute(sqlalchemy.text("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2"))
    finally:
        hub.close()

    tampered = dthub("audit", "verify")
    assert tampered.exit_code == 1
    assert "audit entry 2 was changed" in tampered.stderr
