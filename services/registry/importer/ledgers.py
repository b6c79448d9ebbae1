"""Households and persons from CSV or XLSX ledgers: reading the table, checking each row
(ID numbers, phones, tags, rooms), checking against stored buildings and households, and
writing."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from lianxin.registry.v1 import resources_pb2 as res
from services.common.errors import InvalidArgument
from services.common.ids import uuid7
from services.common.pii import mask_id_number
from services.registry import idcard
from services.registry.importer.batch import (
    BULK_ROWS,
    INSERT_CHUNK,
    Batch,
    Progress,
    Rejection,
    _Context,
    _text,
    _Ticker,
)
from services.registry.importer.vocabulary import (
    CODE,
    LANDLINE,
    MOBILE,
    REQUIRED,
    TAG_LABELS,
    TAG_NAMES,
    TAG_SPLIT,
)
from services.registry.store import helpers, search, tables


def _table(fmt: int, content: bytes) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    if fmt == res.IMPORT_FORMAT_XLSX:
        return _xlsx(content)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidArgument([("content", "is neither UTF-8 nor GB18030 text")])
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        headers = next(reader)
    except StopIteration:
        raise InvalidArgument([("content", "has no header row")]) from None
    except csv.Error as exc:
        raise InvalidArgument([("content", f"is not CSV: {exc}")]) from None

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            for values in reader:
                yield reader.line_num, list(values)
        except csv.Error as exc:
            raise InvalidArgument([(f"rows[{reader.line_num}]", f"is not CSV: {exc}")]) from None

    return headers, rows()


def _xlsx(content: bytes) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InvalidArgument([("content", f"is not an XLSX workbook: {exc}")]) from None
    ws = wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    try:
        headers = [_text(h) for h in next(it)]
    except StopIteration:
        raise InvalidArgument([("content", "the first sheet is empty")]) from None

    def rows() -> Iterator[tuple[int, list[Any]]]:
        for i, values in enumerate(it, start=2):
            yield i, list(values)
        wb.close()

    return headers, rows()


def _read_ledger(
    kind: int,
    headers: list[str],
    rows: Iterator[tuple[int, list[Any]]],
    columns: dict[str, str],
    check: Callable[..., tuple[dict[str, Any] | None, list[tuple[str, str]], str]],
    file_name: str,
    progress: Progress,
    today: date | None,
) -> Batch:
    where: dict[str, int] = {}
    label: dict[str, str] = {}
    for i, h in enumerate(headers):
        name = _text(h).lstrip("*＊").strip().replace(" ", "")
        target = columns.get(name)
        if target and target not in where:
            where[target], label[target] = i, name
    missing = [f for f in REQUIRED[kind] if f not in where]
    if missing:
        want = {f: next(h for h, t in columns.items() if t == f) for f in missing}
        raise InvalidArgument(
            [("content", f"the header row has no {want[f]} column") for f in missing]
        )
    materialised = list(rows)
    batch = Batch(kind, file_name, 0, [], label=label)
    keys: dict[str, int] = {}
    tick = _Ticker(progress, "reading", len(materialised))
    day = today or date.today()
    fields = list(where.items())
    # Every known field as stripped text ("" when absent); typed cells of a workbook
    # (numbers, dates) are passed along too, for the checks that care.
    blank = {f: "" for f in set(columns.values())}
    for line, values in materialised:
        tick.step()
        if not any(map(_text, values)):
            continue
        batch.total += 1
        n = len(values)
        cells = blank.copy()
        typed = False
        for f, i in fields:
            if i < n:
                v = values[i]
                if type(v) is str:
                    cells[f] = v.strip()
                else:
                    cells[f] = _text(v)
                    typed = typed or v is not None
        raw = {f: values[i] for f, i in fields if i < n} if typed else None
        row, problems, key = check(cells, raw, day)
        if key and key in keys and not problems:
            problems.append((_natural_key_field(kind), f"repeats row {keys[key]}"))
        if problems:
            shown = mask_id_number(key) if kind == res.IMPORT_KIND_PERSONS else key
            batch.rejected.append(
                Rejection(line, shown, [(label.get(f, f), d) for f, d in problems])
            )
            continue
        assert row is not None
        keys[key] = line
        row["_row"] = line
        batch.rows.append(row)
    return batch


def _natural_key_field(kind: int) -> str:
    return "id_number" if kind == res.IMPORT_KIND_PERSONS else "room"


def _household_key(
    cells: dict[str, str], problems: list[tuple[str, str]], *, required: bool
) -> str | None:
    building, unit, room = cells["building_code"], cells["unit_number"], cells["room"]
    if not required and not building and not room and not unit:
        return None
    if not CODE.match(building):
        problems.append(("building_code", "is required: letters, digits, - and _"))
    if len(unit) > 16 or "/" in unit:
        problems.append(("unit_number", "must be at most 16 characters, without /"))
    if not room or len(room) > 32 or "/" in room:
        problems.append(("room", "is required, at most 32 characters, without /"))
    return f"{building}/{unit}/{room}"


def _household_row(
    cells: dict[str, str], raw: dict[str, Any] | None, today: date
) -> tuple[dict[str, Any] | None, list[tuple[str, str]], str]:
    problems: list[tuple[str, str]] = []
    key = _household_key(cells, problems, required=True) or ""
    head = cells["head_name"]
    if len(head) > 100:
        problems.append(("head_name", "must be at most 100 characters"))
    if problems:
        return None, problems, key
    building, unit, room = key.split("/")
    return (
        {
            "id": key,
            "building_code": building,
            "unit_number": unit,
            "room": room,
            "head_name": head,
        },
        problems,
        key,
    )


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if len(text) == 10:
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    text = text.replace("/", "-").replace(".", "-")
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%Y年%m月%d日"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _person_row(
    cells: dict[str, str], raw: dict[str, Any] | None, today: date
) -> tuple[dict[str, Any] | None, list[tuple[str, str]], str]:
    problems: list[tuple[str, str]] = []
    name = cells["name"]
    if not name or len(name) > 50:
        problems.append(("name", "is required, at most 50 characters"))
    number = cells["id_number"].upper()
    parsed = None
    if raw and isinstance(raw.get("id_number"), (int, float)) and len(number) >= 16:
        problems.append(
            ("id_number", "is stored as a number, which loses digits: format the column as text")
        )
    else:
        try:
            parsed = idcard.parse(number, today=today)
        except idcard.InvalidIdNumber as exc:
            problems.append(("id_number", str(exc)))
    gender = cells["gender"]
    if gender and parsed and gender not in (parsed.gender, parsed.gender + "性"):
        problems.append(("gender", f"says {gender}, the ID number says {parsed.gender}"))
    born_text = cells["birth_date"]
    if born_text and not (parsed and born_text == parsed.birth_date.isoformat()):
        born = _date(raw["birth_date"] if raw and "birth_date" in raw else born_text)
        if born is None:
            problems.append(("birth_date", "is not a date (YYYY-MM-DD)"))
        elif parsed and born != parsed.birth_date:
            problems.append(
                (
                    "birth_date",
                    f"is {born.isoformat()}, the ID number says {parsed.birth_date.isoformat()}",
                )
            )
    phone = cells["phone"]
    if not phone.isdigit():
        phone = re.sub(r"[\s-]", "", phone)
    if phone.startswith("+86"):
        phone = phone[3:]
    if phone and not (MOBILE.match(phone) or LANDLINE.match(phone)):
        problems.append(("phone", "must be an 11-digit mobile number or a landline with area code"))
    relation = cells["relation"]
    if len(relation) > 20:
        problems.append(("relation", "must be at most 20 characters"))
    tags = 0
    for word in TAG_SPLIT.split(cells["tags"]) if cells["tags"] else ():
        if not word:
            continue
        tag = TAG_LABELS.get(word)
        if tag is None:
            problems.append(
                ("tags", f"{word} is not a known category ({'、'.join(TAG_NAMES.values())})")
            )
        else:
            tags |= 1 << (tag - 1)
    household = _household_key(cells, problems, required=False)
    unit_code = cells["unit_code"]
    if unit_code and (not unit_code.isdigit() or len(unit_code) > 32):
        problems.append(("unit_code", "must be a unit code (digits)"))
    if problems or parsed is None:
        return None, problems, number
    return (
        {
            "id_number": parsed.number,
            "name": name,
            "phone": phone,
            "gender": parsed.gender,
            "birth_date": parsed.birth_date,
            "household_id": household,
            "relation": relation,
            "ledger_unit_code": unit_code,
            "tags": tags,
            "phone_tail": phone[-4:],
            "id_tail": parsed.number[-4:],
        },
        problems,
        parsed.number,
    )


def _apply_households(conn: Connection, batch: Batch, ctx: _Context) -> tuple[int, int, int]:
    b = tables.buildings
    found = helpers.lookup(
        conn, [b.c.code, b.c.grid_code], b.c.code, (r["building_code"] for r in batch.rows)
    )
    tick = _Ticker(ctx.progress, "validating", len(batch.rows))
    accepted = []
    for r in batch.rows:
        tick.step()
        building = found.get(r["building_code"])
        if building is None:
            batch.rejected.append(
                Rejection(
                    r["_row"],
                    r["id"],
                    [(batch.label.get("building_code", "楼栋编码"), "no such building")],
                )
            )
            continue
        r["unit_code"] = building.grid_code
        accepted.append(r)
    if ctx.stop_here(batch):
        return 0, 0, 0
    h = tables.households
    stored = helpers.lookup(conn, [h.c.id, h.c.head_name], h.c.id, (r["id"] for r in accepted))
    new = [r for r in accepted if r["id"] not in stored]
    changed = [
        r for r in accepted if r["id"] in stored and stored[r["id"]].head_name != r["head_name"]
    ]
    now = ctx.now
    tick = _Ticker(ctx.progress, "writing", len(new) + len(changed))
    bulk = len(new) >= BULK_ROWS and helpers.is_table_empty(conn, h)
    stamps = {"created_at": now, "updated_at": now}
    with helpers.indexes_deferred(conn, h, when=bulk):
        for chunk in helpers.chunks(new, INSERT_CHUNK):
            helpers.bulk_insert(conn, h, chunk, keys=HOUSEHOLD_KEYS, extra=stamps)
            tick.step(len(chunk))
    if changed:
        conn.execute(
            update(h)
            .where(h.c.id == bindparam("b_id"))
            .values(head_name=bindparam("head_name"), updated_at=bindparam("updated_at")),
            [{"b_id": r["id"], "head_name": r["head_name"], "updated_at": now} for r in changed],
        )
        tick.step(len(changed))
    return len(new), len(changed), len(accepted) - len(new) - len(changed)


PERSON_FIELDS = (
    "name",
    "phone",
    "household_id",
    "relation",
    "unit_code",
    "ledger_unit_code",
    "tags",
)
PERSON_KEYS = (
    "id",
    "id_number",
    "name",
    "phone",
    "gender",
    "birth_date",
    "household_id",
    "relation",
    "unit_code",
    "ledger_unit_code",
    "tags",
    "phone_tail",
    "id_tail",
)
HOUSEHOLD_KEYS = ("id", "building_code", "unit_number", "room", "head_name", "unit_code")


def _apply_persons(conn: Connection, batch: Batch, ctx: _Context) -> tuple[int, int, int]:
    h, p = tables.households, tables.persons
    found = helpers.lookup(
        conn,
        [h.c.id, h.c.unit_code],
        h.c.id,
        (r["household_id"] for r in batch.rows if r["household_id"]),
    )
    homes = {k: r.unit_code for k, r in found.items()}
    units = {r.code for r in conn.execute(select(tables.units.c.code))}
    tick = _Ticker(ctx.progress, "validating", len(batch.rows))
    accepted = []
    for r in batch.rows:
        tick.step()
        problems = []
        if r["household_id"] and r["household_id"] not in homes:
            problems.append(
                (
                    batch.label.get("room", "室号"),
                    f"no household {r['household_id']} (import households first)",
                )
            )
        if r["ledger_unit_code"] and r["ledger_unit_code"] not in units:
            problems.append((batch.label.get("unit_code", "所属社区"), "no such unit"))
        if problems:
            batch.rejected.append(Rejection(r["_row"], mask_id_number(r["id_number"]), problems))
            continue
        r["unit_code"] = homes[r["household_id"]] if r["household_id"] else r["ledger_unit_code"]
        accepted.append(r)
    if ctx.stop_here(batch):
        return 0, 0, 0
    stored = _stored_persons(conn, [r["id_number"] for r in accepted])
    new, changed = [], []
    ids = _person_ids()
    for r in accepted:
        old = stored.get(r["id_number"])
        if old is None:
            r["id"] = next(ids)
            new.append(r)
        elif any(getattr(old, f) != r[f] for f in PERSON_FIELDS):
            r["id"] = old.id
            changed.append(r)
    now = ctx.now
    tick = _Ticker(ctx.progress, "writing", len(new) + len(changed))
    was_empty = not stored and helpers.is_table_empty(conn, p)
    bulk = len(new) >= BULK_ROWS and was_empty
    stamps = {"created_at": now, "updated_at": now}
    with helpers.indexes_deferred(conn, p, when=bulk):
        for chunk in helpers.chunks(new, INSERT_CHUNK):
            helpers.bulk_insert(conn, p, chunk, keys=PERSON_KEYS, extra=stamps)
            tick.step(len(chunk))
    renamed = [r["id"] for r in changed if stored[r["id_number"]].name != r["name"]]
    search.search_forget(conn, p, renamed)
    for chunk in helpers.chunks(changed, helpers.INSERT_BATCH):
        conn.execute(
            update(p)
            .where(p.c.id == bindparam("b_id"))
            .values({f: bindparam(f) for f in (*PERSON_FIELDS, "phone_tail", "updated_at")}),
            [
                {
                    "b_id": r["id"],
                    "updated_at": now,
                    "phone_tail": r["phone_tail"],
                    **{f: r[f] for f in PERSON_FIELDS},
                }
                for r in chunk
            ],
        )
        tick.step(len(chunk))
    ctx.progress("indexing", 0, len(new) + len(renamed))
    if was_empty and new:
        search.search_rebuild(conn, p)
    else:
        search.search_learn(conn, p, [r["id"] for r in new] + renamed)
    ctx.progress("indexing", len(new) + len(renamed), len(new) + len(renamed))
    return len(new), len(changed), len(accepted) - len(new) - len(changed)


def _person_ids() -> Iterator[str]:
    """Fresh person ids, ordered by time: "p-" + the first 80 bits of a UUIDv7 made now
    (time in ms, sequence, random) + a 32-bit counter. A UUIDv7 per person would cost
    more than the rest of a row's insert."""
    base = uuid7().replace("-", "")[:20]
    return (f"p-{base}{i:08x}" for i in itertools.count())


def _stored_persons(conn: Connection, numbers: list[str]) -> dict[str, Any]:
    p = tables.persons
    cols = [p.c.id, p.c.id_number, *(p.c[f] for f in PERSON_FIELDS)]
    return helpers.lookup(conn, cols, p.c.id_number, numbers)
