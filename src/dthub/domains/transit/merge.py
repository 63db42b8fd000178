"""Several GTFS feeds as one network (多源数据融合): ids namespaced by feed, the same physical stop published
by two operators linked, walking transfers between nearby stops of different feeds.

- Ids are `<feed>:<id>`: ids that collide across feeds (the MTA's LIRR and subway stop ids overlap) stay
  apart.
- Linking (同站识别): two stops of different feeds are the same physical stop when they are of the same
  location type, their names are similar (`LinkRule.min_similarity`, after normalising case, punctuation
  and common abbreviations; word order counts, numbers must be equal) and they are within
  `LinkRule.radius_m`, and each is the other's best match in that feed, so that a stop links to at most
  one stop of each other feed. The best match is the candidate with the same stop code (the code on the
  pole; the stop id where a feed has no codes), then the most similar name, then the nearest. Only stops
  without a parent (plain stops and stations) link; platforms and entrances follow their station. A stop
  is never linked to another stop of its own feed, not even through a third feed. The timetable keeps the
  first feed's stop (in the order the feeds are given) and answers the others' ids as aliases.
- Transfers (换乘): a walking transfer between every two stops (location_type 0) of different feeds within
  `transfer_radius_m` (bus stop to metro platform), at `walk_speed_mps`, straight-line distance.

The timetable (`transit.timetable.build_timetable`) takes a `Network`.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dthub.domains.transit.geo import F64, I32, I64, Strs, nearby_pairs
from dthub.domains.transit.gtfs import Feed, numbers, texts

ABBREVIATIONS = {
    "avenue": "av",
    "ave": "av",
    "street": "st",
    "road": "rd",
    "boulevard": "blvd",
    "place": "pl",
    "drive": "dr",
    "parkway": "pkwy",
    "expressway": "expwy",
    "highway": "hwy",
    "lane": "ln",
    "square": "sq",
    "east": "e",
    "west": "w",
    "north": "n",
    "south": "s",
    "and": "",
    "station": "",
    "站": "",
}
"""Words written in several ways in stop names, each mapped to one form ('' drops it)."""


@dataclass(frozen=True, kw_only=True)
class LinkRule:
    """When two stops of different feeds are the same physical stop."""

    radius_m: float = 150.0
    """At most this far apart (the MTA bus feeds place the same stop up to 148 m apart)."""
    min_similarity: float = 0.85
    """Normalised names at least this similar (difflib ratio, 1.0 equal)."""


@dataclass(frozen=True, kw_only=True)
class Network:
    """The stops of several feeds, one row per published stop in feed order, with links and transfers."""

    feeds: tuple[Feed, ...]
    stop_ids: Strs
    """`<feed>:<stop_id>` per row."""
    stop_names: Strs
    stop_lat: F64
    stop_lon: F64
    stop_feed: I32
    """Index in `feeds` of each row."""
    feed_start: I64
    """Rows of feed f are `feed_start[f]:feed_start[f + 1]`, in the order of its stops.txt."""
    linked_to: I64
    """Row each row is merged into: itself, or the stop of an earlier feed it is linked to."""
    transfer_from: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    transfer_to: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    transfer_s: I32 = field(default_factory=lambda: np.zeros(0, np.int32))
    """Walking transfers between rows of different feeds, seconds."""

    @property
    def links(self) -> list[tuple[str, str]]:
        """(stop id kept, stop id linked to it) per link."""
        rows = np.flatnonzero(self.linked_to != np.arange(len(self.linked_to)))
        return [(str(self.stop_ids[self.linked_to[r]]), str(self.stop_ids[r])) for r in rows.tolist()]


def normalise(name: str) -> str:
    """A stop name for comparison: NFKC, lower case, punctuation as spaces, abbreviations unified."""
    words = re.split(r"[\W_]+", unicodedata.normalize("NFKC", name).lower())
    return " ".join(w for w in (ABBREVIATIONS.get(word, word) for word in words) if w)


def similarity(a: str, b: str) -> float:
    """Similarity of two normalised names as written (difflib ratio): word order counts, since operators
    name a stop after the street it is on first (`WILLIS AV/E 138 ST` is not `E 138 ST/WILLIS AV`), and
    names with different numbers are not similar at all."""
    if a == b:
        return 1.0
    if re.findall(r"\d+", a) != re.findall(r"\d+", b):
        return 0.0  # W 145 ST is not W 146 ST, however alike the letters
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def merge_feeds(
    feeds: Sequence[Feed],
    *,
    rule: LinkRule | None = None,
    transfer_radius_m: float = 300.0,
    walk_speed_mps: float = 1.2,
) -> Network:
    """One network of `feeds` (names must differ): stops linked by `rule`, transfers between feeds."""
    names = [feed.name for feed in feeds]
    if len(set(names)) != len(names):
        raise ValueError(f"feeds must have distinct names, got {names}")
    ids: list[Strs] = []
    stop_names: list[Strs] = []
    lats: list[F64] = []
    lons: list[F64] = []
    codes: list[Strs] = []
    kinds: list[Strs] = []
    has_parent: list[npt.NDArray[np.bool_]] = []
    stopping: list[npt.NDArray[np.bool_]] = []
    for feed in feeds:
        raw = texts(feed.column("stops.txt", "stop_id"))
        ids.append(np.asarray([f"{feed.name}:{i}" for i in raw], dtype=object))
        stop_names.append(texts(feed.column("stops.txt", "stop_name")))
        lats.append(numbers(feed.column("stops.txt", "stop_lat")))
        lons.append(numbers(feed.column("stops.txt", "stop_lon")))
        has_parent.append(texts(feed.column("stops.txt", "parent_station")) != "")
        kind = texts(feed.column("stops.txt", "location_type"))
        kinds.append(np.where(kind == "", "0", kind))
        stopping.append(kinds[-1] == "0")
        code = texts(feed.column("stops.txt", "stop_code"))
        codes.append(np.where(code != "", code, raw))
    counts = np.asarray([len(i) for i in ids], dtype=np.int64)
    feed_start = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    stop_feed = np.repeat(np.arange(len(feeds), dtype=np.int32), counts)
    lat = np.concatenate(lats) if lats else np.zeros(0)
    lon = np.concatenate(lons) if lons else np.zeros(0)
    all_names = np.concatenate(stop_names) if stop_names else np.zeros(0, object)
    linkable = ~np.concatenate(has_parent) if has_parent else np.zeros(0, bool)
    linked_to = _link(
        all_names,
        np.concatenate(codes) if codes else np.zeros(0, object),
        np.concatenate(kinds) if kinds else np.zeros(0, object),
        lat,
        lon,
        stop_feed,
        linkable,
        rule or LinkRule(),
    )
    where_vehicles_stop = np.concatenate(stopping) if stopping else np.zeros(0, bool)
    t_from, t_to, t_s = _transfers(
        lat, lon, stop_feed, where_vehicles_stop, transfer_radius_m, walk_speed_mps
    )
    return Network(
        feeds=tuple(feeds),
        stop_ids=np.concatenate(ids) if ids else np.zeros(0, object),
        stop_names=all_names,
        stop_lat=lat,
        stop_lon=lon,
        stop_feed=stop_feed,
        feed_start=feed_start,
        linked_to=linked_to,
        transfer_from=t_from,
        transfer_to=t_to,
        transfer_s=t_s,
    )


def _link(
    names: Strs,
    codes: Strs,
    kinds: Strs,
    lat: F64,
    lon: F64,
    feed: I32,
    linkable: npt.NDArray[np.bool_],
    rule: LinkRule,
) -> I64:
    """`Network.linked_to`: mutual best matches of different feeds, joined, never two of one feed."""
    rows = np.arange(len(lat), dtype=np.int64)
    a, b, metres = nearby_pairs(lat, lon, linkable, rule.radius_m)
    other = (feed[a] != feed[b]) & (kinds[a] == kinds[b])
    a, b, metres = a[other], b[other], metres[other]
    normal: dict[int, str] = {}
    for row in np.unique(np.concatenate((a, b))).tolist():
        normal[row] = normalise(str(names[row]))
    scores = np.asarray(
        [similarity(normal[x], normal[y]) for x, y in zip(a.tolist(), b.tolist(), strict=True)]
    )
    keep = scores >= rule.min_similarity if len(scores) else np.zeros(0, bool)
    a, b, metres, scores = a[keep], b[keep], metres[keep], scores[keep]
    same_code = codes[a] == codes[b]
    # the best match of each stop in each other feed: the same code first, then most similar, then nearest
    order = np.lexsort((metres, -scores, ~same_code, feed[b], a))
    a, b = a[order], b[order]
    first = np.ones(len(a), bool)
    first[1:] = (a[1:] != a[:-1]) | (feed[b][1:] != feed[b][:-1])
    best = set(zip(a[first].tolist(), b[first].tolist(), strict=True))
    parent = rows.copy()
    members: dict[int, set[int]] = {}

    def root(x: int) -> int:
        while parent[x] != x:
            x = int(parent[x])
        return x

    for x, y in sorted(best):
        if x > y or (y, x) not in best:
            continue
        rx, ry = root(x), root(y)
        if rx == ry:
            continue
        feeds_x = members.get(rx, {int(feed[rx])})
        feeds_y = members.get(ry, {int(feed[ry])})
        if feeds_x & feeds_y:
            continue  # would join two stops of one feed
        keep_root, gone = (rx, ry) if rx < ry else (ry, rx)
        parent[gone] = keep_root
        members[keep_root] = feeds_x | feeds_y
    return np.asarray([root(int(r)) for r in rows], dtype=np.int64) if len(rows) else rows


def _transfers(
    lat: F64, lon: F64, feed: I32, stopping: npt.NDArray[np.bool_], radius_m: float, walk_speed_mps: float
) -> tuple[I64, I64, I32]:
    """Walks between stops (location_type 0) of different feeds within `radius_m`."""
    a, b, metres = nearby_pairs(lat, lon, stopping, radius_m)
    other = feed[a] != feed[b]
    seconds = np.ceil(metres[other] / walk_speed_mps).astype(np.int32)
    return a[other], b[other], seconds
