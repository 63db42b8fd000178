"""Beijing subway (北京地铁) as it is published: trips and stop times built from per-station timetables.

The feed (`gtfs/beijing_subway/`) has GTFS stops, routes and calendars but no trips: like most Chinese
metro data, its timetables are per station (车站时刻表), in `data/interim/timetable.tar.gz` as
`timetable/<day type>/<line>/<direction>/<station>.csv`, one row per train leaving the station:
`isHalf` (1: a short-turn service, 小交路), `startDeviceLocation` and `destDeviceLocation` (the train's
origin and terminus), `arriveTime` (seconds after midnight, past 86,400 after midnight). Stations are
"device locations" (one per line and station), joined to GTFS stop positions by
`data/interim/relations.csv`; `data/interim/interstation_time/<day type>/<line>.csv` gives travel times
between consecutive stations, which give the order of the stations (some of its times are broken, e.g.
85,975 s: they are used only when nothing better is there).

Building (`build_trips`), for each service (day type, short-turn or not, origin, terminus; for a loop,
its direction too), across the line folders it runs through:
- its stations in running order (`running_order`): the interstation edges of every line give the
  track, on which the service's stations make paths (several where a train runs from one line's
  stations to another's: no edge joins them) or a loop, cut at the origin; a path starts at the origin
  or ends beside the terminus, else runs the way its trains' times advance (`lag`), and paths follow
  each other by time;
- the running time between consecutive stations, measured on the published times (the median
  difference of the in-order alignment of two stations' trains that spreads least), else measured the
  other way along the same track, else the interstation time where sane (30 s to 30 min);
- trains matched from each station to the next in order (trains do not overtake on a line): a time at
  the next station continues the train expected there when it is nearer to it than half the gap to the
  neighbouring trains (and the run takes 30 s to 30 min), else it starts a train (one entering service
  there); a train expected at a station that does not publish it ends;
- the terminus, which publishes no departure of its own service, is reached after the last station plus
  the running time.
Each published time is a stop time of one built trip, arrival = departure = the published second.
`tests/domains/transit/test_beijing.py` counts the published departures that no built trip serves, and
why.

`beijing_feed` returns a GTFS-like `Feed` (stops, routes, trips, stop_times, calendar) that
`transit.timetable.build_timetable` reads: day type 1 is the weekday service `wd` (more trains), 0 the
weekend `we`. Stations the relations file does not know (27 device locations) become stops without
coordinates, named by their device id: reachable by train, not on foot.
"""

from __future__ import annotations

import csv
import io
import tarfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from dthub.domains.transit.gtfs import Feed, read_feed

LINE_ROUTES = {
    **{str(n): f"{n:02d}" for n in range(1, 20)},
    "79": "t1",  # 亦庄T1线
    "88": "da",  # 大兴机场线
    "89": "xj",  # 西郊线
    "90": "10",  # 10号线 (the loop's western and southern half: 巴沟 … 潘家园)
    "91": "S1",  # S1线
    "92": "yf",  # 燕房线
    "93": "04",  # 大兴线, run through with 4号线
    "94": "cp",  # 昌平线
    "95": "fs",  # 房山线
    "96": "yz",  # 亦庄线
    "97": "01",  # 八通线, run through with 1号线
    "98": "ca",  # 首都机场线
}
"""Line codes of the published timetables → route_id of gtfs/routes.txt."""

DAY_SERVICES = {"1": "wd", "0": "we"}
"""Day types of the timetables → service_id of gtfs/calendar.txt (weekday, weekend)."""

MIN_RUN_S, MAX_RUN_S = 30, 1800
"""Running times between two stations outside this range are taken for broken."""


@dataclass(frozen=True, kw_only=True)
class Departure:
    """One row of a station timetable."""

    day_type: str
    line: str
    direction: str
    station: str
    half: bool
    origin: str
    terminus: str
    time_s: int

    @property
    def service(self) -> Service:
        loop = self.direction if self.origin == self.terminus else ""
        return (self.day_type, self.half, self.origin, self.terminus, loop)


Service = tuple[str, bool, str, str, str]
"""(day type, short-turn, origin, terminus, direction of a loop): the trains of one service, across the
line folders it runs through (a 八通线 train to 古城 is published under line 97, then under line 1; a 10号线
train round the loop under lines 10 and 90). Loop services (origin = terminus) of the two ways round are
told apart by their direction folder."""


@dataclass(frozen=True, kw_only=True)
class Trip:
    """A built trip: (station, seconds) in running order."""

    trip_id: str
    service: Service
    line: str
    """Line code of the first station's timetable."""
    stops: tuple[tuple[str, int], ...]


@dataclass(kw_only=True)
class Build:
    """Built trips, and the running times used: (from, to) → seconds."""

    trips: list[Trip] = field(default_factory=list)
    run_s: dict[tuple[str, str], int] = field(default_factory=dict)


def read_departures(archive: Path) -> list[Departure]:
    """Every row of every station timetable in the archive."""
    departures: list[Departure] = []
    with tarfile.open(archive) as tar:
        for member in tar:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 5 or not parts[4].endswith(".csv"):
                continue
            _, day_type, line, direction, name = parts
            handle = tar.extractfile(member)
            if handle is None:
                continue
            for row in csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8")):
                departures.append(
                    Departure(
                        day_type=day_type,
                        line=line,
                        direction=direction,
                        station=name.removesuffix(".csv"),
                        half=row["isHalf"] == "1",
                        origin=row["startDeviceLocation"],
                        terminus=row["destDeviceLocation"],
                        time_s=int(row["arriveTime"]),
                    )
                )
    return departures


def read_interstation(folder: Path) -> dict[tuple[str, str], list[tuple[str, str, int]]]:
    """(day type, line) → its (from, to, seconds) edges."""
    edges: dict[tuple[str, str], list[tuple[str, str, int]]] = {}
    for path in sorted(folder.glob("*/*.csv")):
        with path.open(encoding="utf-8") as handle:
            edges[(path.parent.name, path.stem)] = [
                (r["fromDeviceLocation"], r["toDeviceLocation"], int(r["interstationTime"]))
                for r in csv.DictReader(handle)
            ]
    return edges


def build_trips(
    departures: Iterable[Departure],
    interstation: dict[tuple[str, str], list[tuple[str, str, int]]],
    *,
    max_slack_s: int = 600,
) -> Build:
    """Trips of every service (see the module docstring)."""
    services: dict[Service, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    line_of: dict[str, str] = {}
    for departure in departures:
        services[departure.service][departure.station].append(departure.time_s)
        line_of[departure.station] = departure.line
    published: dict[tuple[str, str], int] = {}
    for edges in interstation.values():
        for a, b, seconds in edges:
            if MIN_RUN_S <= seconds <= MAX_RUN_S:
                published.setdefault((a, b), seconds)
    for a, b in list(published):
        published.setdefault((b, a), published[(a, b)])  # the same track the other way
    neighbours: dict[str, set[str]] = defaultdict(set)
    for edges in interstation.values():
        for a, b, _ in edges:
            neighbours[a].add(b)
            neighbours[b].add(a)
    timetables = {
        key: {st: sorted(set(times)) for st, times in stations.items()} for key, stations in services.items()
    }
    runs = _Runs(timetables, published, {})
    build = Build(run_s=runs.found)
    for key in sorted(timetables):
        own = timetables[key]
        order = running_order(own, key[2], key[3], neighbours)
        terminus = key[3]
        if terminus in own and terminus != order[0]:
            order.remove(terminus)  # a terminus publishes no departure of its own service
        for n, chain in enumerate(_trains(order, terminus, own, runs, max_slack_s)):
            day_type, half, origin, _, loop = key
            build.trips.append(
                Trip(
                    trip_id=f"{day_type}-{'h' if half else 'f'}-{origin}-{terminus}{loop and '-'}{loop}-{n}",
                    service=key,
                    line=line_of[chain[0][0]],
                    stops=tuple(chain),
                )
            )
    return build


def running_order(
    own: dict[str, list[int]], origin: str, terminus: str, neighbours: dict[str, set[str]]
) -> list[str]:
    """The stations of one service in running order. The interstation edges (of every line, both ways)
    give the track: the service's stations make one or more paths on it (more where a train runs through
    from one line's stations to another's, which no edge joins), or a loop, cut at the origin. A path
    starts at the origin, or ends beside the terminus, or else runs the way its trains' times advance
    (`lag`); the paths follow each other likewise: the origin's first, the terminus's last, the others by
    how far behind the origin (or the station with the most trains) their trains pass."""
    reference = origin if origin in own else max(own, key=lambda station: (len(own[station]), station))
    inner = {station: neighbours.get(station, set()) & own.keys() for station in own}
    if any(len(n) > 2 for n in inner.values()):  # not a line: by time alone
        return sorted(own, key=lambda station: (lag(own[reference], own[station]), station))
    pieces: list[list[str]] = []
    seen: set[str] = set()
    ends_first = sorted(own, key=lambda station: (len(inner[station]) == 2, station != origin, station))
    for start in ends_first:
        if start in seen:
            continue
        piece = _walk(start, inner, seen)
        if len(inner[start]) == 2 and len(piece) > 2:  # a loop, cut at `start`: run away from it
            if lag(own[start], own[piece[1]], 1800) < 0:
                piece = [piece[0], *piece[:0:-1]]
        elif origin in (piece[0], piece[-1]):
            piece = piece if piece[0] == origin else piece[::-1]
        elif terminus in neighbours.get(piece[0], set()) - neighbours.get(piece[-1], set()) or (
            len(piece) > 1
            and terminus not in neighbours.get(piece[-1], set())
            and lag(own[piece[0]], own[piece[1]], 1800) < 0
        ):
            piece.reverse()
        pieces.append(piece)

    return [station for piece in _follow(pieces, own, origin, terminus, neighbours) for station in piece]


def _follow(
    pieces: list[list[str]],
    own: dict[str, list[int]],
    origin: str,
    terminus: str,
    neighbours: dict[str, set[str]],
) -> list[list[str]]:
    """Pieces of track one after the other: from the origin's (or the one no other piece leads into), each
    followed by the piece whose first station's trains pass soonest (within 15 min) after its last
    station's; the terminus's piece last; pieces left over by time."""
    if len(pieces) == 1:
        return pieces
    gap = {
        (a, b): lag(own[pieces[a][-1]], own[pieces[b][0]], 900)
        for a in range(len(pieces))
        for b in range(len(pieces))
        if a != b
    }
    leads = {(a, b) for (a, b), seconds in gap.items() if 0 < seconds < 900}
    last = [n for n, piece in enumerate(pieces) if terminus in neighbours.get(piece[-1], set())]
    first = [n for n, piece in enumerate(pieces) if origin in piece] or [
        n for n in range(len(pieces)) if not any(b == n for _, b in leads) and n not in last
    ]
    order = [first[0] if first else 0]
    while len(order) < len(pieces):
        after = [
            (gap[(order[-1], b)], b) for b in range(len(pieces)) if (order[-1], b) in leads and b not in order
        ]
        after = [item for item in after if item[1] not in last or len(order) == len(pieces) - 1] or after
        if not after:
            break
        order.append(min(after)[1])
    rest = [n for n in range(len(pieces)) if n not in order]
    return [pieces[n] for n in order] + [pieces[n] for n in rest]


def _walk(start: str, inner: dict[str, set[str]], seen: set[str]) -> list[str]:
    """Stations from `start` along the track until the path ends or comes back."""
    path = [start]
    seen.add(start)
    while True:
        ahead = sorted(inner[path[-1]] - seen)
        if not ahead:
            return path
        path.append(ahead[0])
        seen.add(ahead[0])


def lag(reference: list[int], times: list[int], most: int = 3 * 3600) -> float:
    """How many seconds after the trains at one station those at another pass: the shift (within `most`,
    in steps of 10 s) that brings the most of the first station's trains within 15 s of one at the
    second, the smallest shift among equals. Counting matches, not aligning in order, the two may count
    different trains; headways that change over the day tell the right shift from one a train apart."""
    first, second = np.asarray(reference, np.float64), np.asarray(times, np.float64)
    if len(first) == 0 or len(second) == 0:
        return 0.0
    shifts = np.arange(-most, most + 1, 10, dtype=np.float64)
    moved = first[None, :] + shifts[:, None]
    at = np.clip(np.searchsorted(second, moved), 1, max(len(second) - 1, 1))
    nearest = np.minimum(
        np.abs(second[at - 1] - moved), np.abs(second[np.minimum(at, len(second) - 1)] - moved)
    )
    score = (nearest <= 15).sum(axis=1) * 1e6 - np.abs(shifts)
    return float(shifts[int(np.argmax(score))])


def _alignments(
    here: npt.NDArray[np.float64], there: npt.NDArray[np.float64], most: int
) -> npt.NDArray[np.float64] | None:
    """Row o of the result: there[k + o - most] - here[k] for every k (NaN where there is no such train);
    only the rows comparing at least a third of the trains are kept."""
    if len(here) == 0 or len(there) == 0:
        return None
    offsets = np.arange(-most, most + 1)
    index = np.arange(len(here))[None, :] + offsets[:, None]
    valid = (index >= 0) & (index < len(there))
    differences = np.where(valid, there[np.clip(index, 0, max(len(there) - 1, 0))] - here[None, :], np.nan)
    enough = valid.sum(axis=1) >= max(1, min(len(here), len(there)) // 3)
    if not enough.any():
        return None
    kept: npt.NDArray[np.float64] = differences[enough]
    return kept


@dataclass
class _Runs:
    """Running times between two stations, measured once."""

    timetables: dict[Service, dict[str, list[int]]]
    published: dict[tuple[str, str], int]
    found: dict[tuple[str, str], int]

    def __post_init__(self) -> None:
        self.serving: dict[str, list[Service]] = defaultdict(list)
        for key, stations in self.timetables.items():
            for station in stations:
                self.serving[station].append(key)

    def between(self, here: str, there: str) -> int | None:
        """Measured on the service with the most trains at both, else measured the other way along the same
        track (a loop's closing leg, which no service of its own direction publishes both ends of), else
        the interstation time; None unless sane."""
        if (here, there) in self.found:
            return self.found[(here, there)]
        run = self._measured(here, there)
        if run is None:
            run = self._measured(there, here)
        if run is None:
            run = self.published.get((here, there))
        if run is None or not MIN_RUN_S <= run <= MAX_RUN_S:
            return None
        self.found[(here, there)] = run
        return run

    def _measured(self, here: str, there: str) -> int | None:
        best: tuple[int, int] | None = None
        for key in self.serving.get(here, []):
            stations = self.timetables[key]
            if there in stations:
                measured = _aligned_median(stations[here], stations[there])
                if measured is not None and (best is None or measured[1] > best[1]):
                    best = measured
        return None if best is None else best[0]


def _aligned_median(here: list[int], there: list[int]) -> tuple[int, int] | None:
    """(running time, trains compared): the median difference of the in-order alignment of two stations'
    sorted times (up to 6 trains either way: the two may count a few trains more or less) whose
    differences spread least among those with a sane running time; None if none has one."""
    differences = _alignments(np.asarray(here, np.float64), np.asarray(there, np.float64), 6)
    if differences is None:
        return None
    low, middle, high = np.nanquantile(differences, [0.25, 0.5, 0.75], axis=1)
    sane = (middle >= MIN_RUN_S) & (middle <= MAX_RUN_S)
    if not sane.any():
        return None
    best = int(np.nanargmin(np.where(sane, high - low, np.inf)))
    return round(float(middle[best])), int(np.isfinite(differences[best]).sum())


def _trains(
    order: list[str], final: str, own: dict[str, list[int]], runs: _Runs, max_slack_s: int
) -> list[list[tuple[str, int]]]:
    """Trains of one service, station by station in running order: a published time continues the train
    expected there (in order) when it is nearer to it than half the gap to the neighbouring trains on
    either side (and within `max_slack_s`), else it starts a train; a train expected nowhere ends."""
    finished: list[list[tuple[str, int]]] = []
    running: list[list[tuple[str, int]]] = []
    previous: str | None = None
    for station in order:
        run = runs.between(previous, station) if previous is not None else None
        times = own[station]
        if run is None:
            finished += running
            running = []
        expected = [train[-1][1] + (run or 0) for train in running]
        slack_expected = _slack(expected, max_slack_s)
        slack_times = _slack(times, max_slack_s)
        continuing: list[list[tuple[str, int]]] = []
        k = 0
        for j, time in enumerate(times):
            while k < len(running) and expected[k] < time - min(slack_expected[k], slack_times[j]):
                finished.append(running[k])  # expected here, not published: it ended before
                k += 1
            if (
                k < len(running)
                and abs(expected[k] - time) <= min(slack_expected[k], slack_times[j])
                and MIN_RUN_S <= time - running[k][-1][1] <= MAX_RUN_S
            ):
                running[k].append((station, time))
                continuing.append(running[k])
                k += 1
            else:
                continuing.append([(station, time)])
        finished += running[k:]
        running = continuing
        previous = station
    run = runs.between(previous, final) if previous is not None else None
    if run is not None:
        for train in running:
            train.append((final, train[-1][1] + run))
    return sorted(finished + running)


def _slack(times: list[int], most: int) -> list[float]:
    """Half the gap from each of sorted `times` to its nearer neighbour, within [30 s, `most`]."""
    values = np.asarray(times, dtype=np.float64)
    gaps = np.diff(values)
    before = np.concatenate(([np.inf], gaps))
    after = np.concatenate((gaps, [np.inf]))
    slack: list[float] = np.clip(np.minimum(before, after) / 2, 30.0, most).tolist()
    return slack


def stop_of_device(relations: Path, stops: pa.Table) -> dict[str, str]:
    """Device location → the GTFS stop (站台, a stop position) trains of that line stop at: the first
    stop position relations.csv gives for it that stops.txt has. The feed does not say which of a
    station's two stop positions serves which direction; both directions use this one."""
    known = set(stops["stop_id"].to_pylist())
    found: dict[str, str] = {}
    with relations.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            device, stop = row["device_location"], row["osm_stop_position_id"]
            if device and device not in found and stop in known:
                found[device] = stop
    return found


def beijing_feed(root: Path, build: Build | None = None, *, name: str = "beijing_subway") -> Feed:
    """The Beijing subway as a GTFS-like feed the timetable reads: the published GTFS files and the trips
    and stop times built from the station timetables (`build`, built here if not given)."""
    interim = root / "data" / "interim"
    if build is None:
        build = build_trips(
            read_departures(interim / "timetable.tar.gz"), read_interstation(interim / "interstation_time")
        )
    published = read_feed(root / "gtfs", name=name)
    stops = published.get("stops.txt")
    device_stop = stop_of_device(interim / "relations.csv", stops)
    names = dict(zip(stops["stop_id"].to_pylist(), stops["stop_name"].to_pylist(), strict=True))
    unknown = sorted(
        {station for trip in build.trips for station, _ in trip.stops if station not in device_stop}
    )
    for device in unknown:
        device_stop[device] = f"device:{device}"
    extra = pa.table(
        {column: pa.array([None] * len(unknown), pa.string()) for column in stops.column_names}
    ).set_column(stops.column_names.index("stop_id"), "stop_id", pa.array([device_stop[d] for d in unknown]))
    extra = extra.set_column(
        extra.column_names.index("stop_name"), "stop_name", pa.array([f"车站 {d}" for d in unknown])
    )
    trip_rows: dict[str, list[str]] = defaultdict(list)
    time_rows: dict[str, list[str]] = defaultdict(list)
    for trip in build.trips:
        trip_rows["trip_id"].append(trip.trip_id)
        trip_rows["route_id"].append(LINE_ROUTES[trip.line])
        trip_rows["service_id"].append(DAY_SERVICES[trip.service[0]])
        trip_rows["trip_headsign"].append(str(names.get(device_stop[trip.stops[-1][0]]) or ""))
        for sequence, (station, seconds) in enumerate(trip.stops, start=1):
            text = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            time_rows["trip_id"].append(trip.trip_id)
            time_rows["arrival_time"].append(text)
            time_rows["departure_time"].append(text)
            time_rows["stop_id"].append(device_stop[station])
            time_rows["stop_sequence"].append(str(sequence))
    tables = dict(published.tables)
    tables["stops.txt"] = pa.concat_tables([stops, extra.cast(stops.schema)])
    tables["trips.txt"] = pa.table({k: pa.array(v, pa.string()) for k, v in trip_rows.items()})
    tables["stop_times.txt"] = pa.table({k: pa.array(v, pa.string()) for k, v in time_rows.items()})
    return Feed(name, tables)
