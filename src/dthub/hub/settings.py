"""Settings of a hub, read from `DTHUB_*` environment variables (pydantic-settings).

Units are in the names (`_s`, `_rows`). Every setting has a description; `docs/operations.md` lists them and a
test checks that it does.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Engine = Literal["duckdb", "spark"]


class Settings(BaseSettings):
    """One hub's configuration. Paths are resolved against the working directory."""

    model_config = SettingsConfigDict(env_prefix="DTHUB_", extra="forbid", frozen=True)

    home: Path = Field(
        default=Path("var"),
        description="Home folder of the hub: the lake, the embedded database and locks live under it.",
    )
    db_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the operational store (catalog, batches, quarantine, lineage). "
            "Default: SQLite file `<home>/hub.db`. PostgreSQL: `postgresql+psycopg://user@host:5432/db`."
        ),
    )
    engine: Engine = Field(
        default="duckdb",
        description="Engine that runs Ibis expressions over the lake: `duckdb` (embedded) or `spark`.",
    )
    spark_master: str = Field(
        default="local[2]",
        description="Spark master URL when engine is `spark`: `local[N]` or a cluster (`spark://host:7077`).",
    )
    bus_url: str = Field(
        default="memory://",
        description="Stream bus: `memory://` (in-process asyncio) or `redis://host:6379/0` (Redis Streams).",
    )
    realdata: Path = Field(
        default=Path("../shared/data"),
        description="Real public datasets read by the demo, the real-data tests and the benchmarks.",
    )
    lake_file_max_rows: int = Field(
        default=1_000_000,
        gt=0,
        description="Most rows written to one Parquet file of the lake; bigger partitions are split.",
    )
    rate_limit_per_minute: int = Field(
        default=600,
        gt=0,
        description="Requests a minute each API key or person may make to the data routes, on average.",
    )
    rate_limit_burst: int = Field(
        default=60, gt=0, description="Requests each API key or person may make at once before the limit."
    )
    master_key: SecretStr | None = Field(
        default=None,
        description=(
            "Master key that wraps the SM4 data keys of encrypted fields: base64 of 16 random bytes "
            "(`python -c 'import os,base64;print(base64.b64encode(os.urandom(16)).decode())'`). "
            "Without it, a dataset with encrypted fields can be neither landed nor read plain."
        ),
    )
    master_key_id: str = Field(
        default="master-1",
        min_length=1,
        max_length=255,
        description="Public id of the master key, stored with each wrapped data key; new on rotation.",
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description=(
            "Hub secret (at least 16 bytes of text) from which each consumer's HMAC-SM3 pseudonym key is "
            "derived, for fields a dataset declares `pseudonymised_fields`. Without it, those fields are "
            "star-masked like other PII fields."
        ),
    )
    forecast_refresh_s: int = Field(
        default=300,
        ge=0,
        description=(
            "Seconds between refreshes of the road speed forecasts by `dthub serve` (each active model of "
            "the forecast registry issues its next forecasts); 0 turns the scheduled job off."
        ),
    )
    vehicles_idle_timeout_s: float = Field(
        default=180.0,
        gt=0,
        description="JT/T 808 gateway: close a connection with no complete frame this long.",
    )
    vehicles_write_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="JT/T 808 gateway: close a connection that does not take a reply this long.",
    )
    vehicles_max_connections: int = Field(
        default=20_000, gt=0, description="JT/T 808 gateway: most terminal connections open at once."
    )
    vehicles_max_frame_bytes: int = Field(
        default=2_094,
        ge=3,
        description="JT/T 808 gateway: longest frame, bytes on the wire (escaped, flags).",
    )
    vehicles_package_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="JT/T 808 gateway: give up (quarantine) a subpackaged message silent this long.",
    )
    vehicles_publish_batch: int = Field(
        default=256, gt=0, description="JT/T 808 gateway: most frames in one bus message."
    )
    vehicles_max_unpublished: int = Field(
        default=50_000,
        gt=0,
        description="JT/T 808 gateway: frames waiting for the bus before connections wait (backpressure).",
    )
    vehicles_offline_every_s: float = Field(
        default=60.0,
        gt=0,
        description="Vehicle writer: seconds between sweeps for vehicles silent in service.",
    )
    vehicles_rules_file: Path | None = Field(
        default=None,
        description=(
            "JSON file of the vehicle supervision rules (limits per vehicle class, night window, drift, "
            "offline, route deviation, geofences; `dthub.domains.vehicles.config`). Default: the reference."
        ),
    )
    vehicles_routes_file: Path | None = Field(
        default=None,
        description=(
            "GeoJSON FeatureCollection of the assigned routes of fixed-route vehicles: LineString features "
            "with a `phone` or `plate` property. Default: none."
        ),
    )
    transit_realtime_max_age_s: int = Field(
        default=300,
        ge=0,
        description=(
            "Trip planner: GTFS-RT TripUpdates older than this at the moment a plan is for (`realtime_at`, "
            "default now) are stale and not applied."
        ),
    )
    transit_timezone: str = Field(
        default="Asia/Shanghai",
        description=(
            "Trip planner: time zone of a landed GTFS feed without an agency row (`transit.agencies` gives "
            "each feed's own), in which GTFS-RT absolute times become times of the service day."
        ),
    )
    host: str = Field(default="127.0.0.1", description="Address `dthub serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `dthub serve` listens on.")

    @field_validator("transit_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None
        return value

    @field_validator("master_key")
    @classmethod
    def _sixteen_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            master_key_bytes(value.get_secret_value())
        return value

    @field_validator("pseudonym_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < PSEUDONYM_KEY_MIN_BYTES:
            raise ValueError(f"the pseudonym key is shorter than {PSEUDONYM_KEY_MIN_BYTES} bytes")
        return value

    @model_validator(mode="after")
    def _refuse_unknown_variables(self) -> Settings:
        """A misspelt `DTHUB_*` variable is an error, not a silent default."""
        known = {f"DTHUB_{name.upper()}" for name in type(self).model_fields}
        unknown = sorted(
            key for key in os.environ if key.upper().startswith("DTHUB_") and key.upper() not in known
        )
        if unknown:
            raise ValueError(f"unknown settings {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return self

    @property
    def lake_dir(self) -> Path:
        """Root of the Parquet lake: `<home>/lake/<dataset id>/date=YYYY-MM-DD/*.parquet`."""
        return self.home / "lake"

    @property
    def database_url(self) -> str:
        """The operational store URL, defaulting to SQLite under the home folder."""
        return self.db_url or f"sqlite:///{(self.home / 'hub.db').resolve()}"


MASTER_KEY_BYTES = 16
PSEUDONYM_KEY_MIN_BYTES = 16


def master_key_bytes(text: str) -> bytes:
    """The 16 bytes of a base64 master key; ValueError (without the key) for anything else."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the master key is not base64") from None
    if len(raw) != MASTER_KEY_BYTES:
        raise ValueError(f"the master key holds {len(raw)} bytes; SM4 wants {MASTER_KEY_BYTES}")
    return raw
