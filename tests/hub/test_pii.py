"""Recognisers accept the mainland formats of standards.md 6.3 and nothing else; suggestions rank kinds."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dthub.hub.pii import (
    PiiKind,
    PlateKind,
    PlateRules,
    Suggestion,
    hinted_kinds,
    is_mobile,
    is_resident_id,
    is_uscc,
    is_vin,
    plate_kind,
    suggest_pii_tags,
    vin_check_digit_ok,
)

GB_11643_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def with_check_character(body: str) -> str:
    """The 18th character by the formula of GB 11643 (standards.md 6.3), written out independently."""
    total = sum(int(digit) * weight for digit, weight in zip(body, GB_11643_WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def test_gb_11643_example_is_a_resident_id() -> None:
    assert is_resident_id("11010519491231002X")
    assert is_resident_id("11010519491231002x")


@given(
    area=st.integers(110000, 829999),
    born=st.dates(min_value=date(1900, 1, 1)),
    sequence=st.integers(0, 999),
)
def test_check_character_of_gb_11643_is_accepted_and_any_other_refused(
    area: int, born: date, sequence: int
) -> None:
    body = f"{area}{born:%Y%m%d}{sequence:03d}"
    valid = with_check_character(body)
    assert is_resident_id(valid)
    assert not any(is_resident_id(body + other) for other in "0123456789X" if other != valid[-1])


@pytest.mark.parametrize(
    "value",
    [
        with_check_character("11010519490231002"),  # 31 February
        with_check_character("11010518991231002"),  # born 1899
        "11010519491231002",  # 17 characters
        "01010519491231002X",  # no area code starts with 0
        "11010519491231002X ",
        "",
    ],
)
def test_resident_id_with_bad_date_length_or_area_is_refused(value: str) -> None:
    assert not is_resident_id(value)


def test_mobile_numbers_follow_the_1_3_to_9_convention() -> None:
    assert [
        is_mobile(v) for v in ["13812345678", "19912345678", "12812345678", "1381234567", "138123456789"]
    ] == [
        True,
        True,
        False,
        False,
        False,
    ]


@pytest.mark.parametrize(
    ("plate", "kind"),
    [
        ("津A12345", PlateKind.ORDINARY),
        ("苏D4ABC0", PlateKind.ORDINARY),
        ("京A1234学", PlateKind.ORDINARY),
        ("津AD12345", PlateKind.NEV_SMALL),
        ("津AFA1234", PlateKind.NEV_SMALL),
        ("陕A12345D", PlateKind.NEV_LARGE),
        ("津AI2345", None),  # I is never used
        ("津AO2345", None),
        ("津A1234", None),
        ("港A12345", None),
        ("津a12345", None),
    ],
)
def test_plate_kinds(plate: str, kind: PlateKind | None) -> None:
    assert plate_kind(plate) == kind


def test_new_energy_letters_are_configurable() -> None:
    wider = PlateRules(nev_letters="ABCDEFGHJK")
    assert (plate_kind("津AA12345"), plate_kind("津AA12345", wider)) == (None, PlateKind.NEV_SMALL)


def test_uscc_needs_its_gb_32100_check_character() -> None:
    assert is_uscc("91110000600037341L")
    assert not is_uscc("91110000600037341M")
    assert not is_uscc("91110000600037341l")
    assert not is_uscc("9111000060003734")


def test_vin_format_and_check_digit_are_reported_apart() -> None:
    assert (is_vin("1M8GDM9AXKP042788"), vin_check_digit_ok("1M8GDM9AXKP042788")) == (True, True)
    assert (is_vin("1M8GDM9A1KP042788"), vin_check_digit_ok("1M8GDM9A1KP042788")) == (True, False)
    assert not is_vin("1M8GDM9AXKP04278O")  # O is not a VIN character
    assert not is_vin("1M8GDM9AXKP04278")


def test_column_names_hint_at_kinds() -> None:
    assert hinted_kinds("driverMobile") == {PiiKind.MOBILE, PiiKind.NAME}
    assert hinted_kinds("身份证号码") == {PiiKind.RESIDENT_ID}
    assert hinted_kinds("speed_kmh") == set()


def test_mobile_column_is_suggested_with_its_share() -> None:
    sample = ["13812345678"] * 9 + ["unknown", None, ""]
    [suggestion] = suggest_pii_tags("联系电话", sample)
    assert suggestion == Suggestion(
        kind=PiiKind.MOBILE, share=0.9, confidence=suggestion.confidence, hinted=True
    )
    assert suggestion.confidence == pytest.approx(0.95)


def test_values_alone_suggest_a_resident_id_column() -> None:
    assert suggest_pii_tags("col_7", ["11010519491231002X", 110105194912310029]) == [
        Suggestion(kind=PiiKind.RESIDENT_ID, share=0.5, confidence=0.5, hinted=False)
    ]


def test_names_and_coordinates_need_a_hint() -> None:
    names = ["张伟", "王芳", "阿沛·阿旺晋美"]
    assert suggest_pii_tags("city", names) == []
    assert [s.kind for s in suggest_pii_tags("driver_name", names)] == [PiiKind.NAME]
    assert [s.kind for s in suggest_pii_tags("speed", [117.2, 39.1])] == []
    assert [s.kind for s in suggest_pii_tags("lon", [117.2, 117.3, "junk"])] == [PiiKind.LOCATION]


@pytest.mark.parametrize("sample", [[], [None, "", "   "], [float("nan")]], ids=["empty", "blank", "nan"])
def test_empty_sample_suggests_nothing(sample: list[object]) -> None:
    assert suggest_pii_tags("mobile", sample) == []


@given(st.text(), st.lists(st.one_of(st.text(), st.integers(), st.floats(), st.none())))
def test_suggestions_never_raise_on_junk(name: str, sample: list[object]) -> None:
    for suggestion in suggest_pii_tags(name, sample):
        assert 0 < suggestion.share <= suggestion.confidence <= 1
