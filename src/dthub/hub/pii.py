"""Personal-information (个人信息) recognisers for mainland identifiers, and PII tags to suggest on ingest.

Formats are those of `reference/standards.md` 6.3: resident ID (GB 11643-1999, ISO 7064 MOD 11-2 via
`stdnum.cn.ric`), mobile numbers (a convention, not a standard), licence plates (ordinary and new-energy;
⚠️ the new-energy letter set is configurable), unified social credit codes (GB 32100-2015, `stdnum.cn.uscc`)
and VINs (ISO 3779; the check digit at position 9 is mandatory in North America only, so it is reported
apart from the format). Recognisers are pure and never raise: junk is simply not recognised.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError


class PiiKind(StrEnum):
    """A kind of personal information a column may hold; also the key of `hub.masking.MASKS`."""

    RESIDENT_ID = "resident_id"
    MOBILE = "mobile"
    PLATE = "plate"
    USCC = "uscc"
    VIN = "vin"
    NAME = "name"
    LOCATION = "location"
    """A longitude or latitude of a precise track (行踪轨迹, PIPL Art. 28)."""


class PlateKind(StrEnum):
    ORDINARY = "ordinary"
    NEV_SMALL = "nev_small"
    NEV_LARGE = "nev_large"


PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"


@dataclass(frozen=True, kw_only=True)
class PlateRules:
    """What a plate may look like; ⚠️ some cities reportedly widened the new-energy letters beyond D/F."""

    provinces: str = PROVINCES
    nev_letters: str = "DF"
    """Letters that mark a new-energy plate: D battery-electric, F other."""

    def patterns(self) -> dict[PlateKind, re.Pattern[str]]:
        head = f"[{re.escape(self.provinces)}][A-HJ-NP-Z]"
        nev = f"[{re.escape(self.nev_letters)}]"
        return {
            PlateKind.ORDINARY: re.compile(rf"{head}[A-HJ-NP-Z0-9]{{4}}[A-HJ-NP-Z0-9挂学警港澳]"),
            PlateKind.NEV_SMALL: re.compile(rf"{head}{nev}[A-HJ-NP-Z0-9][0-9]{{4}}"),
            PlateKind.NEV_LARGE: re.compile(rf"{head}[0-9]{{5}}{nev}"),
        }


DEFAULT_PLATE_RULES = PlateRules()
_DEFAULT_PLATE_PATTERNS = DEFAULT_PLATE_RULES.patterns()

MOBILE_PATTERN = re.compile(r"1[3-9][0-9]{9}")
"""⚠️ A convention (`^1[3-9]\\d{9}$`, ASCII digits), not a standard: new prefixes appear now and then."""
RESIDENT_ID_PATTERN = re.compile(r"[1-9][0-9]{16}[0-9Xx]")
VIN_PATTERN = re.compile(r"[A-HJ-NPR-Z0-9]{17}")
"""ISO 3779: 17 characters, digits and capitals without I, O and Q."""
NAME_PATTERN = re.compile(r"[\u4e00-\u9fff]{2,4}|[\u4e00-\u9fff]+(?:·[\u4e00-\u9fff]+)+")
"""A Chinese personal name: 2-4 characters, or a transliterated one with middle dots (阿沛·阿旺晋美)."""

USCC_PATTERN = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}")
"""GB 32100: registration authority and type, 6-digit area code, 9-character body, check character."""

_VIN_VALUES = dict(zip("ABCDEFGHJKLMNPRSTUVWXYZ", "12345678123457923456789", strict=True))
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def _text(value: object) -> str | None:
    """A sample value as trimmed text; None for nulls, floats and empty strings."""
    if value is None or isinstance(value, float | bool):
        return None
    text = str(value).strip()
    return text or None


def is_resident_id(value: str) -> bool:
    """18 characters, MOD 11-2 check character right, and a real birth date from 1900 on."""
    if not RESIDENT_ID_PATTERN.fullmatch(value):
        return False
    try:
        born = ric.get_birth_date(value)
    except ValidationError:
        return False
    return born >= date(1900, 1, 1) and ric.calc_check_digit(value) == value[-1].upper()


def is_mobile(value: str) -> bool:
    return MOBILE_PATTERN.fullmatch(value) is not None


def plate_kind(value: str, rules: PlateRules = DEFAULT_PLATE_RULES) -> PlateKind | None:
    """Which kind of plate `value` is, or None when it is not a plate."""
    patterns = _DEFAULT_PLATE_PATTERNS if rules is DEFAULT_PLATE_RULES else rules.patterns()
    return next((kind for kind, pattern in patterns.items() if pattern.fullmatch(value)), None)


def is_uscc(value: str) -> bool:
    """18 characters of GB 32100 with the right check character (`stdnum.cn.uscc`)."""
    return USCC_PATTERN.fullmatch(value) is not None and uscc.calc_check_digit(value) == value[-1]


def is_vin(value: str) -> bool:
    """Length and character set of ISO 3779; see `vin_check_digit_ok` for position 9."""
    return VIN_PATTERN.fullmatch(value) is not None


def vin_check_digit_ok(value: str) -> bool:
    """The ISO 3779 / FMVSS 565 check digit at position 9 (mandatory in North America, optional elsewhere)."""
    if not is_vin(value):
        return False
    total = sum(
        int(char if char.isdigit() else _VIN_VALUES[char]) * weight
        for char, weight in zip(value, _VIN_WEIGHTS, strict=True)
    )
    return value[8] == "0123456789X"[total % 11]


def is_name(value: str) -> bool:
    return NAME_PATTERN.fullmatch(value) is not None


def is_coordinate(value: object) -> bool:
    """A finite number between -180 and 180 (longitude or latitude)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool) and math.isfinite(number) and -180 <= number <= 180


NAME_HINTS: Mapping[PiiKind, tuple[str, ...]] = {
    PiiKind.RESIDENT_ID: ("身份证", "证件号", "id_card", "idcard", "id_no", "idno", "sfz", "citizen_id"),
    PiiKind.MOBILE: ("手机", "电话", "mobile", "phone", "tel", "cellphone", "msisdn"),
    PiiKind.PLATE: ("车牌", "号牌", "plate", "license_no", "vehicle_no", "cph", "hphm"),
    PiiKind.USCC: ("信用代码", "uscc", "credit_code", "tyshxydm"),
    PiiKind.VIN: ("车架号", "识别代号", "vin", "frame_no", "clsbdh"),
    PiiKind.NAME: ("姓名", "驾驶员", "联系人", "name", "driver", "owner", "xm"),
    PiiKind.LOCATION: ("经度", "纬度", "lon", "lng", "longitude", "lat", "latitude"),
}
"""Column-name hints per kind: Chinese ones match anywhere, Latin ones match a whole `_`-separated word."""

_VALUE_TESTS = {
    PiiKind.RESIDENT_ID: is_resident_id,
    PiiKind.MOBILE: is_mobile,
    PiiKind.PLATE: lambda value: plate_kind(value) is not None,
    PiiKind.USCC: is_uscc,
    PiiKind.VIN: is_vin,
    PiiKind.NAME: is_name,
}
_NEEDS_HINT = frozenset({PiiKind.NAME, PiiKind.LOCATION})
"""Kinds whose values alone prove nothing (a place name looks like a person's; a number like a speed)."""


@dataclass(frozen=True, kw_only=True)
class Suggestion:
    """A PII tag for a column, for a steward to confirm on ingest."""

    kind: PiiKind
    share: float
    """Share of the non-empty sample values that have the kind's format, 0..1."""
    confidence: float
    """The share, raised to 0.5 + share / 2 when the column name hints at the kind."""
    hinted: bool


def hinted_kinds(column_name: str) -> set[PiiKind]:
    """Kinds the column name points at (`driver_mobile` -> mobile and name, `身份证号` -> resident ID)."""
    lowered = column_name.lower()
    words = set(re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", column_name).lower()))
    return {
        kind
        for kind, hints in NAME_HINTS.items()
        if any((hint in words) if hint.isascii() else (hint in lowered) for hint in hints)
    }


def suggest_pii_tags(
    column_name: str, sample_values: Iterable[object], *, min_share: float = 0.5
) -> list[Suggestion]:
    """Kinds of personal information a column sample looks like, most confident first.

    A kind is suggested when at least `min_share` of the non-empty values match it, or when the column
    name hints at it and some value matches. Names and coordinates are only suggested with a hint.
    """
    values = [value for value in sample_values if _text(value) is not None or is_coordinate(value)]
    texts = [text for text in map(_text, values) if text is not None]
    hints = hinted_kinds(column_name)
    suggestions = []
    for kind in PiiKind:
        hinted = kind in hints
        if kind in _NEEDS_HINT and not hinted:
            continue
        if kind is PiiKind.LOCATION:
            matches, total = sum(map(is_coordinate, values)), len(values)
        else:
            matches, total = sum(map(_VALUE_TESTS[kind], texts)), len(texts)
        share = matches / total if total else 0.0
        if share >= min_share or (hinted and share > 0):
            confidence = 0.5 + share / 2 if hinted else share
            suggestions.append(Suggestion(kind=kind, share=share, confidence=confidence, hinted=hinted))
    return sorted(suggestions, key=lambda suggestion: -suggestion.confidence)
