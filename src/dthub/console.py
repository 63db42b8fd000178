"""Rendering for the command line (控制台): rich tables, Beijing time, and the words operators read.

Operators read Chinese first, English second: headers are `数据集 Dataset`. Times are shown in Asia/Shanghai
time (UTC+8, no daylight saving); the store keeps UTC. Text that comes from data (paths, raw records,
details) is never parsed as rich markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dthub.hub.catalog import DatasetFigures
from dthub.hub.classification import Level
from dthub.hub.dataset import DatasetSpec
from dthub.hub.ingest import BatchResult
from dthub.hub.tables import BatchRow, QuarantineRow

try:
    SHANGHAI: timezone | ZoneInfo = ZoneInfo("Asia/Shanghai")
except ZoneInfoNotFoundError:  # no tz database: China has kept UTC+8 without DST since 1991
    SHANGHAI = timezone(timedelta(hours=8), "CST")

NONE = "—"
"""Shown for a value that does not exist yet (no landing, no read)."""

REASONS: Mapping[str, str] = {
    "pems.wrong_column_count": "字段数不符 wrong number of fields",
    "pems.bad_number": "数值无法解析 not a number",
    "pems.bad_timestamp": "时间格式错误 bad timestamp",
    "schema.missing_value": "必填字段为空 required value missing",
}
"""What a quarantine reason key means; `rule.<name>` keys are described from the rule's name."""


def make_console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr), sized from `COLUMNS` when set; make one per command."""
    return Console(stderr=stderr, highlight=False)


def local_time(value: datetime | None, *, seconds: bool = True) -> str:
    """`2022-10-04 15:00:00` in Asia/Shanghai time (to the minute unless `seconds`), or `—`."""
    if value is None:
        return NONE
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def percent(ratio: float | None) -> str:
    return NONE if ratio is None else f"{ratio:.2%}"


def reason_meaning(reason: str) -> str:
    if reason.startswith("rule."):
        return f"违反规则 rule failed: {reason.removeprefix('rule.')}"
    return REASONS.get(reason, "")


def source_name(source: str) -> str:
    """A file source by its name (`quarantine:12` stays as it is); the full path is in JSON and `show`."""
    return Path(source).name if "/" in source else source


def to_json(value: Any, *, indent: int | None = None) -> str:
    """JSON, on one line unless `indent`; times as ISO 8601 in UTC, Chinese left readable."""
    return json.dumps(value, ensure_ascii=False, indent=indent, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_NUMERIC = {
    "行数 Rows",
    "文件 Files",
    "读取 Read",
    "入湖 Landed",
    "隔离 Quarantined",
    "重复 Duplicate",
    "秒 Seconds",
    "有效率 Valid",
    "待处理隔离 Open quarantine",
    "条数 Count",
}
"""Headers of columns that hold numbers, right-aligned."""


TIMES_CAPTION = "时间为北京时间 Times are Beijing time (UTC+8)"


def _table(*headers: str, title: str | None = None, show_lines: bool = False, timed: bool = False) -> Table:
    """A table whose headers read `中文 English`, the Chinese on the first line; the first column (a name
    or an id) is never folded. A `timed` table says under it in which zone its times are."""
    table = Table(
        title=title,
        title_justify="left",
        caption=TIMES_CAPTION if timed else None,
        caption_justify="left",
        header_style="bold",
        show_lines=show_lines,
    )
    for index, header in enumerate(headers):
        justify: Literal["left", "right"] = "right" if header in _NUMERIC else "left"
        table.add_column(header.replace(" ", "\n", 1), justify=justify, overflow="fold", no_wrap=index == 0)
    return table


def _cells(*values: object) -> list[Text]:
    return [value if isinstance(value, Text) else Text(str(value)) for value in values]


# Catalog


def dataset_record(spec: DatasetSpec, figures: DatasetFigures) -> dict[str, Any]:
    """A dataset and its figures as plain data (`dthub datasets --json`)."""
    return {
        "id": spec.id,
        "domain": spec.domain,
        "title_zh": spec.title_zh,
        "title_en": spec.title_en,
        "level": spec.level.value,
        **asdict(figures),
        "valid_ratio": figures.valid_ratio,
    }


def datasets_table(specs: Sequence[DatasetSpec], figures: Mapping[str, DatasetFigures]) -> Table:
    table = _table(
        "数据集 Dataset",
        "分级 Level",
        "行数 Rows",
        "文件 Files",
        "最新事件 Latest event",
        "最近入湖 Last landing",
        "有效率 Valid",
        "待处理隔离 Open quarantine",
        show_lines=True,
        timed=True,
    )
    for spec in specs:
        fig = figures[spec.id]
        table.add_row(
            *_cells(
                f"{spec.id}\n{spec.title_zh}",
                f"{spec.level.value}\n{Level(spec.level).title_zh}",
                fig.rows,
                fig.files,
                local_time(fig.latest_event_at, seconds=False).replace(" ", "\n"),
                local_time(fig.last_landed_at, seconds=False).replace(" ", "\n"),
                percent(fig.valid_ratio),
                fig.open_quarantine,
            )
        )
    return table


# Ingest


def ingest_table(results: Sequence[BatchResult], *, title: str) -> Table:
    """One row per batch (file), then the totals."""
    table = _table(
        "文件 File",
        "状态 Status",
        "读取 Read",
        "入湖 Landed",
        "隔离 Quarantined",
        "重复 Duplicate",
        "秒 Seconds",
        title=title,
    )
    for result in results:
        table.add_row(
            *_cells(
                source_name(result.source),
                result.status,
                result.read,
                result.landed,
                result.quarantined,
                result.duplicate,
                f"{result.seconds:.2f}",
            )
        )
    if results:
        table.rows[-1].end_section = True
    table.add_row(
        *_cells(
            f"合计 Total ({len(results)})",
            "",
            sum(r.read for r in results),
            sum(r.landed for r in results),
            sum(r.quarantined for r in results),
            sum(r.duplicate for r in results),
            f"{sum(r.seconds for r in results):.2f}",
        ),
        style="bold",
    )
    return table


# Lineage


def batch_record(batch: BatchRow) -> dict[str, Any]:
    """A batch as plain data (`dthub lineage --json`)."""
    return {
        "batch_id": batch.id,
        "dataset": batch.dataset_id,
        "adapter": batch.adapter,
        "source": batch.source,
        "source_checksum": batch.source_checksum,
        "status": batch.status,
        "code_version": batch.code_version,
        "started_at": batch.started_at,
        "finished_at": batch.finished_at,
        "read": batch.rows_read,
        "landed": batch.rows_landed,
        "quarantined": batch.rows_quarantined,
        "duplicate": batch.rows_duplicate,
        "seconds": batch.seconds,
        "replay_of": batch.replay_of,
    }


STATUS_STYLES: Mapping[str, str] = {
    "committed": "green",
    "skipped": "dim",
    "running": "yellow",
    "aborted": "red",
    "open": "yellow",
    "replayed": "green",
    "discarded": "dim",
}


def lineage_log(batches: Iterable[BatchRow]) -> Text:
    """Batches as a log, four lines each: too many fields for a table a terminal can show."""
    log = Text()
    for index, batch in enumerate(batches):
        if index:
            log.append("\n")
        log.append_text(
            Text.assemble(
                ("批次 batch ", "bold"),
                (batch.id, "bold"),
                "  ",
                (batch.status, STATUS_STYLES.get(batch.status, "")),
                f"  完成 finished {local_time(batch.finished_at)} (UTC+8)\n",
                f"  {batch.dataset_id} ← {batch.adapter}  代码 code {batch.code_version}\n",
                f"  来源 source {batch.source}  sha256 {batch.source_checksum[:12]}\n",
                f"  读取 read {batch.rows_read}  入湖 landed {batch.rows_landed}  "
                f"隔离 quarantined {batch.rows_quarantined}  重复 duplicate {batch.rows_duplicate}\n",
            )
        )
    log.rstrip()
    return log


# Quarantine


def location(record: QuarantineRow) -> str:
    return NONE if record.location is None else f"{record.location_unit} {record.location}"


def quarantine_record(record: QuarantineRow) -> dict[str, Any]:
    """A quarantined record as plain data, every field (`dthub quarantine list --json`)."""
    return {
        "id": record.id,
        "status": record.status,
        "dataset": record.dataset_id,
        "adapter": record.adapter,
        "source": record.source,
        "location": record.location,
        "location_unit": record.location_unit,
        "reason": record.reason,
        "detail": record.detail,
        "raw": record.raw,
        "batch_id": record.batch_id,
        "created_at": record.created_at,
        "resolved_at": record.resolved_at,
        "resolved_by_batch": record.resolved_by_batch,
        "note": record.note,
    }


def quarantine_table(records: Iterable[QuarantineRow]) -> Table:
    table = _table(
        "ID",
        "数据集 Dataset",
        "原因 Reason",
        "来源 Source",
        "位置 Location",
        "详情 Detail",
        "状态 Status",
        "隔离时间 Quarantined",
        timed=True,
    )
    for record in records:
        table.add_row(
            *_cells(
                record.id,
                record.dataset_id,
                record.reason,
                source_name(record.source),
                location(record),
                record.detail,
                record.status,
                local_time(record.created_at),
            )
        )
    return table


def reasons_table(counts: Mapping[tuple[str, str], int]) -> Table:
    table = _table("数据集 Dataset", "原因 Reason", "含义 Meaning", "条数 Count")
    for (dataset, reason), count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        table.add_row(*_cells(dataset, reason, reason_meaning(reason), count))
    return table


def record_table(record: QuarantineRow) -> Table:
    """Every field of a record but its raw text, which is printed unwrapped below it."""
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    meaning = reason_meaning(record.reason)
    fields: list[tuple[str, object]] = [
        ("ID", record.id),
        ("状态 Status", record.status),
        ("数据集 Dataset", record.dataset_id),
        ("适配器 Adapter", record.adapter),
        ("来源 Source", record.source),
        ("位置 Location", location(record)),
        ("原因 Reason", f"{record.reason} ({meaning})" if meaning else record.reason),
        ("详情 Detail", record.detail),
        ("批次 Batch", record.batch_id),
        ("隔离时间 Quarantined (UTC+8)", local_time(record.created_at)),
        ("处理时间 Resolved (UTC+8)", local_time(record.resolved_at)),
        ("处理批次 Resolved by batch", record.resolved_by_batch or NONE),
        ("备注 Note", record.note or NONE),
    ]
    for name, value in fields:
        table.add_row(*_cells(name, value))
    return table
