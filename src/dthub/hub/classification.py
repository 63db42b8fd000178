"""Data classification levels of GB/T 43697-2024 数据安全技术 数据分类分级规则.

Three levels, high to low: 核心数据 core > 重要数据 important > 一般数据 general. General data is usually
sub-graded 1-4 (Annex H, informative; 4 the most sensitive). ⚠️ the Annex H criteria were not retrieved,
so only the names live here; what each level may see is configuration of the sharing layer.
"""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    """A classification level; `rank` orders them (higher is more sensitive)."""

    CORE = "core"
    IMPORTANT = "important"
    GENERAL_4 = "general-4"
    GENERAL_3 = "general-3"
    GENERAL_2 = "general-2"
    GENERAL_1 = "general-1"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def title_zh(self) -> str:
        return _TITLE_ZH[self]


_RANK = {
    Level.GENERAL_1: 1,
    Level.GENERAL_2: 2,
    Level.GENERAL_3: 3,
    Level.GENERAL_4: 4,
    Level.IMPORTANT: 5,
    Level.CORE: 6,
}
_TITLE_ZH = {
    Level.CORE: "核心数据",
    Level.IMPORTANT: "重要数据",
    Level.GENERAL_4: "一般数据（4级）",
    Level.GENERAL_3: "一般数据（3级）",
    Level.GENERAL_2: "一般数据（2级）",
    Level.GENERAL_1: "一般数据（1级）",
}
