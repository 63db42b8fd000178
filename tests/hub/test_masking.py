"""Every mask keeps the format, hides what it must, is idempotent and never raises on junk."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dthub.hub.masking import (
    FULL,
    MASKS,
    METRES_PER_DEGREE,
    STAR,
    KeepEnds,
    UnknownMask,
    coarsen_point,
    coarsen_time,
    consumer_key,
    mask,
    mask_array,
    pseudonym,
    pseudonym_array,
)
from dthub.hub.pii import PiiKind

STYLES = [(kind, style) for kind, styles in MASKS.items() for style in styles]
KEY = bytes(range(16))


def shaped(kind: PiiKind, style: str) -> st.SearchStrategy[str]:
    """Values of the mask's own shape (stars included), as its regex generates them."""
    return st.from_regex(MASKS[kind][style].shape, fullmatch=True)


def expected(rule: KeepEnds, value: str) -> str:
    hidden = range(rule.head, len(value) - rule.tail)
    return "".join(STAR if i in hidden else char for i, char in enumerate(value))


@pytest.mark.parametrize(("kind", "style"), STYLES)
@given(data=st.data())
def test_value_of_the_shape_keeps_its_ends_and_stars_the_rest(
    kind: PiiKind, style: str, data: st.DataObject
) -> None:
    rule = MASKS[kind][style]
    value = data.draw(shaped(kind, style))
    masked = mask(kind, value, style=style)
    assert masked == expected(rule, value)
    assert rule.shape.fullmatch(masked)
    assert mask(kind, masked, style=style) == masked


@pytest.mark.parametrize(("kind", "style"), [*STYLES, *((kind, FULL) for kind in MASKS)])
@given(value=st.text())
def test_any_text_is_masked_without_leaking_and_idempotently(kind: PiiKind, style: str, value: str) -> None:
    masked = mask(kind, value, style=style)
    assert masked is not None
    assert len(masked) == len(value)
    rule = MASKS[kind].get(style)
    if rule is None or not rule.shape.fullmatch(value):
        assert masked == STAR * len(value)
    else:
        assert set(masked[rule.head : len(value) - rule.tail]) <= {STAR}
    assert mask(kind, masked, style=style) == masked


@pytest.mark.parametrize(
    ("kind", "style", "value", "masked"),
    [
        (PiiKind.MOBILE, None, "18012341999", "180****1999"),
        (PiiKind.RESIDENT_ID, None, "51010519491231001X", "5***************1X"),
        (PiiKind.RESIDENT_ID, "3+4", "11010519491231002X", "110***********002X"),
        (PiiKind.RESIDENT_ID, "6+4", "11010519491231002X", "110105********002X"),
        (PiiKind.PLATE, None, "苏D4ABC0", "苏D4***0"),
        (PiiKind.PLATE, None, "陕A12345D", "陕A1****D"),
        (PiiKind.NAME, None, "李小明", "李**"),
        (PiiKind.USCC, None, "91110000600037341L", "91************341L"),
        (PiiKind.VIN, None, "LSVAU2180N2183294", "LSV**********3294"),
        (PiiKind.MOBILE, FULL, "18012341999", "***********"),
    ],
)
def test_conventions_of_standards_6_3(kind: PiiKind, style: str | None, value: str, masked: str) -> None:
    assert mask(kind, value, style=style) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (None, None),
        ("", ""),
        ("1801234199", "**********"),  # wrong length
        ("180-1234-1999", "*************"),
        ("18O12341999", "***********"),  # a letter O
        (18012341999, "180****1999"),  # an integer column
        (1.8e10, "*" * len(str(1.8e10))),
    ],
    ids=["none", "empty", "wrong_length", "separators", "letter", "integer", "float"],
)
def test_edge_cases_of_a_mobile(value: object, masked: str | None) -> None:
    assert mask(PiiKind.MOBILE, value) == masked


def test_single_character_name_is_starred_whole() -> None:
    assert mask("name", "李") == "*"


def test_unknown_kind_or_style_names_the_key() -> None:
    with pytest.raises(UnknownMask, match="'bank_card'"):
        mask("bank_card", "6222020000000000")
    with pytest.raises(UnknownMask, match="'9\\+9'"):
        mask(PiiKind.MOBILE, "18012341999", style="9+9")
    with pytest.raises(UnknownMask):
        mask(PiiKind.LOCATION, "117.2")


def test_pseudonym_is_stable_per_key_and_joins_spellings() -> None:
    token = pseudonym(PiiKind.PLATE, "津A12345", key=KEY)
    assert token is not None
    assert re.fullmatch(r"pn:plate:[0-9a-f]{24}", token)
    assert pseudonym("plate", " 津a12345 ", key=KEY) == token
    assert pseudonym(PiiKind.PLATE, "津A12346", key=KEY) != token
    assert pseudonym(PiiKind.PLATE, "津A12345", key=bytes(16)) != token
    assert pseudonym(PiiKind.VIN, "津A12345", key=KEY) != token  # kinds are kept apart


@given(value=st.text(), kind=st.sampled_from(list(PiiKind)))
def test_pseudonym_has_its_format_and_is_idempotent(value: str, kind: PiiKind) -> None:
    token = pseudonym(kind, value, key=KEY)
    assert token == "" or (token is not None and re.fullmatch(f"pn:{kind}:[0-9a-f]{{24}}", token))
    assert pseudonym(kind, token, key=KEY) == token


def test_pseudonym_edge_cases() -> None:
    assert (pseudonym("mobile", None, key=KEY), pseudonym("mobile", "  ", key=KEY)) == (None, "")
    with pytest.raises(ValueError, match="at least 16"):
        pseudonym("mobile", "18012341999", key=b"short")


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance on the sphere `coarsen_point` uses."""
    (lon1, lat1), (lon2, lat2) = (map(math.radians, p) for p in (a, b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * math.asin(math.sqrt(h)) * METRES_PER_DEGREE * 180 / math.pi


@given(
    lon=st.floats(-180, 180),
    lat=st.floats(-85, 85),
    grid_m=st.sampled_from([1.0, 50.0, 500.0, 1000.0, 10_000.0]),
)
def test_point_snaps_within_the_grid_idempotently(lon: float, lat: float, grid_m: float) -> None:
    snapped = coarsen_point(lon, lat, grid_m=grid_m)
    assert snapped is not None
    assert metres((lon, lat), snapped) <= grid_m
    assert coarsen_point(*snapped, grid_m=grid_m) == snapped


def test_two_points_of_one_cell_share_a_centre_in_tianjin() -> None:
    assert coarsen_point(117.200983, 39.084158, grid_m=500) == coarsen_point(117.2012, 39.0843, grid_m=500)


@pytest.mark.parametrize(
    ("lon", "lat"), [(math.nan, 39.0), (117.0, math.inf), (181.0, 39.0), (117.0, -90.5)], ids=str
)
def test_junk_coordinates_are_withheld(lon: float, lat: float) -> None:
    assert coarsen_point(lon, lat, grid_m=500) is None


@given(at=st.datetimes(timezones=st.just(UTC)), minutes=st.sampled_from([1, 5, 15, 60, 1440]))
def test_time_truncates_down_to_the_step_idempotently(at: datetime, minutes: int) -> None:
    coarse = coarsen_time(at, minutes=minutes)
    assert coarse <= at < coarse + timedelta(minutes=minutes)
    assert ((coarse.hour * 60 + coarse.minute) % minutes, coarse.second, coarse.microsecond) == (0, 0, 0)
    assert coarsen_time(coarse, minutes=minutes) == coarse


def test_beijing_time_truncates_in_utc() -> None:
    at = datetime(2026, 3, 1, 8, 7, 59, 500_000, tzinfo=timezone(timedelta(hours=8)))
    assert coarsen_time(at, minutes=15) == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def test_naive_time_and_odd_steps_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        coarsen_time(datetime(2026, 3, 1, 8, 7), minutes=15)
    with pytest.raises(ValueError, match="divisor of 1440"):
        coarsen_time(datetime(2026, 3, 1, tzinfo=UTC), minutes=7)


@pytest.mark.parametrize(("kind", "style"), [*STYLES, *((kind, FULL) for kind in MASKS)])
@given(data=st.data())
def test_vectorised_masks_agree_with_the_per_value_masks(
    kind: PiiKind, style: str, data: st.DataObject
) -> None:
    rule = MASKS[kind].get(style, next(iter(MASKS[kind].values())))
    value = st.one_of(st.none(), st.text(), st.from_regex(rule.shape, fullmatch=True))
    values = data.draw(st.lists(value, max_size=20))
    assert mask_array(kind, pa.array(values, pa.string()), style=style).to_pylist() == [
        mask(kind, v, style=style) for v in values
    ]


def test_vectorised_masks_of_named_values_and_other_types() -> None:
    plates = pa.chunked_array([["津A12345", None], ["陕A12345D", "津A 12345", ""]])
    assert mask_array(PiiKind.PLATE, plates).to_pylist() == ["津A1***5", None, "陕A1****D", "*" * 8, ""]
    assert mask_array(PiiKind.NAME, pa.array(["李小明", "李"])).to_pylist() == ["李**", "*"]
    assert mask_array(PiiKind.MOBILE, pa.array([18012341999, None])).to_pylist() == ["180****1999", None]


def test_consumer_keys_keep_tokens_apart_and_columns_match_values() -> None:
    alice, bob = consumer_key(KEY, "app:alice"), consumer_key(KEY, "app:bob")
    assert alice != bob
    assert consumer_key(KEY, "app:alice") == alice
    column = pseudonym_array(PiiKind.PLATE, pa.array(["津A12345", None, "津A12345"]), key=alice)
    assert column.to_pylist() == [pseudonym(PiiKind.PLATE, "津A12345", key=alice), None, column[0].as_py()]
    with pytest.raises(ValueError, match="at least 16"):
        consumer_key(b"short", "app:alice")
