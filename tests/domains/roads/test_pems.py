"""PeMS station 5-minute files: the real files land row for row, and each kind of damage is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from dthub.domains.roads.ingest.pems import MPH_TO_KMH, PemsStation5Min, PemsStations
from dthub.hub.adapter import LOCATION, Rejected

FIRST_LINE = (
    "10/04/2022 00:00:00,401833,4,101,N,ML,.445,50,80,88,.0129,70,10,15,.0143,72.9,0,"
    "10,3,.0019,74,1,10,27,.0179,72,1,10,27,.018,69.2,1,10,16,.0123,64.5,1,,,,,0,,,,,0,,,,,0"
)


def _lane(
    samples: int | None, flow: int | None, occupancy: float | None, mph: float | None, seen: bool
) -> dict[str, object]:
    speed = None if mph is None else mph * MPH_TO_KMH
    return {"samples": samples, "flow": flow, "occupancy": occupancy, "speed_kmh": speed, "observed": seen}


def test_first_real_line_becomes_one_whole_observation(pems_files: list[Path]) -> None:
    data = pems_files[0].read_bytes()
    assert data.split(b"\n")[1].rstrip(b"\r").decode() == FIRST_LINE

    parsed = PemsStation5Min().parse(data)

    lanes = [
        _lane(10, 15, 0.0143, 72.9, False),
        _lane(10, 3, 0.0019, 74, True),
        _lane(10, 27, 0.0179, 72, True),
        _lane(10, 27, 0.018, 69.2, True),
        _lane(10, 16, 0.0123, 64.5, True),
        *[_lane(None, None, None, None, False)] * 3,
    ]
    expected = {
        "station_id": 401833,
        "observed_at": datetime(2022, 10, 4, 7, 0, tzinfo=UTC),  # 00:00 PDT
        "samples": 50,
        "observed_pct": 80.0,
        "total_flow": 88,
        "avg_occupancy": 0.0129,
        "avg_speed_kmh": 70 * MPH_TO_KMH,
        **{f"lane{n}_{k}": v for n, lane in enumerate(lanes, start=1) for k, v in lane.items()},
        LOCATION: 2,
    }
    assert parsed.rows.slice(0, 1).to_pylist() == [expected]
    assert parsed.rejected == ()


def test_every_line_of_every_real_file_parses(pems_files: list[Path]) -> None:
    assert len(pems_files) == 13
    for path in pems_files:
        lines = path.read_bytes().rstrip(b"\n").split(b"\n")
        parsed = PemsStation5Min().parse(path.read_bytes())
        assert (parsed.rows.num_rows, parsed.rejected) == (len(lines) - 1, ())
        assert parsed.rows[LOCATION].to_pylist() == list(range(2, len(lines) + 1))


def test_file_without_header_reads_like_the_clearinghouse_format(pems_files: list[Path]) -> None:
    data = pems_files[0].read_bytes()
    headerless = data.split(b"\n", 1)[1]

    with_header, without = PemsStation5Min().parse(data), PemsStation5Min().parse(headerless)

    assert without.rows.drop_columns([LOCATION]).equals(with_header.rows.drop_columns([LOCATION]))
    assert without.rows[LOCATION][0].as_py() == 1


def damaged(lines: list[str]) -> bytes:
    """A copy of real lines with one of each kind of damage, at known lines."""
    good = lines[1]
    fields = good.split(",")
    bad_number = ",".join([*fields[:7], "5O", *fields[8:]])
    bad_time = ",".join(["10/04/2022 25:00:00", *fields[1:]])
    out = [
        lines[0],  # 1 header
        lines[1],  # 2
        good[:40],  # 3 truncated
        bad_number,  # 4
        "",  # 5 blank
        good + ",7,7",  # 6 too many fields
        bad_time,  # 7
        lines[2],  # 8
    ]
    return ("\n".join(out) + "\n").encode()


@pytest.fixture
def real_lines(pems_files: list[Path]) -> list[str]:
    return pems_files[0].read_text().splitlines()


def test_each_kind_of_damage_is_refused_with_its_line_and_raw_text(real_lines: list[str]) -> None:
    data = damaged(real_lines)
    lines = data.decode().split("\n")

    parsed = PemsStation5Min().parse(data)

    assert parsed.rows[LOCATION].to_pylist() == [2, 8]
    assert parsed.skipped == 1
    assert list(parsed.rejected) == [
        Rejected(
            reason="pems.wrong_column_count", detail="expected 52 fields, found 7", location=3, raw=lines[2]
        ),
        Rejected(reason="pems.bad_number", detail="samples: 5O is not a number", location=4, raw=lines[3]),
        Rejected(
            reason="pems.wrong_column_count", detail="expected 52 fields, found 54", location=6, raw=lines[5]
        ),
        Rejected(
            reason="pems.bad_timestamp",
            detail="timestamp: 10/04/2022 25:00:00 is not %m/%d/%Y %H:%M:%S",
            location=7,
            raw=lines[6],
        ),
    ]


def test_stations_adapter_reads_station_fields_only(real_lines: list[str]) -> None:
    parsed = PemsStations().parse(damaged(real_lines))

    # a bad measure does not make the station description wrong
    assert parsed.rows[LOCATION].to_pylist() == [2, 4, 8]
    assert parsed.rows.slice(0, 1).to_pylist() == [
        {
            "station_id": 401833,
            "district": 4,
            "freeway": 101,
            "direction": "N",
            "lane_type": "ML",
            "length_mi": 0.445,
            "first_seen_at": datetime(2022, 10, 4, 7, 0, tzinfo=UTC),
            LOCATION: 2,
        }
    ]


def test_replayed_line_parses_without_its_header() -> None:
    parsed = PemsStation5Min().parse_raw(FIRST_LINE)

    assert parsed.rows.num_rows == 1
    assert parsed.rows["station_id"].to_pylist() == [401833]
    assert parsed.rows.schema.field("observed_at").type == pa.timestamp("us", tz="UTC")
