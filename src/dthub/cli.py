"""The `dthub` command (Typer): migrate the store, read the catalog, ingest files, steward the quarantine,
trace lineage, serve the API, and build the demo.

Every command opens the hub from `DTHUB_*` settings. A user's mistake ends with one line on stderr and exit
code 2 (bad input: an unknown name, a missing file) or 1 (refused: a closed quarantine record, a replay still
refused), never with a traceback. Tables are drawn by `dthub.console`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from alembic.runtime.migration import MigrationContext
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from dthub import console as show
from dthub.demo.accounts import ACCOUNTS, ensure_accounts
from dthub.domains import DOMAINS
from dthub.domains.roads.forecast.cli import forecast_app
from dthub.hub import access_requests, audit, catalog, identity, keys, pii_tags, quarantine, query
from dthub.hub.adapter import Adapter
from dthub.hub.audit_tables import AuditLogRow
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.crypto import CryptoError, MasterKey
from dthub.hub.domain import Domain, Registry, UnknownName
from dthub.hub.identity import Role
from dthub.hub.ingest import BatchResult, ingest_bytes, ingest_file
from dthub.hub.pii import PiiKind
from dthub.hub.settings import Settings, master_key_bytes
from dthub.hub.tables import BatchRow, QuarantineRow

if TYPE_CHECKING:
    from dthub.demo.build import DemoCity

T = TypeVar("T")

app = typer.Typer(
    help="数字交通中枢 dthub: the city's digital transport hub. Settings: DTHUB_* environment variables.",
    no_args_is_help=True,
)
quarantine_app = typer.Typer(
    help="隔离区 Quarantine: records the hub refused, to inspect, fix and replay, or discard.",
    no_args_is_help=True,
)
app.add_typer(quarantine_app, name="quarantine")
access_app = typer.Typer(
    help="共享 Access: organisations, people, applications and keys; access requests, approval, grants.",
    no_args_is_help=True,
)
app.add_typer(access_app, name="access")
audit_app = typer.Typer(
    help="审计 Audit: the append-only log of logins, reads, exports, grants and changes, chained with SM3.",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")
keys_app = typer.Typer(
    help="密钥 Keys: the master key that wraps the SM4 data keys of encrypted fields.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")

BAD_INPUT, REFUSED = 2, 1
"""Exit codes: a mistake in the command line; an operation the hub refuses in its current state."""

PEMS_SAMPLE = Path("traffic/pems_raw_scalation")
"""The real PeMS sample of the demo, under `settings.realdata`."""
PEMS_FILES = "d04_text_station_5min_*.csv"
PEMS_ADAPTERS = ("pems.station_5min", "pems.stations", "pems.station_segments", "pems.detector_segments")
REAL_DATA_NOTE = (
    "真实数据：Caltrans PeMS 检测器数据（加州第 4 区，US-101 北向，2022 年），路段编号 pems:。\n"
    "Real data: Caltrans PeMS detectors (District 4, US-101 N, 2022), segment ids pems:."
)
SIMULATED_NOTE = (
    "模拟数据：天津演示城市的路网、检测器、{vehicles} 辆营运车辆、地铁与公交时刻表、公共自行车，"
    "全部为生成的模拟数据（名称带“模拟”，路段编号 tjsim-）。\n"
    "Simulated: the Tianjin demo city's road network, detectors, {vehicles} operating vehicles, metro and "
    "bus timetables ({gtfs}) and bike stations ({gbfs}) are all generated (names marked 模拟, ids tjsim-)."
)


# Plumbing: errors, settings, the hub


def fail(message: str, code: int) -> NoReturn:
    """End the command with one line on stderr."""
    line = Text.assemble(("错误 Error: ", "bold red"), message)
    show.make_console(stderr=True).print(line, soft_wrap=True)
    raise typer.Exit(code)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = "_".join(str(part) for part in error["loc"]).upper()
        fail(f"setting DTHUB_{name}: {error['msg']}", BAD_INPUT)


@contextmanager
def open_hub(settings: Settings, domains: Sequence[Domain] = DOMAINS) -> Iterator[Hub]:
    """The hub, migrated to the newest schema; closed on exit."""
    try:
        hub = Hub.open(settings, domains)
    except (SQLAlchemyError, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        fail(f"cannot open the hub at {store_url(settings)}: {first_line}", REFUSED)
    try:
        yield hub
    finally:
        hub.close()


def store_url(settings: Settings) -> str:
    """The operational store URL, its password hidden."""
    try:
        return make_url(settings.database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "an invalid DTHUB_DB_URL"


def lookup(find: Callable[[str], T], name: str) -> T:
    """`registry.adapter` or `registry.dataset`, an unknown name ending the command."""
    try:
        return find(name)
    except UnknownName as exc:
        fail(str(exc), BAD_INPUT)


def registry() -> Registry:
    """The declared domains, to check names before a hub is opened."""
    return Registry(DOMAINS)


# Commands


@app.command()
def migrate() -> None:
    """迁移 Bring the operational store to the newest schema, and say where the store and the lake are."""
    settings = load_settings()
    with open_hub(settings) as hub, hub.store.engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
    out = show.make_console()
    out.print(
        Text(f"运营库已是最新结构 The operational store is at the newest schema (revision {revision}).")
    )
    out.print(Text(f"运营库 Store: {store_url(settings)}"), soft_wrap=True)
    out.print(Text(f"数据湖 Lake:  {settings.lake_dir.resolve()}"), soft_wrap=True)


@app.command()
def datasets(
    domain: Annotated[str | None, typer.Option(help="Only the datasets of this domain, e.g. roads.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")] = False,
) -> None:
    """数据目录 The catalog: each dataset with its level, rows, files, freshness and quality."""
    known = sorted(d.name for d in registry().domains)
    if domain is not None and domain not in known:
        fail(f"unknown domain {domain!r}; known: {', '.join(known)}", BAD_INPUT)
    with open_hub(load_settings()) as hub:
        specs = [s for s in hub.registry.datasets.values() if domain in (None, s.domain)]
        figures = catalog.figures(hub.store, [spec.id for spec in specs])
    if as_json:
        typer.echo(show.to_json([show.dataset_record(s, figures[s.id]) for s in specs], indent=2))
    else:
        show.make_console().print(show.datasets_table(specs, figures))


@app.command()
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH", help="Files, or folders: then each file in it matching --glob, by name."
        ),
    ],
    adapter_name: Annotated[
        str, typer.Option("--adapter", "-a", help="Source adapter, e.g. pems.station_5min.")
    ],
    glob: Annotated[str, typer.Option(help="Files of a folder to read (a glob pattern).")] = "*",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per batch.")] = False,
    source: Annotated[
        str | None,
        typer.Option(
            help="Name the rows land under, for adapters that take one: the feed of GTFS-RT (the planner "
            "applies TripUpdates landed under a GTFS feed's name), the system of GBFS. Default: the "
            "adapter's (gtfsrt, gbfs ...)."
        ),
    ] = None,
) -> None:
    """接入 Ingest source files through an adapter into its dataset; files already committed are skipped.

    Refused records are quarantined with reason, line and raw text; that is normal, the exit code stays 0.
    """
    adapter = lookup(registry().adapter, adapter_name)
    if source is not None:
        adapter = named_source(adapter, source)
    files = source_files(paths, glob, folders_are_sources=hasattr(adapter, "for_source"))

    def echo(result: BatchResult) -> None:
        typer.echo(show.to_json(asdict(result)))

    with open_hub(load_settings()) as hub:
        results, failure = ingest_files(hub, adapter, files, on_batch=echo if as_json else None)
    if as_json:  # stdout holds JSON only
        report_quarantined(show.make_console(stderr=True), results, adapter.dataset)
    else:
        out = show.make_console()
        out.print(show.ingest_table(results, title=f"{adapter.name} → {adapter.dataset}"))
        report_quarantined(out, results, adapter.dataset)
    if failure is not None:
        fail(failure, REFUSED)


SOURCE_FIELDS = ("source", "system")
"""Adapter fields `dthub ingest --source` sets: a GTFS-RT feed, a GBFS system."""


def named_source(adapter: Adapter, name: str) -> Adapter:
    """`adapter` landing its rows under `name`; a name that is not a feed name, or an adapter that takes
    none, ends the command."""
    from dthub.domains.transit.api import is_feed_name

    if not is_feed_name(name):
        fail(f"not a source name: {name!r} (letters, digits, _ and -, e.g. subway)", BAD_INPUT)
    fields: dict[str, object] = getattr(adapter, "__dataclass_fields__", {})  # a frozen dataclass
    for field in SOURCE_FIELDS:
        if field in fields:
            named: Adapter = dataclasses.replace(adapter, **{field: name})  # type: ignore[type-var]
            return named
    fail(f"{adapter.name} takes no --source (its rows name no feed or system)", BAD_INPUT)


def source_files(paths: Sequence[Path], glob: str, *, folders_are_sources: bool = False) -> list[Path]:
    """The files named, and those of the folders named, in order; a missing path ends the command.
    With `folders_are_sources` (an adapter reading a folder as one source: a GTFS feed) a folder is kept."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir() and folders_are_sources:
            files.append(path)
        elif path.is_dir():
            found = sorted(p for p in path.glob(glob) if p.is_file())
            if not found:
                fail(f"no file matching {glob!r} in folder {path}", BAD_INPUT)
            files += found
        elif path.is_file():
            files.append(path)
        else:
            fail(f"no such file or folder: {path}", BAD_INPUT)
    return files


def ingest_files(
    hub: Hub,
    adapter: Adapter,
    files: Sequence[Path],
    *,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> tuple[list[BatchResult], str | None]:
    """Ingest each file in turn under a progress bar (on stderr) over their bytes; stop at an unreadable
    file. Returns the batches and, if it stopped, why."""
    sizes = [
        sum(f.stat().st_size for f in path.iterdir()) if path.is_dir() else path.stat().st_size
        for path in files
    ]
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[done]}/{task.fields[count]} 文件 files"),
        TextColumn("{task.fields[landed]} 行入湖 rows landed"),
        TextColumn("{task.fields[rate]:.0f} 行/秒 rows/s"),
        TimeElapsedColumn(),
        console=show.make_console(stderr=True),
    )
    results: list[BatchResult] = []
    started, landed = time.perf_counter(), 0
    with progress:
        task = progress.add_task(adapter.name, total=sum(sizes), done=0, count=len(files), landed=0, rate=0)
        for path, size in zip(files, sizes, strict=True):
            try:
                result = ingest_source(hub, adapter, path.resolve())
            except OSError as exc:
                return results, f"cannot read {path}: {exc.strerror or exc}"
            results.append(result)
            landed += result.landed
            rate = landed / max(time.perf_counter() - started, 1e-6)
            progress.update(task, advance=size, done=len(results), landed=landed, rate=rate)
            if on_batch is not None:
                on_batch(result)
    return results, None


def ingest_source(hub: Hub, adapter: Adapter, path: Path) -> BatchResult:
    """One source through `adapter`; an adapter with `for_source` (GTFS: the feed is named after its zip
    or folder, a folder packed as a zip) is bound to the source and reads it."""
    bind = getattr(adapter, "for_source", None)
    if bind is None:
        return ingest_file(hub, adapter, path)
    bound, data = bind(path)
    return ingest_bytes(hub, bound, data, source=str(path))


def report_quarantined(out: Console, results: Sequence[BatchResult], dataset: str) -> None:
    count = sum(result.quarantined for result in results)
    if count == 0:
        out.print("没有记录被隔离 Nothing was quarantined.")
        return
    out.print(
        Text(
            f"已隔离 {count} 条记录 {count} records quarantined, kept with reason and raw text. "
            f"List them: dthub quarantine list --dataset {dataset}"
        ),
        soft_wrap=True,
    )


@app.command()
def lineage(
    dataset: Annotated[str | None, typer.Option(help="Only the batches of this dataset.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Most batches shown.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of the log.")] = False,
) -> None:
    """数据血缘 Lineage: ingest batches, newest first, with source, checksum, code version and counts."""
    if dataset is not None:
        lookup(registry().dataset, dataset)
    query = select(BatchRow).order_by(BatchRow.started_at.desc(), BatchRow.id.desc()).limit(limit)
    if dataset is not None:
        query = query.where(BatchRow.dataset_id == dataset)
    with open_hub(load_settings()) as hub, hub.store.session() as session:
        batches = list(session.scalars(query))
    if as_json:
        typer.echo(show.to_json([show.batch_record(batch) for batch in batches], indent=2))
    else:
        show.make_console().print(show.lineage_log(batches), soft_wrap=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on. Default: DTHUB_HOST.")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port to listen on. Default: DTHUB_PORT.")
    ] = None,
) -> None:
    """服务 Serve the web API (uvicorn) on the hub."""
    settings = load_settings()
    run_server(settings, host or settings.host, port or settings.port)


def run_server(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from dthub.api import create_app  # imported only to serve: the other commands stay light

    url = f"http://{host}:{port}"
    show.make_console().print(Text(f"服务地址 Serving: {url}\n接口文档 API docs: {url}/docs"))
    uvicorn.run(create_app(settings), host=host, port=port)


@app.command()
def demo(
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Build the demo hub, then stop.")] = False,
    vehicles: Annotated[
        int, typer.Option(min=1, max=20_000, help="Simulated vehicles: registered, and all on the road.")
    ] = 3_000,
    gateway_port: Annotated[
        int, typer.Option(min=0, max=65535, help="JT/T 808 gateway port (0: a free one).")
    ] = 7808,
    report_every_s: Annotated[
        float, typer.Option(min=0.5, help="Seconds between a vehicle's reports.")
    ] = 30.0,
    seed: Annotated[int, typer.Option(help="Seed of the generated city.")] = 7,
) -> None:
    """演示 What `make demo` runs: the Tianjin demo city (simulated, labelled 模拟) and the real PeMS sample
    under DTHUB_REALDATA, served live.

    The city: a road network (expressway rings and radials, an arterial grid) with detectors reporting every
    5 minutes, vehicles driving it and reporting over JT/T 808 to the gateway, metro and bus timetables
    (GTFS) and bike stations (GBFS). Re-runs skip the files already committed. Ctrl-C stops everything.
    """
    import asyncio

    from dthub.demo.build import plan_city
    from dthub.demo.domain import demo_domains
    from dthub.demo.live import LiveConfig, noting_ctrl_c, serve, start_fleet, stop_fleet
    from dthub.demo.live import gateway_port as free_gateway_port

    settings = load_settings()
    out = show.make_console()
    domains = demo_domains()
    city = plan_city(vehicles=vehicles, seed=seed)
    config = LiveConfig(host=settings.host, port=settings.port, gateway_port=gateway_port, vehicles=vehicles,
                        report_every_s=report_every_s)  # fmt: skip
    try:
        port = 0 if no_serve else free_gateway_port(config)
    except OSError as exc:
        fail(f"cannot listen on {settings.host}: {exc.strerror or exc} (DTHUB_PORT, --gateway-port)", REFUSED)
    fleet = None if no_serve else start_fleet(config, port, seed)  # its imports overlap the build
    with noting_ctrl_c() as ctrl_c:
        try:
            build_demo(settings, domains, city)
        except BaseException:
            if fleet is not None:
                stop_fleet(fleet)
            if ctrl_c.noted:  # nothing half-landed is visible; the next run lands it
                fail("已中断 interrupted (Ctrl-C) while building the demo; run dthub demo again", 130)
            raise
    url = f"http://{settings.host}:{settings.port}"
    if fleet is None:
        out.print(Text(f"启动服务 To serve it: dthub serve ({url}), or dthub demo to serve it live"))
        return

    def announce(bound: int) -> None:
        out.print(
            Text(f"服务地址 Serving: {url}/console/ (API docs: {url}/docs)\n"
                 f"网关 JT/T 808 gateway: {settings.host}:{bound}; {vehicles} simulated vehicles connecting, "
                 f"a report every {report_every_s:g} s; detectors every 5 min. Ctrl-C stops.", style="bold"),
            soft_wrap=True,
        )  # fmt: skip

    try:
        asyncio.run(serve(settings, domains, city, config, port=port, fleet=fleet, announce=announce))
    except OSError as exc:
        stop_fleet(fleet)
        fail(f"cannot listen on {settings.host}: {exc.strerror or exc}", REFUSED)
    out.print(Text("已停止 Stopped."))


def build_demo(settings: Settings, domains: Sequence[Domain], city: DemoCity) -> None:
    """Land the real PeMS sample (when present) and the demo city; print what landed and the accounts."""
    from dthub.demo.build import build
    from dthub.domains.transit.landed import provision_planner

    out, err = show.make_console(), show.make_console(stderr=True)
    folder = settings.realdata / PEMS_SAMPLE
    files = sorted(p for p in folder.glob(PEMS_FILES) if p.is_file()) if folder.is_dir() else []
    with open_hub(settings, domains) as hub:
        for name in PEMS_ADAPTERS if files else ():
            adapter = hub.registry.adapter(name)
            results, failure = ingest_files(hub, adapter, files)
            out.print(show.ingest_table(results, title=f"{adapter.name} → {adapter.dataset}"))
            if failure is not None:
                fail(failure, REFUSED)
        built = build(hub, city)
        out.print(show.ingest_table(built.batches, title="演示城市（模拟） Demo city (simulated)"))
        specs = list(hub.registry.datasets.values())
        out.print(show.datasets_table(specs, catalog.figures(hub.store, [spec.id for spec in specs])))
        passwords = ensure_accounts(hub)
        provision_planner(hub, identity.consumer(hub.store, "person", ACCOUNTS[0].username))
    out.print(Text(SIMULATED_NOTE.format(vehicles=built.vehicles, gtfs=built.gtfs, gbfs=built.gbfs)))
    if files:
        out.print(Text(REAL_DATA_NOTE))
    else:
        err.print(
            Text(
                f"真实数据缺失 Real data absent: no {PEMS_FILES} in {folder.resolve()} (set DTHUB_REALDATA)."
            ),
            soft_wrap=True,
        )
    out.print(Text("演示账号 Demo accounts (console: /console/):", style="bold"))
    for account in ACCOUNTS:
        password = passwords.get(account.username, "(set before; see <home>/demo-accounts.json)")
        out.print(Text(f"  {account.username}  {password}  {account.role.value}  {account.clearance.value}"))


# Quarantine


class Status(StrEnum):
    OPEN = "open"
    REPLAYED = "replayed"
    DISCARDED = "discarded"
    ALL = "all"


StatusOption = Annotated[Status, typer.Option(help="Records in this status, or all.")]


@quarantine_app.command("list")
def list_records(
    dataset: Annotated[str | None, typer.Option(help="Only the records of this dataset.")] = None,
    reason: Annotated[str | None, typer.Option(help="Only this reason, e.g. pems.bad_number.")] = None,
    status: StatusOption = Status.OPEN,
    limit: Annotated[int, typer.Option(min=1, help="Most records shown.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: the total and the records.")] = False,
) -> None:
    """列表 List quarantined records, newest first: reason, source, line and detail."""
    if dataset is not None:
        lookup(registry().dataset, dataset)
    with open_hub(load_settings()) as hub:
        page = quarantine.list_records(
            hub,
            dataset=dataset,
            reason=reason,
            status=None if status is Status.ALL else status.value,
            limit=limit,
        )
    if as_json:
        records = [show.quarantine_record(record) for record in page.records]
        typer.echo(show.to_json({"total": page.total, "records": records}, indent=2))
        return
    out = show.make_console()
    if not page.records:
        out.print(Text(f"没有记录 No {status} records."))
        return
    out.print(show.quarantine_table(page.records))
    out.print(
        Text(f"显示 {len(page.records)} / 共 {page.total} 条 Showing {len(page.records)} of {page.total}.")
    )
    out.print(Text("查看详情 Details and raw text: dthub quarantine show ID"))


@quarantine_app.command()
def reasons(status: StatusOption = Status.OPEN) -> None:
    """原因 Count quarantined records by dataset and reason."""
    with open_hub(load_settings()) as hub:
        counts = quarantine.reasons(hub, status=None if status is Status.ALL else status.value)
    show.make_console().print(show.reasons_table(counts))


RecordId = Annotated[
    int, typer.Argument(metavar="ID", help="Quarantine record id (see: dthub quarantine list).")
]


@quarantine_app.command("show")
def show_record(record_id: RecordId) -> None:
    """详情 Show every field of a record, then its raw text as it was read."""
    with open_hub(load_settings()) as hub:
        record = get_record(hub, record_id)
    out = show.make_console()
    out.print(show.record_table(record))
    out.print(Text("原始记录 Raw text:", style="bold"))
    out.print(Text(record.raw), soft_wrap=True)
    if record.status == "open":
        out.print(
            Text(f"重放 Replay: dthub quarantine replay {record.id} --raw TEXT (or as it is, without --raw)")
        )
        out.print(Text(f"丢弃 Discard: dthub quarantine discard {record.id} --note TEXT"))


def get_record(hub: Hub, record_id: int) -> QuarantineRow:
    try:
        return quarantine.get(hub, record_id)
    except quarantine.NoSuchRecord as exc:
        fail(str(exc), BAD_INPUT)


@quarantine_app.command()
def replay(
    record_id: RecordId,
    raw: Annotated[
        str | None, typer.Option(help="Corrected raw text, replayed instead of the kept one.")
    ] = None,
) -> None:
    """重放 Replay a record through its adapter and the dataset's rules, as it is or with corrected raw text.

    Exit code 1 when it is still refused: the record stays open with the new reason.
    """
    if raw is not None and not raw.strip():
        fail("--raw is empty", BAD_INPUT)
    out = show.make_console()
    with open_hub(load_settings()) as hub:
        record = get_record(hub, record_id)
        if raw is not None and not holds_a_record(hub, record, raw):
            fail(f"--raw holds no record for {record.adapter}: {raw!r}", BAD_INPUT)
        try:
            result = quarantine.replay(hub, record_id, raw=raw)
        except quarantine.NotOpen as exc:
            fail(f"{exc}; nothing replayed (see: dthub quarantine show {record_id})", REFUSED)
        record = quarantine.get(hub, record_id)
    if record.status == "replayed" and result.landed:
        out.print(Text(f"已入湖 Landed: record {record_id}, {result.landed} row(s) into {result.dataset}."))
    elif record.status == "replayed":
        out.print(Text(f"已存在 Already landed: record {record_id} is a row {result.dataset} holds; closed."))
    else:
        fail(f"still refused 仍被拒绝: record {record_id}, {record.reason}: {record.detail}", REFUSED)
    out.print(Text(f"批次 Batch: {result.batch_id}"))


def holds_a_record(hub: Hub, record: QuarantineRow, raw: str) -> bool:
    """Whether corrected raw text parses to at least one record (a header line alone does not); text the
    adapter cannot read at all ends the command."""
    try:
        parsed = hub.registry.adapter(record.adapter).parse_raw(raw)
    except Exception as exc:  # a steward's typing must not end in a traceback
        fail(f"{record.adapter} cannot read --raw: {type(exc).__name__}: {exc}", BAD_INPUT)
    return int(parsed.rows.num_rows) + len(parsed.rejected) > 0


@quarantine_app.command()
def discard(
    record_id: RecordId,
    note: Annotated[str, typer.Option(help="Why the record should never land; kept with it.")],
) -> None:
    """丢弃 Discard a record that should never land, with a note saying why."""
    if not note.strip():
        fail("--note is empty: say why the record is discarded", BAD_INPUT)
    with open_hub(load_settings()) as hub:
        try:
            quarantine.discard(hub, record_id, note=note)
        except quarantine.NoSuchRecord as exc:
            fail(str(exc), BAD_INPUT)
        except quarantine.NotOpen as exc:
            fail(str(exc), REFUSED)
    show.make_console().print(Text(f"已丢弃 Discarded: record {record_id} ({note})."))


# Access


CLI_ACTOR = "cli"
"""Actor of the audit entries of commands that need no steward (the local shell is trusted)."""


@contextmanager
def access_step() -> Iterator[None]:
    """An identity or access refusal ends the command: 2 for a missing thing, 1 otherwise."""
    try:
        yield
    except identity.IdentityError as exc:
        fail(str(exc), BAD_INPUT if exc.reason.endswith(("not_found", "no_area")) else REFUSED)
    except access_requests.AccessError as exc:
        fail(str(exc), BAD_INPUT if exc.status in (404, 422) else REFUSED)


ClearanceOption = Annotated[Level, typer.Option(help="Highest GB/T 43697 level seen plain.")]
OrgOption = Annotated[str | None, typer.Option("--org", help="Organisation id.")]
ActorOption = Annotated[str, typer.Option("--as", help="Who acts: person:<id> of a data steward or admin.")]


@access_app.command("org-add")
def org_add(
    org_id: Annotated[str, typer.Argument(metavar="ID", help="Organisation id, e.g. heping.")],
    name: Annotated[str, typer.Option(help="Full name.")],
    kind: Annotated[str, typer.Option(help="agency, company or district.")],
    district_code: Annotated[str | None, typer.Option(help="A district's code, e.g. 120101.")] = None,
    bbox: Annotated[
        str | None, typer.Option(help="A district's box: min_lon,min_lat,max_lon,max_lat.")
    ] = None,
    vehicle: Annotated[
        list[str] | None, typer.Option(help="A company's plate or vehicle id (repeat).")
    ] = None,
) -> None:
    """机构 Add an organisation: an agency, a company (with its vehicles) or a district (code or box)."""
    if kind not in ("agency", "company", "district"):
        fail(f"--kind {kind!r}; want agency, company or district", BAD_INPUT)
    box = None
    if bbox is not None:
        try:
            box = query.parse_bbox(bbox)
        except query.QueryError as exc:
            fail(str(exc), BAD_INPUT)
    org = identity.Organisation(
        id=org_id,
        name=name,
        kind="agency" if kind == "agency" else "company" if kind == "company" else "district",
        district_code=district_code,
        bbox=box,
        vehicles=tuple(vehicle or ()),
    )
    with open_hub(load_settings()) as hub, access_step():
        identity.add_organisation(hub.store, org, by=CLI_ACTOR)
    show.make_console().print(Text(f"已添加机构 Organisation added: {org_id} ({kind})."))


ScopeOption = Annotated[
    list[str] | None,
    typer.Option(help="Datasets it may request, as patterns (repeat: --scope 'roads.*'). Default: all."),
]


@access_app.command("person-add")
def person_add(
    person_id: Annotated[str, typer.Argument(metavar="ID", help="Login name.")],
    role: Annotated[Role, typer.Option(help="What the person does.")],
    clearance: ClearanceOption,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    name: Annotated[str | None, typer.Option(help="Full name. Default: the login name.")] = None,
    org: OrgOption = None,
    scope: ScopeOption = None,
) -> None:
    """人员 Add a person who logs in with a password (stored as an argon2id hash).

    A data steward decides the requests for the datasets in their scopes (`--scope 'vehicles.*'`)."""
    with open_hub(load_settings()) as hub, access_step():
        identity.add_person(
            hub.store, person_id, name=name or person_id, password=password, role=role,
            clearance=clearance, organisation_id=org, scopes=scope or ("*",), by=CLI_ACTOR,
        )  # fmt: skip
    show.make_console().print(Text(f"已添加人员 Person added: {person_id} ({role}, {clearance})."))


@access_app.command("app-add")
def app_add(
    app_id: Annotated[str, typer.Argument(metavar="ID", help="Application id.")],
    clearance: ClearanceOption,
    name: Annotated[str | None, typer.Option(help="Full name. Default: the id.")] = None,
    org: OrgOption = None,
    scope: ScopeOption = None,
    days: Annotated[int, typer.Option(min=1, help="Days the first API key lives.")] = identity.API_KEY_DAYS,
) -> None:
    """应用 Add an application and print its first API key, once."""
    with open_hub(load_settings()) as hub, access_step():
        identity.add_application(
            hub.store, app_id, name=name or app_id, clearance=clearance, organisation_id=org,
            scopes=scope or ("*",), by=CLI_ACTOR,
        )  # fmt: skip
        issued = identity.issue_key(hub.store, app_id, days=days, by=CLI_ACTOR)
    print_key(issued)


def print_key(issued: identity.IssuedSecret) -> None:
    out = show.make_console()
    out.print(Text(f"API 密钥（仅显示一次）API key (shown once): {issued.text}"), soft_wrap=True)
    out.print(Text(f"前缀 Prefix: {issued.prefix}; 有效期至 expires: {show.local_time(issued.expires_at)}"))


@access_app.command("key-rotate")
def key_rotate(prefix: Annotated[str, typer.Argument(help="Prefix of the key to replace.")]) -> None:
    """轮换 Replace an API key: a new key is printed once, the old one is revoked."""
    with open_hub(load_settings()) as hub, access_step():
        issued = identity.rotate_key(hub.store, prefix, by=CLI_ACTOR)
    print_key(issued)


@access_app.command("key-revoke")
def key_revoke(prefix: Annotated[str, typer.Argument(help="Prefix of the key to revoke.")]) -> None:
    """吊销 Revoke an API key at once."""
    with open_hub(load_settings()) as hub, access_step():
        identity.revoke_key(hub.store, prefix, by=CLI_ACTOR)
    show.make_console().print(Text(f"已吊销 Revoked: {prefix}."))


@access_app.command("request")
def access_request(
    dataset: Annotated[str, typer.Argument(help="Dataset id.")],
    consumer: Annotated[str, typer.Option(help="Who asks: person:<id> or application:<id>.")],
    purpose: Annotated[str, typer.Option(help="What the data is for.")],
    until: Annotated[
        str, typer.Option(help="End of access, ISO 8601 with offset: 2026-12-31T00:00:00+08:00.")
    ],
) -> None:
    """申请 File an access request for a consumer."""
    try:
        expires_at = query.parse_time(until)
    except query.QueryError as exc:
        fail(str(exc), BAD_INPUT)
    with open_hub(load_settings()) as hub, access_step():
        who = identity.consumer_by_actor(hub.store, consumer)
        row = access_requests.request(hub, who, dataset, purpose=purpose, expires_at=expires_at)
    show.make_console().print(Text(f"已提交申请 Request filed: {row.id} ({consumer} → {dataset})."))


RequestArg = Annotated[int, typer.Argument(metavar="ID", help="Access request id (see: dthub access list).")]


@access_app.command()
def approve(
    request_id: RequestArg, actor: ActorOption, note: Annotated[str, typer.Option(help="Why.")]
) -> None:
    """批准 Approve a pending request, as a data steward."""
    decide_request(request_id, actor, note, approve=True)


@access_app.command()
def reject(
    request_id: RequestArg, actor: ActorOption, note: Annotated[str, typer.Option(help="Why.")]
) -> None:
    """驳回 Reject a pending request, as a data steward."""
    decide_request(request_id, actor, note, approve=False)


def decide_request(request_id: int, actor: str, note: str, *, approve: bool) -> None:
    with open_hub(load_settings()) as hub, access_step():
        steward = identity.consumer_by_actor(hub.store, actor)
        row = access_requests.decide(hub, request_id, steward, approve=approve, note=note)
    show.make_console().print(Text(f"申请 Request {request_id}: {row.status}."))


@access_app.command()
def provision(request_id: RequestArg, actor: ActorOption) -> None:
    """开通 Turn an approved request into a grant that expires when the request asked."""
    with open_hub(load_settings()) as hub, access_step():
        grant = access_requests.provision(hub, request_id, identity.consumer_by_actor(hub.store, actor))
    show.make_console().print(
        Text(f"已开通 Granted: {grant.id} ({grant.consumer} → {grant.dataset_id}, "
             f"until {show.local_time(grant.expires_at)}).")
    )  # fmt: skip


@access_app.command("revoke")
def revoke_grant(
    grant_id: Annotated[int, typer.Argument(metavar="ID", help="Grant id.")], actor: ActorOption
) -> None:
    """撤销 Revoke a grant now."""
    with open_hub(load_settings()) as hub, access_step():
        access_requests.revoke(hub, grant_id, identity.consumer_by_actor(hub.store, actor))
    show.make_console().print(Text(f"已撤销 Revoked: grant {grant_id}."))


@access_app.command("planner")
def planner_identity(
    actor: ActorOption,
    days: Annotated[int, typer.Option(min=1, help="Days each grant lives.")] = 365,
) -> None:
    """行程规划服务 Provision the trip planner's service identity (application maas-planner): a grant on each
    transit dataset it reads, requested for trip planning, approved and provisioned by the steward --as.
    Idempotent: renews only grants that are missing or expire within 30 days."""
    from dthub.domains.transit.landed import PLANNER_ID, provision_planner

    with open_hub(load_settings()) as hub, access_step():
        made = provision_planner(hub, identity.consumer_by_actor(hub.store, actor), days=days)
    out = show.make_console()
    for grant in made:
        out.print(Text(f"已开通 Granted: {grant.id} ({grant.consumer} → {grant.dataset_id})."))
    out.print(Text(f"出行规划服务 application:{PLANNER_ID}: {len(made)} grants made."))


@access_app.command("list")
def list_access(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: requests and grants.")] = False,
) -> None:
    """列表 Access requests and grants, newest first."""
    with open_hub(load_settings()) as hub:
        rows, grants = access_requests.requests(hub), access_requests.grants(hub)
    requests_out = [
        {"id": r.id, "consumer": r.consumer, "dataset": r.dataset_id, "status": r.status,
         "purpose": r.purpose, "until": r.requested_expires_at, "decided_by": r.decided_by, "note": r.note}
        for r in rows
    ]  # fmt: skip
    grants_out = [
        {"id": g.id, "consumer": g.consumer, "dataset": g.dataset_id, "until": g.expires_at,
         "revoked_at": g.revoked_at}
        for g in grants
    ]  # fmt: skip
    if as_json:
        typer.echo(show.to_json({"requests": requests_out, "grants": grants_out}, indent=2))
        return
    out = show.make_console()
    for title, records in (("申请 Requests", requests_out), ("授权 Grants", grants_out)):
        out.print(Text(title, style="bold"))
        for record in records:
            out.print(Text(show.to_json(record)), soft_wrap=True)


@access_app.command("pii-suggestions")
def pii_suggestions(
    every: Annotated[bool, typer.Option("--all", help="Confirmed and rejected ones too.")] = False,
) -> None:
    """个人信息建议 PII tags suggested on ingest for undeclared columns, for a steward to decide."""
    with open_hub(load_settings()) as hub:
        rows = pii_tags.suggestions(hub, status=None if every else "open")
    out = show.make_console()
    if not rows:
        out.print(Text("没有待确认的建议 No suggestions."))
    for row in rows:
        out.print(
            Text(f"{row.dataset_id}  {row.column}  {row.kind}  share {row.share:.2f}  "
                 f"confidence {row.confidence:.2f}  sampled {row.sampled}  {row.status}"),
            soft_wrap=True,
        )  # fmt: skip


@access_app.command("confirm-pii")
def confirm_pii(
    dataset: Annotated[str, typer.Argument(help="Dataset id.")],
    column: Annotated[str, typer.Argument(help="Column name.")],
    kind: Annotated[PiiKind, typer.Argument(help="Kind of personal information.")],
    actor: ActorOption,
    reject: Annotated[
        bool, typer.Option("--reject", help="Record that the column is not this kind.")
    ] = False,
) -> None:
    """确认 Record a steward's confirmation (or rejection) of a PII tag; audited. The declaration in the
    domain's datasets.py is not changed: update it to mask the column."""
    spec = lookup(registry().dataset, dataset)
    with open_hub(load_settings()) as hub, access_step():
        steward = identity.consumer_by_actor(hub.store, actor)
        row = pii_tags.decide(hub, spec, column, kind, steward, confirm=not reject)
    out = show.make_console()
    out.print(Text(f"已记录 Recorded: {dataset}.{column} {kind} {row.status} by {row.decided_by}."))
    out.print(Text(f"声明未改变 {pii_tags.DECLARATION_NOTE}"), soft_wrap=True)


# Roads: traffic speed forecasts (dthub.domains.roads.forecast.cli)

roads_app = typer.Typer(help="路网监测 Roads: congestion and forecasts.", no_args_is_help=True)
app.add_typer(roads_app, name="roads")
roads_app.add_typer(forecast_app, name="forecast")


# Vehicles: registry, gateway, alarms; the fleet simulator

vehicles_app = typer.Typer(
    help="车辆动态监管 Vehicles: the registry, the JT/T 808 gateway, supervision alarms.",
    no_args_is_help=True,
)
app.add_typer(vehicles_app, name="vehicles")
simulate_app = typer.Typer(help="模拟 Simulators: clearly labelled synthetic feeds.", no_args_is_help=True)
app.add_typer(simulate_app, name="simulate")


@vehicles_app.command("import-registry")
def import_registry(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: plate, plate_colour, vehicle_class, enterprise, terminal_id, phone[, auth_code]."
        ),
    ],
) -> None:
    """导入车辆档案 Import vehicles into the registry from CSV; a known phone is replaced."""
    from dthub.domains.vehicles import registry as vehicle_registry

    if not file.is_file():
        fail(f"no file {file}", BAD_INPUT)
    try:
        vehicles = vehicle_registry.parse_csv(file.read_text(encoding="utf-8-sig"))
    except vehicle_registry.RegistryError as exc:
        fail(str(exc), BAD_INPUT)
    with open_hub(load_settings()) as hub:
        count = vehicle_registry.save(hub.store, vehicles)
    show.make_console().print(Text(f"已导入 Imported: {count} vehicles from {file}."))


@vehicles_app.command()
def gateway(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (JT/T 808 terminals).")] = 7808,
    idle_timeout_s: Annotated[
        float | None,
        typer.Option(
            help="Close a connection with no frame this long. Default: DTHUB_VEHICLES_IDLE_TIMEOUT_S."
        ),
    ] = None,
    writer: Annotated[
        bool,
        typer.Option(
            help="Run the lake writer in this process too; --no-writer on a Redis bus, with "
            "`dthub vehicles writer` in another process (one core each)."
        ),
    ] = True,
) -> None:
    """网关 Run the JT/T 808 gateway and the lake writer on DTHUB_BUS_URL until interrupted; limits, rules,
    routes from DTHUB_VEHICLES_* settings."""
    import asyncio

    from dthub.domains.vehicles import registry as vehicle_registry
    from dthub.domains.vehicles.gateway import Gateway, GatewayConfig
    from dthub.domains.vehicles.writer import Writer
    from dthub.hub.bus import connect_bus

    settings = load_settings()
    if not writer and settings.bus_url.startswith("memory:"):
        fail("--no-writer needs a bus other processes read (DTHUB_BUS_URL=redis://...)", BAD_INPUT)

    async def serve(hub: Hub) -> None:
        known = vehicle_registry.load(hub.store)
        bus = connect_bus(settings.bus_url)
        overrides = {} if idle_timeout_s is None else {"idle_timeout_s": idle_timeout_s}
        server = Gateway(bus, known, GatewayConfig.from_settings(settings, **overrides))
        bound = await server.start(host, port)
        show.make_console().print(Text(f"网关 Gateway on {host}:{bound}, {len(known)} vehicles registered."))
        stop = asyncio.Event()
        try:
            if writer:
                await Writer.from_settings(hub, bus, known).run(stop)
            else:
                await stop.wait()  # until interrupted
        finally:
            await server.close()
            await bus.close()

    from dthub.domains.vehicles import eventloop
    from dthub.domains.vehicles.config import ConfigError

    with open_hub(settings) as hub, contextlib.suppress(KeyboardInterrupt):
        try:
            eventloop.run(serve(hub))  # uvloop
        except ConfigError as exc:
            fail(str(exc), BAD_INPUT)


@vehicles_app.command("writer")
def vehicles_writer() -> None:
    """入湖 Run the lake writer alone on DTHUB_BUS_URL (Redis) until interrupted: the reports of gateways
    started with --no-writer land, live state and supervision rules run here, in a process of its own."""
    import asyncio

    from dthub.domains.vehicles import eventloop
    from dthub.domains.vehicles import registry as vehicle_registry
    from dthub.domains.vehicles.config import ConfigError
    from dthub.domains.vehicles.writer import Writer
    from dthub.hub.bus import connect_bus

    settings = load_settings()
    if settings.bus_url.startswith("memory:"):
        fail("the writer alone reads a shared bus: set DTHUB_BUS_URL=redis://...", BAD_INPUT)

    async def run(hub: Hub) -> None:
        known = vehicle_registry.load(hub.store)
        bus = connect_bus(settings.bus_url)
        show.make_console().print(Text(f"入湖 Lake writer on {settings.bus_url}, {len(known)} vehicles."))
        try:
            await Writer.from_settings(hub, bus, known).run(asyncio.Event())
        finally:
            await bus.close()

    with open_hub(settings) as hub, contextlib.suppress(KeyboardInterrupt):
        try:
            eventloop.run(run(hub))
        except ConfigError as exc:
            fail(str(exc), BAD_INPUT)


@vehicles_app.command("alarms")
def list_vehicle_alarms(
    status: Annotated[str | None, typer.Option(help="new, acknowledged or handled.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Most alarms shown.")] = 50,
) -> None:
    """报警 Supervision alarms, newest first, one JSON object per line."""
    from dthub.domains.vehicles import alarms as workflow

    with open_hub(load_settings()) as hub:
        rows = workflow.list_alarms(hub.store, status=status, limit=limit)
    for row in rows:
        record = {"id": row.id, "rule": row.rule, "severity": row.severity, "plate": row.plate,
                  "started_at": row.started_at, "status": row.status, "detail": row.detail}  # fmt: skip
        typer.echo(show.to_json(record))


@vehicles_app.command("alarm-handle")
def handle_alarm(
    alarm_id: Annotated[str, typer.Argument(metavar="ID", help="Alarm id (see: dthub vehicles alarms).")],
    actor: ActorOption,
    note: Annotated[
        str | None, typer.Option(help="What was done; without it the alarm is acknowledged.")
    ] = None,
) -> None:
    """处置报警 Acknowledge an alarm, or with --note mark it handled."""
    from dthub.domains.vehicles import alarms as workflow

    with open_hub(load_settings()) as hub:
        try:
            if note is None:
                row = workflow.acknowledge(hub.store, alarm_id, by=actor)
            else:
                row = workflow.handle(hub.store, alarm_id, by=actor, note=note)
        except workflow.AlarmNotFound as exc:
            fail(str(exc), BAD_INPUT)
        except workflow.WrongStatus as exc:
            fail(str(exc), REFUSED)
    show.make_console().print(Text(f"报警 Alarm {row.id}: {row.status}."))


@vehicles_app.command("kpis")
def vehicle_kpis(
    day: Annotated[str, typer.Option(help="Local (Asia/Shanghai) day, YYYY-MM-DD.")],
) -> None:
    """考核指标 Daily KPIs per enterprise (online, track completeness, qualified, drift, violations)."""
    from datetime import date

    from dthub.domains.vehicles import kpis
    from dthub.domains.vehicles import registry as vehicle_registry
    from dthub.domains.vehicles.config import ConfigError, supervision

    try:
        when = date.fromisoformat(day)
    except ValueError:
        fail(f"--day: want YYYY-MM-DD, got {day!r}", BAD_INPUT)
    if not kpis.FIRST_DAY <= when <= kpis.LAST_DAY:
        fail(f"--day: want {kpis.FIRST_DAY} to {kpis.LAST_DAY}, got {when}", BAD_INPUT)
    settings = load_settings()
    with open_hub(settings) as hub:
        known = vehicle_registry.load(hub.store)
        try:
            configured = supervision(settings, known)
        except ConfigError as exc:
            fail(str(exc), BAD_INPUT)
        found = kpis.read_day(hub, when, vehicles=known, rules=configured.rules, config=configured.kpis)
    for record in found:
        typer.echo(show.to_json(vars(record)))


@simulate_app.command("fleet")
def simulate_fleet(
    vehicles: Annotated[int, typer.Option(min=1, help="Simulated terminals.")] = 10,
    host: Annotated[str, typer.Option(help="Gateway address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Gateway port.")] = 7808,
    seconds: Annotated[float, typer.Option(min=0.1, help="Real time to run, about.")] = 10.0,
    register: Annotated[bool, typer.Option(help="Add the simulated vehicles to the registry first.")] = True,
) -> None:
    """模拟车队 Run simulated JT/T 808 terminals (模拟运输公司 (simulated)) against a gateway."""
    from datetime import UTC, datetime

    from dthub.domains.vehicles import eventloop
    from dthub.domains.vehicles import registry as vehicle_registry
    from dthub.domains.vehicles.simulator import fleet, simulate

    terminals = fleet(vehicles)
    if register:
        with open_hub(load_settings()) as hub:
            vehicle_registry.save(hub.store, [t.vehicle for t in terminals])
    pace_s = 0.5
    fixes = max(6, int(seconds / pace_s))
    start = datetime.now(UTC).replace(microsecond=0)
    try:
        runs = eventloop.run(simulate(host, port, terminals, fixes=fixes, start=start, pace_s=pace_s))
    except OSError as exc:
        fail(f"gateway {host}:{port}: {exc}", REFUSED)
    acknowledged = sum(len(run.acknowledged) for run in runs)
    show.make_console().print(
        Text(f"模拟 Simulated: {vehicles} terminals, {acknowledged} reports acknowledged (simulated data).")
    )


# Audit


@audit_app.command("verify")
def audit_verify() -> None:
    """校验 Walk the whole audit chain; name the first entry changed, deleted or inserted (exit code 1)."""
    with open_hub(load_settings()) as hub:
        result = audit.verify(hub.store)
    out = show.make_console()
    if result.finding is not None:
        finding = result.finding
        fail(f"audit entry {finding.seq} was {finding.kind}: {finding.detail}", REFUSED)
    head = result.head
    anchor = f"; head seq {head.seq}, hash {head.hash}" if head is not None else ""
    out.print(Text(f"审计链完整 The audit chain is sound: {result.checked} entries{anchor}."), soft_wrap=True)


@audit_app.command("list")
def audit_list(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Most entries to show, newest first.")] = 20,
) -> None:
    """列表 The newest audit entries: seq, time (Beijing), actor, action, target."""
    with open_hub(load_settings()) as hub, hub.store.session() as session:
        rows = list(session.scalars(select(AuditLogRow).order_by(AuditLogRow.seq.desc()).limit(limit)))
    out = show.make_console()
    for row in rows:
        out.print(
            Text(f"{row.seq:>6}  {show.local_time(row.at)}  {row.actor}  {row.action}  {row.target}"),
            soft_wrap=True,
        )


# Keys

NEW_MASTER_KEY_VARIABLE = "DTHUB_NEW_MASTER_KEY"


@keys_app.command("rotate")
def keys_rotate(
    new_key_id: Annotated[str, typer.Option(help="Id of the new master key, e.g. master-2.")],
) -> None:
    """轮换 Rewrap every data key under a new master key read from $DTHUB_NEW_MASTER_KEY (base64 of 16
    bytes); no value is re-encrypted. Then set DTHUB_MASTER_KEY and DTHUB_MASTER_KEY_ID to the new key."""
    text = os.environ.pop(NEW_MASTER_KEY_VARIABLE, None)
    if not text:
        fail(f"set {NEW_MASTER_KEY_VARIABLE} to the new master key (base64 of 16 bytes)", BAD_INPUT)
    try:
        new = MasterKey(new_key_id, master_key_bytes(text))
    except ValueError as exc:
        fail(f"{NEW_MASTER_KEY_VARIABLE}: {exc}", BAD_INPUT)
    settings = load_settings()
    with open_hub(settings) as hub:
        try:
            rotated = keys.rotate(hub, keys.master_key(settings, needed_by="rotation"), new, by=CLI_ACTOR)
        except CryptoError as exc:
            fail(str(exc), REFUSED)
    show.make_console().print(
        Text(f"已轮换 Rotated: {rotated} data keys now wrapped by {new_key_id}; set DTHUB_MASTER_KEY and "
             f"DTHUB_MASTER_KEY_ID={new_key_id}."),
        soft_wrap=True,
    )  # fmt: skip


# Trip planning


@app.command("plan")
def plan_trip(
    origin: Annotated[str, typer.Argument(help="Stop id (`<feed>:<stop_id>` or a bare one) or `lat,lon`.")],
    destination: Annotated[str, typer.Argument(help="Stop id or `lat,lon`.")],
    day: Annotated[str, typer.Option("--date", help="Service date, YYYY-MM-DD.")],
    feed: Annotated[
        list[str], typer.Option(help="Landed GTFS feed (the `feed` of transit.*, e.g. subway), repeatable.")
    ],
    depart: Annotated[str, typer.Option("--time", help="Departure, HH:MM[:SS].")] = "08:00",
    max_transfers: Annotated[int, typer.Option(min=0, max=10)] = 4,
    walk_radius_m: Annotated[float, typer.Option(min=1, max=2000, help="Walks, m.")] = 400,
    as_json: Annotated[bool, typer.Option("--json", help="Print the OTP-like plan JSON.")] = False,
) -> None:
    """出行规划 Plan a trip over the landed GTFS feeds (RAPTOR), read as the planner's service identity
    (provisioned by `dthub access planner`), each itinerary priced; the network loads under a progress bar
    on stderr."""
    from datetime import date

    from dthub.domains.transit import planning
    from dthub.domains.transit.landed import PlannerUnavailable
    from dthub.domains.transit.plan import plan

    try:
        service_day = date.fromisoformat(day)
        departure = planning.seconds(depart)
    except ValueError as exc:
        fail(str(exc), BAD_INPUT)
    with open_hub(load_settings()) as hub:
        try:
            stderr = show.make_console(stderr=True)
            tt = planning.load_network(hub, feed, service_day, walk_radius_m=walk_radius_m,
                                       walk_speed_mps=1.2, console=stderr)  # fmt: skip
            ends = planning.place(tt, origin), planning.place(tt, destination)
        except PlannerUnavailable as exc:
            fail(exc.detail, REFUSED)
        except ValueError as exc:
            fail(str(exc), BAD_INPUT)
    answer = plan(tt, *ends, departure, access_radius_m=walk_radius_m, max_rounds=max_transfers + 1)
    if as_json:
        typer.echo(show.to_json(answer))
    else:
        show.make_console().print(planning.itineraries_table(answer))
