"""Field encryption at rest (静态加密): the SM4 data key of each dataset, wrapped by the master key.

A dataset that declares `encrypted_fields` has one data key, created on its first landing and stored only
wrapped (`data_keys`, see `hub.crypto`). Ingest encrypts those columns' values before the Parquet files
are written, each token bound to `<dataset>\\x1f<column>` (a token copied to another column does not open);
reads decrypt them again before masking, so that a reader below the field's level gets the mask of the
plaintext, and every decryption is written to the audit log (columns and counts, never values).

The master key comes from settings (`DTHUB_MASTER_KEY`, `DTHUB_MASTER_KEY_ID`) and never touches the store.
Without it nothing with encrypted fields lands or reads: `MissingMasterKey` names the setting. `rotate`
rewraps every data key under a new master key; no value is re-encrypted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy import select

from dthub.hub import audit
from dthub.hub.audit import Action
from dthub.hub.core import Hub
from dthub.hub.crypto import (
    AuthenticationFailed,
    CryptoError,
    DataKey,
    MasterKey,
    decrypt_fields,
    encrypt_fields,
    new_data_key,
    rotate_master_key,
    unwrap_data_key,
    wrap_data_key,
)
from dthub.hub.dataset import DatasetSpec
from dthub.hub.key_tables import DataKeyRow
from dthub.hub.settings import Settings, master_key_bytes
from dthub.hub.tables import utcnow


class MissingMasterKey(CryptoError):
    """A dataset has encrypted fields and `DTHUB_MASTER_KEY` is not set."""


class MissingDataKey(CryptoError):
    """Encrypted values whose dataset has no data key in the store."""


def master_key(settings: Settings, *, needed_by: str = "") -> MasterKey:
    """The master key of settings; `MissingMasterKey` (naming the setting) when it is not set."""
    if settings.master_key is None:
        raise MissingMasterKey(
            "crypto.no_master_key",
            f"{needed_by or 'this step'} needs the master key: set DTHUB_MASTER_KEY "
            "(base64 of 16 random bytes); nothing was written in plaintext",
        )
    return MasterKey(settings.master_key_id, master_key_bytes(settings.master_key.get_secret_value()))


def context(spec: DatasetSpec, column: str) -> bytes:
    """What a token of `column` is bound to (authenticated, not stored)."""
    return f"{spec.id}\x1f{column}".encode()


def data_key(hub: Hub, spec: DatasetSpec, *, create: bool = False) -> DataKey | None:
    """The dataset's data key, unwrapped; created (and stored wrapped) when absent and `create`.

    Create only with the writer lock held (ingest does), so that two writers never make two keys."""
    master = master_key(hub.settings, needed_by=f"dataset {spec.id} (encrypted fields)")
    with hub.store.session() as session:
        row = session.get(DataKeyRow, spec.id)
        if row is None:
            if not create:
                return None
            key = new_data_key()
            session.add(
                DataKeyRow(
                    dataset_id=spec.id,
                    key_id=key.id,
                    wrapped=wrap_data_key(key, master),
                    master_key_id=master.id,
                )
            )
            return key
        wrapped = row.wrapped
    try:
        return unwrap_data_key(wrapped, master)
    except AuthenticationFailed:
        raise AuthenticationFailed(
            "crypto.wrong_master_key",
            f"the data key of {spec.id} does not open with master key {master.id!r}: "
            "DTHUB_MASTER_KEY is not the key that wrapped it",
        ) from None


def check_readable(hub: Hub, spec: DatasetSpec) -> None:
    """Raise the `CryptoError` a read of `spec` would meet half-way (no master key, or not the one that
    wrapped its data key), before any row is sent; nothing when it holds no encrypted value yet."""
    if not spec.encrypted_fields:
        return
    with hub.store.session() as session:
        if session.get(DataKeyRow, spec.id) is None:
            return
    data_key(hub, spec)


def encrypt_columns(hub: Hub, spec: DatasetSpec, rows: pa.Table) -> pa.Table:
    """`rows` with each encrypted field's values replaced by SM4-GCM tokens (nulls stay null)."""
    if not spec.encrypted_fields:
        return rows
    key = data_key(hub, spec, create=True)
    assert key is not None
    for column in spec.encrypted_fields:
        bound = context(spec, column)
        values = rows[column].to_pylist()
        tokens = encrypt_fields(values, key, context=bound)
        index = rows.schema.get_field_index(column)
        rows = rows.set_column(index, rows.schema.field(column), pa.array(tokens, pa.string()))
    return rows


def decrypt_columns(hub: Hub, spec: DatasetSpec, rows: pa.Table) -> tuple[pa.Table, dict[str, int]]:
    """`rows` with the encrypted fields it holds decrypted, and the count of values decrypted per column."""
    columns = [c for c in spec.encrypted_fields if c in rows.column_names]
    if not columns or rows.num_rows == 0:
        return rows, {}
    counts: dict[str, int] = {}
    key: DataKey | None = None
    for column in columns:
        values = rows[column].to_pylist()
        counts[column] = sum(v is not None for v in values)
        if not counts[column]:
            continue
        key = key or data_key(hub, spec)
        if key is None:
            raise MissingDataKey("crypto.no_data_key", f"{spec.id} holds encrypted values and no data key")
        bound = context(spec, column)
        plain = decrypt_fields(values, key, context=bound)
        index = rows.schema.get_field_index(column)
        rows = rows.set_column(index, rows.schema.field(column), pa.array(plain, pa.string()))
    return rows, counts


def record_decryption(
    hub: Hub, actor: str, spec: DatasetSpec, counts: Mapping[str, int], *, plain: Sequence[str]
) -> None:
    """One audit entry for values decrypted for `actor`: counts per column, and which it saw plain."""
    if not any(counts.values()):
        return
    detail: dict[str, Any] = {
        "step": "decrypt",
        "values": dict(counts),
        "plain": sorted(c for c in counts if c in plain),
        "masked": sorted(c for c in counts if c not in plain),
    }
    audit.append(hub.store, actor, Action.DECRYPT, spec.id, detail)


def rotate(hub: Hub, old: MasterKey, new: MasterKey, *, by: str) -> int:
    """Rewrap every data key under `new` (same data keys, so no value is re-encrypted); returns how many.

    Keys already wrapped by `new` are left as they are, so an interrupted rotation can run again."""
    if new.id == old.id:
        raise CryptoError("crypto.same_master_key_id", f"the new master key needs a new id, not {new.id!r}")
    with hub.writer(), hub.store.session() as session:
        rows = list(session.scalars(select(DataKeyRow).order_by(DataKeyRow.dataset_id)))
        rewrapped = rotate_master_key(old, new, [row.wrapped for row in rows])
        changed = 0
        for row, wrapped in zip(rows, rewrapped, strict=True):
            if wrapped != row.wrapped:
                row.wrapped, row.master_key_id, row.rotated_at = wrapped, new.id, utcnow()
                changed += 1
    detail = {"step": "rotate_master_key", "from": old.id, "to": new.id, "data_keys": changed}
    audit.append(hub.store, by, Action.ROTATE_KEY, "data_keys", detail)
    return changed
