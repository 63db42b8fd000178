"""Masks (脱敏) for personal information: stars that keep the format, keyed pseudonyms, coarse tracks.

Star masks follow the conventions of `reference/standards.md` 6.3 (hutool `DesensitizedUtil`; no national
standard prescribes masks). Each is a `KeepEnds`: a value of the expected shape keeps `head` leading and
`tail` trailing characters and every other character becomes `*`; a value of any other shape (wrong
length, stray characters) becomes `*` whole, so junk never leaks. A star is accepted anywhere in the shape,
which makes every mask idempotent. `MASKS` is the dispatch table; `mask(kind, value, style=...)` reads it,
and `mask_array` does the same to a whole Arrow column with pyarrow compute (same outputs, value for value).

Pseudonyms replace a value by `pn:<kind>:<24 hex>`, HMAC-SM3 under a key the caller holds: the same value
and key give the same token, so joins still work, while nobody without the key can test a guess. The hub
gives each consumer its own key (`consumer_key`), so two consumers' tokens cannot be linked.
Coarsening snaps coordinates to a grid of N metres and truncates timestamps to N minutes.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from dthub.hub.crypto import hmac_sm3
from dthub.hub.pii import PiiKind

STAR = "*"
FULL = "full"
"""The style every kind has: every character starred."""


@dataclass(frozen=True, kw_only=True)
class KeepEnds:
    """Keep `head` leading and `tail` trailing characters of a value of `shape`; star the rest."""

    shape: re.Pattern[str]
    """The whole value, a star allowed at any position."""
    head: int
    tail: int

    @property
    def style(self) -> str:
        return f"{self.head}+{self.tail}"

    def __call__(self, value: str) -> str:
        if not self.shape.fullmatch(value):
            return STAR * len(value)
        return (
            value[: self.head] + STAR * (len(value) - self.head - self.tail) + value[len(value) - self.tail :]
        )

    def arrow_shape(self) -> str | None:
        """The shape as an anchored RE2 pattern for `pc.match_substring_regex`, or None where RE2 would
        not match exactly what Python's `re` matches (Unicode `\\w`, `\\d` classes: RE2's are ASCII)."""
        pattern = self.shape.pattern
        if re.search(r"\\[wWdDsSbB]", pattern):
            return None
        return r"\A(?:" + re.sub(r"\\u([0-9a-fA-F]{4})", r"\\x{\1}", pattern) + r")\z"

    def array(self, values: pa.Array) -> pa.Array:
        """This mask over a string column, nulls kept; per value where the shape has no RE2 form."""
        pattern = self.arrow_shape()
        if pattern is None:
            return pa.array([None if v is None else self(v) for v in values.to_pylist()], type=pa.string())
        length = pc.utf8_length(values)
        middle = pc.max_element_wise(pc.subtract(length, self.head + self.tail), 0)
        head = pc.utf8_slice_codeunits(values, 0, self.head)
        tail = (
            pc.utf8_slice_codeunits(values, -self.tail)
            if self.tail
            else pc.utf8_slice_codeunits(values, 0, 0)
        )
        kept = pc.binary_join_element_wise(head, pc.binary_repeat(STAR, middle), tail, "")
        shaped = pc.match_substring_regex(values, pattern)
        return pc.if_else(shaped, kept, pc.binary_repeat(STAR, length))


def _styles(shape: str, *keep: tuple[int, int]) -> dict[str, KeepEnds]:
    """The styles of one kind, the default first."""
    masks = [KeepEnds(shape=re.compile(shape), head=head, tail=tail) for head, tail in keep]
    return {mask.style: mask for mask in masks}


MASKS: Mapping[PiiKind, Mapping[str, KeepEnds]] = {
    PiiKind.MOBILE: _styles(r"[0-9*]{11}", (3, 4)),
    PiiKind.RESIDENT_ID: _styles(r"[0-9*]{17}[0-9Xx*]", (1, 2), (3, 4), (6, 4)),
    PiiKind.PLATE: _styles(r"[\u4e00-\u9fff*][A-Z*][A-Z0-9*]{4,5}[A-Z0-9\u4e00-\u9fff*]", (3, 1)),
    PiiKind.USCC: _styles(r"[0-9A-HJ-NPQRTUWXY*]{18}", (2, 4)),
    PiiKind.VIN: _styles(r"[A-HJ-NPR-Z0-9*]{17}", (3, 4)),
    PiiKind.NAME: _styles(r"(?:[^\W\d_]|[·*]){2,}", (1, 0)),
}
"""Star masks per kind and style; the first style of each kind is its default.

- mobile `3+4`: `18012341999` -> `180****1999`
- resident ID `1+2` (also `3+4`, `6+4`): `11010519491231002X` -> `1***************2X`
- plate `3+1`, i.e. indices 3-5 of 7 characters or 3-6 of 8 hidden: `津A12345` -> `津A1***5`
- USCC `2+4`: registration authority and type, then the last three body characters and the check
- VIN `3+4`: the manufacturer (WMI) and the last four of the serial
- name `1+0`, the surname (any letters, middle dots allowed, two characters or more): `李小明` -> `李**`
"""


class UnknownMask(LookupError):
    """A kind or style that `MASKS` does not have; the message names what exists."""

    def __init__(self, kind: str, style: str | None) -> None:
        known = {str(k): [*styles, FULL] for k, styles in MASKS.items()}
        super().__init__(f"no mask {kind!r} style {style!r}; known: {known}")
        self.kind, self.style = kind, style


def mask(kind: PiiKind | str, value: object, *, style: str | None = None) -> str | None:
    """`value` masked in `style` (the kind's default when None, or `full`). None stays None; a value that is
    not text is masked as its `str()`; nothing raises on a value, only on an unknown kind or style."""
    try:
        styles = MASKS[PiiKind(kind)]
    except (ValueError, KeyError):
        raise UnknownMask(str(kind), style) from None
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if style == FULL:
        return STAR * len(text)
    chosen = styles.get(style, None) if style is not None else next(iter(styles.values()))
    if chosen is None:
        raise UnknownMask(str(kind), style)
    return chosen(text)


def mask_array(
    kind: PiiKind | str, values: pa.Array | pa.ChunkedArray, *, style: str | None = None
) -> pa.Array:
    """`mask` over a whole column, vectorised: the same output as `mask` value by value, nulls kept. A column
    that is not text is masked value by value as `str()`, as `mask` does."""
    try:
        styles = MASKS[PiiKind(kind)]
    except (ValueError, KeyError):
        raise UnknownMask(str(kind), style) from None
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return pa.array([mask(kind, v, style=style) for v in values.to_pylist()], type=pa.string())
    values = values.cast(pa.string())
    if style == FULL:
        return pc.binary_repeat(STAR, pc.utf8_length(values))
    chosen = styles.get(style, None) if style is not None else next(iter(styles.values()))
    if chosen is None:
        raise UnknownMask(str(kind), style)
    return chosen.array(values)


PSEUDONYM_HEX = 24
"""96 bits: among a billion distinct values the chance of any collision is about 6e-12."""
MIN_PSEUDONYM_KEY_BYTES = 16


def pseudonym(kind: PiiKind | str, value: str | None, *, key: bytes) -> str | None:
    """`pn:<kind>:<hex>`: HMAC-SM3(key, kind ‖ 0x1F ‖ value normalised), first 96 bits, lower-case hex.

    The value is normalised first (NFKC, trimmed, upper case), so `津a12345 ` and `津A12345` join. A token
    of this kind is returned as it is (idempotent); None stays None, and an empty value stays empty.
    """
    if len(key) < MIN_PSEUDONYM_KEY_BYTES:
        raise ValueError(f"pseudonym key of {len(key)} bytes; want at least {MIN_PSEUDONYM_KEY_BYTES}")
    kind = PiiKind(kind)
    if value is None:
        return None
    prefix = f"pn:{kind}:"
    if value.startswith(prefix) and re.fullmatch(f"[0-9a-f]{{{PSEUDONYM_HEX}}}", value[len(prefix) :]):
        return value
    normalised = unicodedata.normalize("NFKC", value).strip().upper()
    if not normalised:
        return ""
    digest = hmac_sm3(key, f"{kind}\x1f{normalised}".encode())
    return prefix + digest.hex()[:PSEUDONYM_HEX]


def consumer_key(secret: bytes, actor: str) -> bytes:
    """The pseudonym key of one consumer: HMAC-SM3(hub secret, `dthub.pseudonym` ‖ 0x1F ‖ actor), 32 bytes.

    Each consumer's tokens join across datasets (same key), while two consumers' tokens of the same value
    differ, so they cannot link what they export without the hub's secret.
    """
    if len(secret) < MIN_PSEUDONYM_KEY_BYTES:
        raise ValueError(f"pseudonym secret of {len(secret)} bytes; want at least {MIN_PSEUDONYM_KEY_BYTES}")
    return hmac_sm3(secret, f"dthub.pseudonym\x1f{actor}".encode())


def pseudonym_array(kind: PiiKind | str, values: pa.Array | pa.ChunkedArray, *, key: bytes) -> pa.Array:
    """`pseudonym` over a column, each distinct value hashed once; nulls kept."""
    tokens: dict[str, str | None] = {}
    out: list[str | None] = []
    for value in values.to_pylist():
        if value is None:
            out.append(None)
            continue
        text = value if isinstance(value, str) else str(value)
        if text not in tokens:
            tokens[text] = pseudonym(kind, text, key=key)
        out.append(tokens[text])
    return pa.array(out, type=pa.string())


METRES_PER_DEGREE = 6_371_008.8 * math.pi / 180
"""Along a meridian, on the mean Earth sphere (IUGG): about 111,195 m."""
COORDINATE_DECIMALS = 7
"""About a centimetre; snapped coordinates are rounded to it for readability."""


def coarsen_point(lon: float, lat: float, *, grid_m: float) -> tuple[float, float] | None:
    """The centre of the cell, about `grid_m` metres a side, that holds the WGS-84 point (lon, lat).

    Rows are `grid_m` of latitude; each row's cells are `grid_m` of longitude at the row's middle, so cells
    keep their size in metres away from the equator. Junk (NaN, infinite, off the globe) gives None.
    """
    lons, lats = coarsen_points(np.array([lon], dtype=float), np.array([lat], dtype=float), grid_m=grid_m)
    return None if math.isnan(lons[0]) else (float(lons[0]), float(lats[0]))


def coarsen_points(
    lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64], *, grid_m: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """`coarsen_point` over columns: the cell centres, NaN where the point is junk (or NaN, for a null)."""
    if grid_m < 1:
        raise ValueError(f"grid_m={grid_m}; want at least 1 metre")
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    lon, lat = np.where(valid, lon, 0.0), np.where(valid, lat, 0.0)
    lat_step = grid_m / METRES_PER_DEGREE
    lat_mid = np.clip((np.floor(lat / lat_step) + 0.5) * lat_step, -90.0, 90.0).round(COORDINATE_DECIMALS)
    lon_step = grid_m / (METRES_PER_DEGREE * np.maximum(np.cos(np.radians(lat_mid)), 1e-9))
    lon_mid = np.clip((np.floor(lon / lon_step) + 0.5) * lon_step, -180.0, 180.0).round(COORDINATE_DECIMALS)
    return np.where(valid, lon_mid, np.nan), np.where(valid, lat_mid, np.nan)


def coarsen_time(at: datetime, *, minutes: int) -> datetime:
    """`at` truncated to a multiple of `minutes` since midnight UTC (which `minutes` must divide).

    A naive datetime is refused (ValueError): the hub keeps UTC-aware timestamps only.
    """
    if minutes <= 0 or (24 * 60) % minutes:
        raise ValueError(f"minutes={minutes}; want a divisor of 1440 (5, 15, 60, ...)")
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: the hub keeps UTC-aware timestamps only")
    utc = at.astimezone(UTC)
    since_midnight = utc.hour * 60 + utc.minute
    midnight = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + timedelta(minutes=since_midnight - since_midnight % minutes)
