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
- twins dropped (`_twins`): a station published under two device locations with the very same times (四惠
  and 四惠东 under 1号线 and 八通线; 劲松 and 巴沟 under 10号线's lines 10 and 90) is one stop; the trips
  call at the device location with interstation edges (at its twin's GTFS stop where relations.csv
  knows only the twin, `stop_of_build`), and `Build.twins` says which serves the other's rows;
- its stations in running order (`running_order`): the interstation edges of every line give the
  track, on which the service's stations make paths (several where a train runs from one line's
  stations to another's, or where stations have no edge at all) or a loop, cut at the origin; a path
  starts at the origin or ends beside the terminus, else runs the way its trains' times advance (`lag`);
  the paths follow each other by how far behind the reference station's trains their first station's
  pass, the origin's first and the one beside the terminus last; a loop is then cut where its laps
  change (`_cut_loop`: after the station whose trains least continue to the next: 10号线's 纪家庙,
  next to the 循环站 首经贸, publishes each train twice, at the end of a lap and at the start of the next);
- the trains matched from each station to the next (`match_link`), preferring the timetables to the
  interstation file (they are what riders see): an order-keeping alignment of the two stations' times
  (trains do not overtake) that costs least, a pair costing how far its running time is from the expected
  one and a train left unmatched `SKIP_S`; the expected running time is derived from the timetables
  themselves, per train: the median running time of the `WINDOW` matched trains on either side (the
  period's: peak and off-peak differ), the first alignment made with the day's median of the in-order
  alignments (or the interstation time, or the `lag`, whichever aligns best);
- a time matched from no train starts a trip there (a short turn or a train out of the depot, 小交路),
  unless it continues a train the station before did not publish (a station that publishes only a few of
  the trains, 6号线 150996547: the train passes it, `_pass_through`); a train that no time at the next
  station or the one after continues ends there, arriving after its expected running time
  (a published departure always has a stop after it), or where its own trains do not say, after the
  running time measured on other services between the two stations (`Runs.between`: the median of their
  matched trains, on that day type, else any, else the other way along the same track, else the
  interstation time), else the shift that matches at least half its trains to the next station's
  (`lag`), else at its terminus (`_onward`);
- the terminus, which publishes no departure of its own service, is reached after the last station plus
  the running time measured (`Runs.between`), else the shift to the terminus's departures of other
  services (the train's arrival no later than its departure back, `Runs.lead`); a loop's terminus
  (循环站, 2号线 西直门) after the median lap time of the trains from the last station round to the first,
  less the run on from the terminus; where that run is not known either (10号线's 首经贸 has no
  interstation time and publishes nothing), the trip ends at the first station of the next lap.
Each published time is a stop time of one built trip, arrival = departure = the published second; the
stops added after a train's last published station are arrivals only (a trip's last stop). A trip of one
stop is no trip: the 340 departures (of 385,849) whose train's next stop nothing gives are left out:
首都机场线's 北新桥 toward T2 and T3 in the T2 loop, the only station each of those two services publishes.
`tests/domains/transit/test_beijing.py` checks every published departure against the built trips. A loop
train's laps are separate trips (as the feed's README has it: a new trip_id at the 循环站), and nothing
here links them (no block_id): a ride across the 循环站 (2号线 西直门, 10号线 首经贸) takes two.

`beijing_feed` returns a GTFS-like `Feed` (stops, routes, trips, stop_times, calendar) that
`transit.timetable.build_timetable` reads: day type 1 is the weekday service `wd` (more trains), 0 the
weekend `we`. Stations the relations file does not know (23 device locations) become stops without
coordinates, named by their device id: reachable by train, not on foot.
"""

from __future__ import annotations

import csv
import io
import itertools
import tarfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import numba
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

F = TypeVar("F", bound=Callable[..., Any])


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
    """Built trips; the running times derived where no timetable gives one (to a terminus, round a loop):
    (from, to) → seconds; the twins."""

    trips: list[Trip] = field(default_factory=list)
    run_s: dict[tuple[str, str], int] = field(default_factory=dict)
    twins: dict[tuple[Service, str], str] = field(default_factory=dict)
    """(service, device location) → the device location whose trips serve its departures: a station
    published twice in one service, under each line's device location, with the same times (四惠 and
    四惠东 under 1号线 and 八通线, 劲松 and 巴沟 under 10号线's two line folders, 10 and 90)."""


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


SKIP_S = 120
"""What leaving a train unmatched at one of two consecutive stations costs when their trains are aligned,
in seconds off the expected running time: a pair more than twice this off is two trains, not one."""

WINDOW = 4
"""Matched trains on either side whose median running time is a train's expected one (the period's)."""


@dataclass(frozen=True, kw_only=True)
class Link:
    """The trains of one service from one station to the next: `after[i]` is the index of train i's time
    at the next station (-1: not published there), `run_s[i]` its expected running time (NaN: the
    timetables do not say)."""

    after: npt.NDArray[np.int64]
    run_s: npt.NDArray[np.float64]

    def differences(self, here: list[int], there: list[int]) -> list[int]:
        """Running times of the matched trains, as published."""
        return [there[j] - here[i] for i, j in enumerate(self.after.tolist()) if j >= 0]


def build_trips(
    departures: Iterable[Departure], interstation: dict[tuple[str, str], list[tuple[str, str, int]]]
) -> Build:
    """Trips of every service (see the module docstring)."""
    services: dict[Service, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    line_of: dict[str, str] = {}
    for departure in departures:
        services[departure.service][departure.station].append(departure.time_s)
        line_of[departure.station] = departure.line
    table: dict[tuple[str, str], int] = {}
    neighbours: dict[str, set[str]] = defaultdict(set)
    for edges in interstation.values():
        for a, b, seconds in edges:
            if MIN_RUN_S <= seconds <= MAX_RUN_S:
                table.setdefault((a, b), seconds)
            neighbours[a].add(b)
            neighbours[b].add(a)
    timetables = {
        key: {st: sorted(set(times)) for st, times in stations.items()} for key, stations in services.items()
    }
    planned: dict[Service, tuple[list[str], list[Link]]] = {}
    measured: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    twins: dict[tuple[Service, str], str] = {}
    for key in sorted(timetables):
        own = timetables[key]
        for twin, station in _twins(own, neighbours).items():
            twins[(key, twin)] = station
            del own[twin]
        order = running_order(own, key[2], key[3], neighbours)
        links = [match_link(own[a], own[b], table.get((a, b))) for a, b in itertools.pairwise(order)]
        if key[2] == key[3] and len(order) > 2:
            order, links = _cut_loop(order, links, own, table)
        for (a, b), link in zip(itertools.pairwise(order), links, strict=True):
            measured[(key[0], a, b)] += link.differences(own[a], own[b])
        planned[key] = (order, links)
    published: dict[tuple[str, str], set[int]] = defaultdict(set)
    for key, stations in timetables.items():
        for station, times in stations.items():
            published[(key[0], station)].update(times)
    runs = Runs(measured, table, {key: sorted(times) for key, times in published.items()})
    build = Build(run_s=runs.found, twins=twins)
    for key in sorted(timetables):
        order, links = planned[key]
        final = runs.to_terminus(key, order, timetables[key])
        for n, chain in enumerate(_trains(key, order, timetables[key], links, runs, final)):
            day_type, half, origin, terminus, loop = key
            build.trips.append(
                Trip(
                    trip_id=f"{day_type}-{'h' if half else 'f'}-{origin}-{terminus}{loop and '-'}{loop}-{n}",
                    service=key,
                    line=line_of[chain[0][0]],
                    stops=tuple(chain),
                )
            )
    return build


def _twins(own: dict[str, list[int]], neighbours: dict[str, set[str]]) -> dict[str, str]:
    """Stations of one service published with exactly the same times as another of it (one station under
    two device locations) → the one kept: the one with interstation edges, else the first."""
    by_times: dict[tuple[int, ...], list[str]] = defaultdict(list)
    for station, times in own.items():
        by_times[tuple(times)].append(station)
    found: dict[str, str] = {}
    for stations in by_times.values():
        if len(stations) > 1:
            kept = min(stations, key=lambda station: (not neighbours.get(station), station))
            found |= {station: kept for station in stations if station != kept}
    return found


def _cut_loop(
    order: list[str], links: list[Link], own: dict[str, list[int]], table: dict[tuple[str, str], int]
) -> tuple[list[str], list[Link]]:
    """A loop's stations cut where its laps change (the 循环站, where trains are not published through: 10号线
    首经贸), not where its order happened to start: after the link, the closing one included, that matches
    the fewest of its trains, where that is under 80 % of them and a fifth fewer than the closing link."""
    closing = match_link(own[order[-1]], own[order[0]], table.get((order[-1], order[0])))
    every = [*links, closing]
    share = [  # of the trains of a station, those that continue to the next
        float((link.after >= 0).sum()) / max(1, len(own[a])) for link, a in zip(every, order, strict=True)
    ]
    weakest = int(np.argmin(share))
    if weakest == len(links) or share[weakest] >= 0.8 or share[weakest] > share[-1] - 0.2:
        return order, links
    cut = weakest + 1
    return order[cut:] + order[:cut], every[cut:] + every[: cut - 1]


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

    if len(pieces) > 1:  # by how far behind the reference station's their first station's trains pass
        pieces.sort(
            key=lambda piece: (
                0 if piece[0] == origin else 2 if terminus in neighbours.get(piece[-1], set()) else 1,
                lag(own[reference], own[piece[0]]),
                piece[0],
            )
        )
    return [station for piece in pieces for station in piece]


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


def lag(reference: list[int], times: list[int], most: int = 3 * 3600, least: int | None = None) -> float:
    """How many seconds after the trains at one station those at another pass: the shift (within `most`,
    or from `least` to `most`, in steps of 10 s) that brings the most of the first station's trains
    within 15 s of one at the second, the smallest shift among equals. Counting matches, not aligning in
    order, the two may count different trains; headways that change over the day tell the right shift
    from one a train apart."""
    return _shift(reference, times, most, least)[0]


def _shift(reference: list[int], times: list[int], most: int, least: int | None) -> tuple[float, int]:
    """`lag`, and how many of the first station's trains it matches."""
    first, second = np.asarray(reference, np.float64), np.asarray(times, np.float64)
    if len(first) == 0 or len(second) == 0:
        return 0.0, 0
    shifts = np.arange(-most if least is None else least, most + 1, 10, dtype=np.float64)
    moved = first[None, :] + shifts[:, None]
    at = np.clip(np.searchsorted(second, moved), 1, max(len(second) - 1, 1))
    nearest = np.minimum(
        np.abs(second[at - 1] - moved), np.abs(second[np.minimum(at, len(second) - 1)] - moved)
    )
    matches = (nearest <= 15).sum(axis=1)
    best = int(np.argmax(matches * 1e6 - np.abs(shifts)))
    return float(shifts[best]), int(matches[best])


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


def match_link(here: list[int], there: list[int], table_s: int | None) -> Link:
    """Trains of one service matched from a station to the next, in order (trains do not overtake): the
    alignment that costs least, a matched pair costing how far its running time is from the expected one
    and a train left unmatched `SKIP_S`. The expected running time is first one for the day, tried from
    the medians of the in-order alignments of the two stations' times (shifted by up to 4 trains) and the
    interstation time; then each train's own, the median over the `WINDOW` matched trains on either side
    (the period's running time: peak and off-peak differ), and the alignment is made again with it."""
    first, second = np.asarray(here, np.float64), np.asarray(there, np.float64)
    unmatched = Link(after=np.full(len(here), -1, np.int64), run_s=np.full(len(here), np.nan))
    if len(first) == 0 or len(second) == 0:
        return unmatched
    candidates = {table_s} if table_s is not None else set()
    differences = _alignments(first, second, 4)
    if differences is not None:
        medians = [float(np.median(row[~np.isnan(row)])) for row in differences]  # nanmedian, faster
        candidates |= {round(m) for m in medians if MIN_RUN_S <= m <= MAX_RUN_S}
    best = _best_alignment(first, second, candidates)
    if best is None or (best[1] < 0).sum() > len(first) - 0.9 * min(len(first), len(second)):
        shift = lag(here, there, MAX_RUN_S, MIN_RUN_S)  # trains a few more than 4 apart in order
        if shift not in candidates:
            other = _best_alignment(first, second, {round(shift)})
            best = other if best is None or (other is not None and other[0] < best[0]) else best
    if best is None or (best[1] < 0).all():
        return unmatched
    expected = _local_runs(first, second, best[1], WINDOW)
    after, _ = _align(first, second, expected, MIN_RUN_S, MAX_RUN_S, SKIP_S)
    if (after < 0).all():
        return unmatched
    return Link(after=after, run_s=_local_runs(first, second, after, WINDOW))


def _best_alignment(
    first: npt.NDArray[np.float64], second: npt.NDArray[np.float64], runs: set[int]
) -> tuple[float, npt.NDArray[np.int64]] | None:
    """(cost, alignment) of the expected running time among `runs` whose alignment costs least."""
    best: tuple[float, npt.NDArray[np.int64]] | None = None
    for run in sorted(runs):
        after, cost = _align(first, second, np.full(len(first), float(run)), MIN_RUN_S, MAX_RUN_S, SKIP_S)
        if best is None or cost < best[0]:
            best = (cost, after)
    return best


def _compiled(function: F) -> F:
    """`numba.njit`, cached on disk."""
    return cast(F, numba.njit(cache=True, nogil=True)(function))


@_compiled
def _align(
    here: npt.NDArray[np.float64],
    there: npt.NDArray[np.float64],
    expected: npt.NDArray[np.float64],
    least: float,
    most: float,
    skip: float,
) -> tuple[npt.NDArray[np.int64], float]:
    """The order-keeping alignment of two sorted time lists that costs least (see `match_link`): for each
    of `here`, the index of its match in `there` or -1; and the cost."""
    n, m = len(here), len(there)
    cost = np.empty((n + 1, m + 1))
    move = np.zeros((n + 1, m + 1), np.int8)
    for i in range(n + 1):
        cost[i, 0] = i * skip
        move[i, 0] = 1
    for j in range(m + 1):
        cost[0, j] = j * skip
        move[0, j] = 2
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            best, how = cost[i - 1, j] + skip, 1
            if cost[i, j - 1] + skip < best:
                best, how = cost[i, j - 1] + skip, 2
            run = there[j - 1] - here[i - 1]
            if least <= run <= most and cost[i - 1, j - 1] + abs(run - expected[i - 1]) <= best:
                best, how = cost[i - 1, j - 1] + abs(run - expected[i - 1]), 0
            cost[i, j] = best
            move[i, j] = how
    after = np.full(n, -1, np.int64)
    i, j = n, m
    while i > 0 and j > 0:
        if move[i, j] == 0:
            after[i - 1] = j - 1
            i, j = i - 1, j - 1
        elif move[i, j] == 1:
            i -= 1
        else:
            j -= 1
    return after, float(cost[n, m])


@_compiled
def _local_runs(
    here: npt.NDArray[np.float64], there: npt.NDArray[np.float64], after: npt.NDArray[np.int64], window: int
) -> npt.NDArray[np.float64]:
    """Each train's expected running time: the median of those of the `window` matched trains on either
    side of it (itself among them when matched); NaN where none is matched."""
    matched = np.flatnonzero(after >= 0)
    runs = np.full(len(here), np.nan)
    if len(matched) == 0:
        return runs
    published = there[after[matched]] - here[matched]
    for i in range(len(here)):
        at = np.searchsorted(matched, i)
        runs[i] = np.median(published[max(0, at - window) : at + window])
    return runs


@dataclass
class Runs:
    """Running times where a service's own timetables do not give one (a train that ends at a station, the
    run to a terminus, which publishes no departure of its own service), derived once per (day type, from,
    to) into `found`."""

    measured: dict[tuple[str, str, str], list[int]]
    table: dict[tuple[str, str], int]
    published: dict[tuple[str, str], list[int]]
    """(day type, station) → the times of every service there."""
    found: dict[tuple[str, str], int] = field(default_factory=dict)

    def lead(self, day_type: str, times: list[int], there: str) -> int | None:
        """The run from a station's trains to a station that publishes none of them but other services'
        departures (a terminus where trains turn back): the shift (30 s to 30 min) that brings the most
        of them within 15 s of a departure there, the shortest among equals: the train's arrival no
        later than its departure back. None unless it matches at least half of them."""
        shift, matches = _shift(times, self.published.get((day_type, there), []), MAX_RUN_S, MIN_RUN_S)
        return round(shift) if matches >= max(1, len(times) / 2) else None

    def between(self, day_type: str, here: str, there: str) -> int | None:
        """The median running time of the trains of every service matched between the two stations on that
        day type, else on any day type, else the other way along the same track, else the interstation
        time (either way); None if there is none."""
        for a, b in ((here, there), (there, here)):
            for days in ((day_type,), DAY_SERVICES):
                seen = [run for day in days for run in self.measured.get((day, a, b), [])]
                if seen:
                    return int(np.median(seen))
        return self.table.get((here, there), self.table.get((there, here)))

    def to_terminus(
        self, key: Service, order: list[str], own: dict[str, list[int]]
    ) -> tuple[str, int] | None:
        """The last stop of a service's trains after its last station, and the run to it: its terminus,
        with the run measured as in `between`. A loop's terminus (循环站) publishes nothing of its own
        service; where nothing gives the run to it, it is derived from the trains themselves: a loop train
        leaving the last station comes round to the first one (the next lap) after the run to the
        terminus and the run on from it, so the run to the terminus is the median lap time of the matched
        trains less the run on (2号线 车公庄 → 西直门). Where the run on is not known either (10号线: 首经贸
        has no interstation time and publishes nothing), the trains end at the first station of the next
        lap, after the median lap time. None where nothing says."""
        day_type, terminus, last = key[0], key[3], order[-1]
        run = self.between(day_type, last, terminus)
        if run is not None:
            self.found[(last, terminus)] = run
            return terminus, run
        if key[2] != terminus or len(order) < 2:
            run = self.lead(day_type, own[last], terminus) if len(order) > 1 else None
            if run is not None:
                self.found[(last, terminus)] = run
                return terminus, run
            return None
        lap = match_link(own[last], own[order[0]], None).differences(own[last], own[order[0]])
        if not lap:
            return None
        on = self.between(day_type, terminus, order[0])
        if on is not None and int(np.median(lap)) - on >= MIN_RUN_S:
            self.found[(last, terminus)] = int(np.median(lap)) - on
            return terminus, int(np.median(lap)) - on
        self.found[(last, order[0])] = int(np.median(lap))
        self.measured[(day_type, last, order[0])] = lap
        return order[0], int(np.median(lap))


def _trains(
    key: Service,
    order: list[str],
    own: dict[str, list[int]],
    links: list[Link],
    runs: Runs,
    final: tuple[str, int] | None,
) -> list[list[tuple[str, int]]]:
    """Trains of one service, station by station in running order, following the matches of `links`: a
    time matched from no train starts one (a train entering service there, 小交路 or out of the depot); a
    train matched to no time at the next station passes it unpublished when a time of the station after
    that, not matched from any train, is its (an order-keeping alignment on the two runs' expected
    times: a station that publishes only a few of the trains, 6号线 150996547), else it ends there,
    arriving after its expected running time (a train is published at least up to the next station)."""
    finished: list[list[tuple[str, int]]] = []
    trains: list[list[tuple[str, int]]] = [[(order[0], time)] for time in own[order[0]]]
    pending: list[tuple[list[tuple[str, int]], tuple[str, int] | None, float]] = []
    for n, station in enumerate(order[1:]):
        link, previous = links[n], order[n]
        carried: list[list[tuple[str, int]] | None] = [None] * len(own[station])
        for i, train in enumerate(trains):
            j = int(link.after[i])
            if j >= 0:
                train.append((station, own[station][j]))
                carried[j] = train
        _pass_through(pending, carried, station, own[station], link, finished)
        onward: tuple[str, int] | bool | None = False  # not yet derived
        pending = []
        for i, train in enumerate(trains):
            if int(link.after[i]) >= 0:
                continue
            stop: tuple[str, int] | None = None
            if not np.isnan(link.run_s[i]):
                stop = (station, train[-1][1] + round(float(link.run_s[i])))
            else:
                if onward is False:
                    onward = _onward(key, previous, station, own, runs)
                if isinstance(onward, tuple):
                    stop = (onward[0], train[-1][1] + onward[1])
            pending.append((train, stop, float(link.run_s[i])))
        trains = [train or [(station, own[station][j])] for j, train in enumerate(carried)]
    finished += [train + ([stop] if stop else []) for train, stop, _ in pending]
    if final is not None:
        for train in trains:
            train.append((final[0], train[-1][1] + final[1]))
    return sorted(train for train in finished + trains if len(train) > 1)  # one stop is no trip


def _pass_through(
    pending: list[tuple[list[tuple[str, int]], tuple[str, int] | None, float]],
    carried: list[list[tuple[str, int]] | None],
    station: str,
    times: list[int],
    link: Link,
    finished: list[list[tuple[str, int]]],
) -> None:
    """Trains that the station before did not publish (`pending`: each with the stop it ends at if it
    goes no further, and its expected run to that station) continue at this station's times that no
    train reached (`carried` None), where an order-keeping alignment matches them on their expected run
    to the station before plus the median run on from it (`link`'s); the others end."""
    free = [j for j, train in enumerate(carried) if train is None]
    onward = float(np.nanmedian(link.run_s)) if not np.isnan(link.run_s).all() else np.nan
    known = [p for p, (_, _, run) in enumerate(pending) if not np.isnan(run)]
    after = np.full(len(pending), -1, np.int64)
    if free and known and not np.isnan(onward):
        matched, _ = _align(
            np.asarray([pending[p][0][-1][1] for p in known], np.float64),
            np.asarray([times[j] for j in free], np.float64),
            np.asarray([pending[p][2] + onward for p in known], np.float64),
            MIN_RUN_S,
            MAX_RUN_S,
            SKIP_S,
        )
        after[known] = matched
    for p, (train, stop, _) in enumerate(pending):
        if after[p] >= 0:
            j = free[int(after[p])]
            carried[j] = train
            train.append((station, times[j]))
        else:
            finished.append(train + ([stop] if stop else []))


def _onward(
    key: Service, here: str, there: str, own: dict[str, list[int]], runs: Runs
) -> tuple[str, int] | None:
    """Where trains of a station that its own timetables do not match onward go next, and after how
    long: the next station, after the running time measured (`Runs.between`) or by how far behind the
    first station's trains the next one's pass (`lag`); else the terminus, after the running time
    measured or the shift to its departures (`Runs.lead`); None if nothing says."""
    run = runs.between(key[0], here, there)
    if run is None:
        shift, matches = _shift(own[here], own[there], MAX_RUN_S, MIN_RUN_S)
        run = round(shift) if matches >= len(own[here]) / 2 else None
    if run is not None:
        return there, run
    run = runs.between(key[0], here, key[3])
    if run is None:
        run = runs.lead(key[0], own[here], key[3])
    return None if run is None else (key[3], run)


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


def stop_of_build(relations: Path, stops: pa.Table, build: Build) -> dict[str, str]:
    """`stop_of_device`, and a device location the trips call at for its twin (`Build.twins`) that
    relations.csv does not know takes its twin's stop (巴沟 is known under line 90's device only)."""
    found = stop_of_device(relations, stops)
    for (_, twin), kept in sorted(build.twins.items()):
        if kept not in found and twin in found:
            found[kept] = found[twin]
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
    device_stop = stop_of_build(interim / "relations.csv", stops, build)
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
