"""Bulk import (一口采集): units, grids and buildings from GeoJSON; households and persons
from the CSV or XLSX ledgers a community office keeps, with their Chinese column headers.

Two steps:
1. `read()` — no database: the file is parsed and every row checked on its own (ID number
   check digit and birth date, phone, tags, geometry validity, duplicates in the file).
   A file that cannot be read at all (not JSON, a required column missing) raises
   InvalidArgument at once.
2. `apply(conn, batch, …)` — inside one transaction: rows are checked against what is
   stored (parents, buildings, households), compared with the stored rows by natural key
   (unit code, building code, "<building>/<unit>/<room>", ID number) and only new or
   changed rows are written. Re-importing a file changes nothing. When any row is rejected
   and `allow_partial` is off, nothing is written: the report lists every rejected row
   with its reasons. What depends on what changed is brought along in the same
   transaction: buildings' grids after a grid changed, households' and persons' units,
   the search entries, and one `registry.<kind>_imported` event in the outbox.

Ledger columns (a header may carry a leading * as templates mark required ones):

    households  楼栋编码*  单元  室号*  户主姓名
    persons     姓名*  公民身份号码* (or 身份证号/身份证号码)  性别  出生日期
                联系电话 (or 手机号码)  楼栋编码  单元  室号  与户主关系  人员类别  所属社区

人员类别 lists tags separated by 、 , ; or spaces: 独居老人 残疾人 失业人员 退休人员 低保户
(低收入) 求职人员 农民工 — see vocabulary.TAG_LABELS for every accepted word.

The package: `read()` and `apply()` here; `vocabulary` (levels, tags, ledger columns),
`batch` (Batch, Rejection, Outcome, progress), and per kind the reading, the checks
against the store and the writing: `units` (and the grids they bring to buildings,
households and persons), `buildings`, `ledgers` (CSV/XLSX households and persons).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert

from lianxin.events.v1 import event_pb2
from lianxin.registry.v1 import resources_pb2 as res
from services.common import bus
from services.common.errors import InvalidArgument
from services.common.ids import uuid7
from services.registry.importer.batch import (
    MAX_REPORTED,
    SQLITE_CACHE_KIB,
    Batch,
    Outcome,
    Progress,
    _Context,
    _noop,
)
from services.registry.importer.buildings import _apply_buildings, read_buildings
from services.registry.importer.ledgers import (
    _apply_households,
    _apply_persons,
    _household_row,
    _person_row,
    _read_ledger,
    _table,
)
from services.registry.importer.units import _apply_units, _check_units, read_units
from services.registry.importer.vocabulary import HOUSEHOLD_COLUMNS, KIND_WORDS, PERSON_COLUMNS
from services.registry.store import tables

__all__ = ["Batch", "Outcome", "apply", "guess_format", "read"]


def guess_format(file_name: str) -> int:
    lower = file_name.lower()
    if lower.endswith((".geojson", ".json")):
        return res.IMPORT_FORMAT_GEOJSON
    if lower.endswith(".csv"):
        return res.IMPORT_FORMAT_CSV
    if lower.endswith(".xlsx"):
        return res.IMPORT_FORMAT_XLSX
    return res.IMPORT_FORMAT_UNSPECIFIED


def read(
    *,
    kind: int,
    fmt: int,
    file_name: str,
    content: bytes,
    progress: Progress = _noop,
    today: date | None = None,
) -> Batch:
    """Parse `content` and check each row on its own. Raises InvalidArgument when the
    file as a whole cannot be used."""
    fmt = fmt or guess_format(file_name)
    v: list[tuple[str, str]] = []
    if kind not in KIND_WORDS:
        v.append(("kind", "must be one of UNITS, BUILDINGS, HOUSEHOLDS, PERSONS"))
    if not content:
        v.append(("content", "is empty"))
    geojson_kinds = (res.IMPORT_KIND_UNITS, res.IMPORT_KIND_BUILDINGS)
    if kind in geojson_kinds and fmt != res.IMPORT_FORMAT_GEOJSON:
        v.append(("format", "units and buildings are imported from GeoJSON"))
    if kind not in geojson_kinds and fmt not in (res.IMPORT_FORMAT_CSV, res.IMPORT_FORMAT_XLSX):
        v.append(("format", "households and persons are imported from CSV or XLSX"))
    if v:
        raise InvalidArgument(v)
    if kind == res.IMPORT_KIND_UNITS:
        return read_units(_features(content), file_name=file_name, progress=progress)
    if kind == res.IMPORT_KIND_BUILDINGS:
        return read_buildings(_features(content), file_name=file_name, progress=progress)
    headers, rows = _table(fmt, content)
    if kind == res.IMPORT_KIND_HOUSEHOLDS:
        return _read_ledger(
            kind, headers, rows, HOUSEHOLD_COLUMNS, _household_row, file_name, progress, today
        )
    return _read_ledger(
        kind, headers, rows, PERSON_COLUMNS, _person_row, file_name, progress, today
    )


def _features(content: bytes) -> list[Any]:
    try:
        doc = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidArgument([("content", f"is not JSON: {exc}")]) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise InvalidArgument([("content", "must be a GeoJSON FeatureCollection")])
    features = doc.get("features")
    if not isinstance(features, list):
        raise InvalidArgument([("content", "features must be a list")])
    return features


def apply(
    conn: Connection,
    batch: Batch,
    *,
    actor: str,
    allow_partial: bool = False,
    validate_only: bool = False,
    progress: Progress = _noop,
    now: datetime,
    import_id: str | None = None,
    traceparent: str | None = None,
) -> Outcome:
    """Check `batch` against the stored data and write it, inside the caller's
    transaction. Writes nothing when `validate_only`, or when a row is rejected and
    `allow_partial` is off."""
    # The writer may run a job twice (alone, after its group rolled back): start from the
    # rows as read every time.
    batch = replace(batch, rejected=list(batch.rejected))
    ctx = _Context(allow_partial, validate_only, progress, now)
    if conn.dialect.name == "sqlite":
        # Index pages of a big import stay in memory (the default cache is 2 MB).
        conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    grid_map = None
    if ctx.stop_here(batch):
        inserted = updated = unchanged = 0
        # Still look at the rows against the store, so the report is complete.
        _check_only(conn, batch)
    elif batch.kind == res.IMPORT_KIND_UNITS:
        inserted, updated, unchanged, grid_map = _apply_units(conn, batch, ctx)
    elif batch.kind == res.IMPORT_KIND_BUILDINGS:
        inserted, updated, unchanged = _apply_buildings(conn, batch, ctx)
    elif batch.kind == res.IMPORT_KIND_HOUSEHOLDS:
        inserted, updated, unchanged = _apply_households(conn, batch, ctx)
    else:
        inserted, updated, unchanged = _apply_persons(conn, batch, ctx)
    written = not ctx.stop_here(batch)
    if not written:
        inserted = updated = unchanged = 0
    report = res.ImportReport(
        import_id=import_id or uuid7(),
        kind=batch.kind,
        total_rows=batch.total,
        inserted=inserted,
        updated=updated,
        unchanged=unchanged,
        rejected_count=len(batch.rejected),
        written=written,
    )
    for r in sorted(batch.rejected, key=lambda r: r.row)[:MAX_REPORTED]:
        report.rejected.add(
            row=r.row,
            key=r.key,
            problems=[res.RowProblem(field=f, description=d) for f, d in r.problems],
        )
    staged = False
    if written and (inserted or updated):
        conn.execute(
            insert(tables.import_runs).values(
                id=report.import_id,
                kind=batch.kind,
                actor=actor[:128],
                file_name=batch.file_name[:300],
                total_rows=batch.total,
                inserted=inserted,
                updated=updated,
                unchanged=unchanged,
                rejected=len(batch.rejected),
                written=True,
                finished_at=now,
            )
        )
        summary = res.ImportSummary(
            import_id=report.import_id,
            kind=batch.kind,
            inserted=inserted,
            updated=updated,
            rejected=len(batch.rejected),
            actor=actor,
        )
        event = bus.new_event(
            f"registry.{KIND_WORDS[batch.kind]}_imported",
            source="lianxin/registry",
            registry_imported=event_pb2.RegistryImported(summary=summary),
        )
        bus.stage(conn, tables.outbox, [bus.Staged(event, traceparent)])
        staged = True
    return Outcome(report=report, grid_map=grid_map, staged=staged)


def _check_only(conn: Connection, batch: Batch) -> None:
    """The checks against the store without writing (for the report of a refused file)."""
    ctx = _Context(allow_partial=False, validate_only=True, progress=_noop, now=datetime.now())
    if batch.kind == res.IMPORT_KIND_UNITS:
        _check_units(conn, batch)
    elif batch.kind == res.IMPORT_KIND_BUILDINGS:
        _apply_buildings(conn, batch, ctx)
    elif batch.kind == res.IMPORT_KIND_HOUSEHOLDS:
        _apply_households(conn, batch, ctx)
    else:
        _apply_persons(conn, batch, ctx)
