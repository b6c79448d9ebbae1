"""ImportData: every row checked, a report of what was rejected and why, nothing half
written, re-imports that change nothing, and a registry event for every import that did."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import grpc
import nats
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from lianxin.events.v1 import event_pb2
from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1 import resources_pb2 as res
from services.common import auth
from services.registry import idcard
from tests.conftest import error_details, eventually, violations
from tests.registry.conftest import (
    TOWN,
    Registry,
    box,
    building_feature,
    caller,
    csv_bytes,
    geojson_bytes,
    import_file,
    registry_settings,
    serving,
    unit_feature,
    xlsx_bytes,
)

U, B, H, P = (
    res.IMPORT_KIND_UNITS,
    res.IMPORT_KIND_BUILDINGS,
    res.IMPORT_KIND_HOUSEHOLDS,
    res.IMPORT_KIND_PERSONS,
)
PERSON_HEADERS = ["姓名", "公民身份号码", "联系电话", "楼栋编码", "单元", "室号", "人员类别"]
ID_A = idcard.make("370499", date(1950, 5, 1), 11)
ID_B = idcard.make("370499", date(1988, 8, 8), 22)
ID_C = idcard.make("370499", date(2001, 1, 31), 33)


def town(split: float = 117.01) -> bytes:
    """A district of one street, one community and two grids side by side, split at
    longitude `split`."""
    whole = box(117.0, 34.0, 117.02, 34.01)
    return geojson_bytes(
        [
            unit_feature("370499", "测试区", "district", "", whole),
            unit_feature("370499001", "测试街道", "street", "370499", whole),
            unit_feature("370499001001", "测试社区", "community", "370499001", whole),
            unit_feature(
                "370499001001001",
                "第一网格",
                "grid",
                "370499001001",
                box(117.0, 34.0, split, 34.01),
            ),
            unit_feature(
                "370499001001002",
                "第二网格",
                "grid",
                "370499001001",
                box(split, 34.0, 117.02, 34.01),
            ),
        ]
    )


def houses() -> bytes:
    return geojson_bytes(
        [
            building_feature("T-B1", "测试路1号1号楼", 117.005, 34.005, name="1号楼"),
            building_feature("T-B2", "测试路1号2号楼", 117.015, 34.005, name="2号楼"),
        ]
    )


HOUSEHOLDS = csv_bytes(
    ["楼栋编码", "单元", "室号", "户主姓名"],
    [["T-B1", "1", "101", "赵大山"], ["T-B1", "1", "102", "钱小梅"], ["T-B2", "", "1", "孙立"]],
)


def people(*extra: list[str]) -> bytes:
    return csv_bytes(
        PERSON_HEADERS,
        [
            ["赵大山", ID_A, "13800000001", "T-B1", "1", "101", "退休人员、独居老人"],
            ["钱小梅", ID_B, "13800000002", "T-B1", "1", "102", "失业人员，求职人员"],
            ["孙立", ID_C, "", "T-B2", "", "1", ""],
            *extra,
        ],
    )


@pytest.fixture
async def empty(
    tmp_path: Path, registry_nats: str, fresh_database_url: str
) -> AsyncIterator[Registry]:
    settings = registry_settings(tmp_path, registry_nats, fresh_database_url, load_demo=False)
    async with serving(settings) as r:
        yield r


async def load_town(r: Registry, *, persons: bytes | None = None) -> dict[int, res.ImportReport]:
    reports = {}
    for kind, name, content in (
        (U, "units.geojson", town()),
        (B, "buildings.geojson", houses()),
        (H, "households.csv", HOUSEHOLDS),
        (P, "persons.csv", persons or people()),
    ):
        _, report, err = await import_file(r.stub, kind, name, content)
        assert err is None and report is not None and report.written, (name, report, err)
        reports[kind] = report
    return reports


async def population(r: Registry, unit: str = "370499") -> int:
    return (await r.stub.GetAreaSummary(svc.GetAreaSummaryRequest(unit_code=unit))).population


async def test_a_town_imports_in_order_and_its_grids_locate_points(empty: Registry) -> None:
    progress, report, err = await import_file(empty.stub, U, "units.geojson", town())
    assert err is None and report is not None
    assert (report.total_rows, report.inserted, report.written) == (5, 5, True)
    assert {p.stage for p in progress} >= {"reading", "writing"}
    assert progress[-1].done == progress[-1].total
    located = await empty.stub.LocateGrid(
        svc.LocateGridRequest(location=res.LatLng(latitude=34.005, longitude=117.015))
    )
    assert located.grid.code == "370499001001002"
    assert located.district.name == "测试区"
    for kind, name, content in (
        (B, "buildings.geojson", houses()),
        (H, "households.csv", HOUSEHOLDS),
        (P, "persons.csv", people()),
    ):
        _, report, err = await import_file(empty.stub, kind, name, content)
        assert err is None and report is not None and report.inserted > 0
    summary = await empty.stub.GetAreaSummary(svc.GetAreaSummaryRequest(unit_code="370499"))
    assert (summary.grids, summary.buildings, summary.households, summary.population) == (
        2,
        2,
        3,
        3,
    )
    tags = {t.tag: t.count for t in summary.tag_counts}
    assert tags[res.PERSON_TAG_ELDERLY_LIVING_ALONE] == 1
    assert tags[res.PERSON_TAG_JOB_SEEKER] == 1
    assert tags[res.PERSON_TAG_MIGRANT_WORKER] == 0


async def test_re_importing_every_file_changes_nothing_and_publishes_nothing(
    empty: Registry, registry_nats: str
) -> None:
    async with await nats.connect(registry_nats) as nc:
        js = nc.jetstream()
        start = await registry_events(js, "lianxin.registry.>")
        await load_town(empty)

        async def published(n: int) -> bool:
            return await registry_events(js, "lianxin.registry.>") == start + n

        await eventually(lambda: published(4))
        for kind, name, content in (
            (U, "units.geojson", town()),
            (B, "buildings.geojson", houses()),
            (H, "households.csv", HOUSEHOLDS),
            (P, "persons.csv", people()),
        ):
            _, report, err = await import_file(empty.stub, kind, name, content)
            assert err is None and report is not None, name
            assert (report.inserted, report.updated) == (0, 0), name
            assert report.unchanged == report.total_rows, name
        # One real change more: the outbox is published in order, so once its event is
        # out, any event the re-imports had staged would be out too.
        changed = people().replace(b"13800000002", b"13900000002")
        _, report, _ = await import_file(empty.stub, P, "persons.csv", changed)
        assert report is not None and report.updated == 1
        await eventually(lambda: published(5))
        last = await js.get_last_msg("LIANXIN", "lianxin.registry.persons_imported")
        assert event_pb2.Event.FromString(last.data).registry_imported.summary.updated == 1


async def registry_events(js: JetStreamContext, subject: str) -> int:
    info = await js.stream_info("LIANXIN", subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


async def test_an_import_that_changed_data_publishes_a_registry_event_with_counts(
    empty: Registry, registry_nats: str
) -> None:
    import_id = (await load_town(empty))[P].import_id
    async with await nats.connect(registry_nats) as nc:
        js = nc.jetstream()

        async def published() -> Any:
            try:
                msg = await js.get_last_msg("LIANXIN", "lianxin.registry.persons_imported")
            except NotFoundError:
                return None
            event = event_pb2.Event.FromString(msg.data)
            return msg if event.registry_imported.summary.import_id == import_id else None

        msg = await eventually(published)
    event = event_pb2.Event.FromString(msg.data)
    assert event.type == "registry.persons_imported"
    assert event.source == "lianxin/registry"
    summary = event.registry_imported.summary
    assert (summary.kind, summary.inserted, summary.updated) == (P, 3, 0)
    assert summary.actor == "cli:registry-admin"
    assert msg.headers and msg.headers["Nats-Msg-Id"] == event.id


async def test_a_changed_row_is_updated_and_only_it(empty: Registry) -> None:
    await load_town(empty)
    moved = people()
    moved = moved.replace(b"13800000002", b"13900000002")
    _, report, _ = await import_file(empty.stub, P, "persons.csv", moved)
    assert report is not None
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 2)


async def test_invalid_id_numbers_are_rejected_with_reasons_and_nothing_is_written(
    empty: Registry,
) -> None:
    await load_town(empty, persons=csv_bytes(PERSON_HEADERS, []))
    bad = people(
        ["周八", ID_A[:-1] + ("0" if ID_A[-1] != "0" else "1"), "", "", "", "", ""],
        ["吴九", "370499880808221", "", "", "", "", ""],
        ["郑十", "370499198802301234", "", "", "", "", ""],
        ["王十一", ID_A, "", "", "", "", ""],
    )
    _, report, err = await import_file(empty.stub, P, "persons.csv", bad)
    assert err is not None and err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(err)[0].reason == "ROWS_REJECTED"
    assert report is not None and not report.written
    reasons = {r.row: "; ".join(p.description for p in r.problems) for r in report.rejected}
    assert "check digit is wrong" in reasons[5]
    assert "old 15-digit number" in reasons[6]
    assert "is not a birth date" in reasons[7]
    assert "repeats row 2" in reasons[8]
    assert report.rejected[0].key.count("*") == 8  # the ID number is masked in the report
    assert violations(err)["rows[5].公民身份号码"] == "check digit is wrong"
    assert await population(empty) == 0


async def test_bad_ledger_rows_are_rejected_with_each_reason(empty: Registry) -> None:
    await load_town(empty, persons=csv_bytes(PERSON_HEADERS, []))
    rows = [
        ["", idcard.make("370499", date(1970, 1, 1), 1), "", "", "", "", ""],
        ["甲", idcard.make("370499", date(1970, 1, 2), 1), "12345", "", "", "", ""],
        ["乙", idcard.make("370499", date(1970, 1, 3), 1), "", "T-B9", "1", "1", ""],
        ["丙", idcard.make("370499", date(1970, 1, 4), 1), "", "", "", "", "富豪"],
        ["丁", idcard.make("370499", date(1970, 1, 5), 1), "", "T-B1", "", "", ""],
    ]
    _, report, err = await import_file(
        empty.stub, P, "persons.csv", csv_bytes(PERSON_HEADERS, rows)
    )
    assert err is not None and report is not None
    got = {r.row: {p.field: p.description for p in r.problems} for r in report.rejected}
    assert "is required" in got[2]["姓名"]
    assert "mobile number" in got[3]["联系电话"]
    assert "no household T-B9/1/1" in got[4]["室号"]
    assert "富豪 is not a known category" in got[5]["人员类别"]
    assert "is required" in got[6]["室号"]


async def test_a_partial_import_writes_the_good_rows_and_reports_the_bad(
    empty: Registry,
) -> None:
    await load_town(empty, persons=csv_bytes(PERSON_HEADERS, []))
    mixed = people(["坏人", "110105194912310021", "", "", "", "", ""])
    _, report, err = await import_file(empty.stub, P, "persons.csv", mixed, allow_partial=True)
    assert err is None and report is not None
    assert (report.inserted, report.rejected_count, report.written) == (3, 1, True)
    assert await population(empty) == 3


async def test_a_dry_run_reports_without_writing(empty: Registry) -> None:
    await load_town(empty, persons=csv_bytes(PERSON_HEADERS, []))
    _, report, err = await import_file(empty.stub, P, "persons.csv", people(), validate_only=True)
    assert err is None and report is not None
    assert (report.rejected_count, report.written) == (0, False)
    assert await population(empty) == 0


async def test_an_xlsx_ledger_with_dates_and_numbers_imports_like_a_csv(empty: Registry) -> None:
    from datetime import datetime

    await load_town(empty, persons=csv_bytes(PERSON_HEADERS, []))
    headers = ["*姓名", "公民身份号码", "出生日期", "手机号码", "楼栋编码", "单元", "室号"]
    rows = [
        ["赵大山", ID_A, datetime(1950, 5, 1), 13800000001, "T-B1", 1, 101],
        ["钱小梅", ID_B, "1988-08-08", "138 0000 0002", "T-B1", "1", "102"],
        ["孙立", int(ID_C), None, None, "T-B2", None, 1],
    ]
    _, report, err = await import_file(empty.stub, P, "台账.xlsx", xlsx_bytes(headers, rows))
    assert err is not None and report is not None
    assert [r.row for r in report.rejected] == [4]
    assert "format the column as text" in report.rejected[0].problems[0].description
    _, report, err = await import_file(
        empty.stub, P, "台账.xlsx", xlsx_bytes(headers, rows[:2]), allow_partial=True
    )
    assert err is None and report is not None and report.inserted == 2
    assert await population(empty) == 2


async def test_a_ledger_without_an_id_number_column_is_refused_whole(empty: Registry) -> None:
    _, report, err = await import_file(
        empty.stub, P, "persons.csv", csv_bytes(["姓名", "电话"], [["张三", "1"]])
    )
    assert report is None and err is not None
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err) == {"content": "the header row has no 公民身份号码 column"}


@pytest.mark.parametrize(
    ("content", "field", "says"),
    [
        (b"{not json", "content", "is not JSON"),
        (b'{"type": "Feature"}', "content", "must be a GeoJSON FeatureCollection"),
        (b'{"type": "FeatureCollection", "features": 3}', "content", "features must be a list"),
    ],
)
async def test_a_file_that_is_not_geojson_is_invalid_argument(
    empty: Registry, content: bytes, field: str, says: str
) -> None:
    _, report, err = await import_file(empty.stub, U, "units.geojson", content)
    assert report is None and err is not None
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert says in violations(err)[field]


async def test_malformed_and_self_intersecting_polygons_are_rejected_and_nothing_is_written(
    empty: Registry,
) -> None:
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[117.0, 34.0], [117.02, 34.01], [117.02, 34.0], [117.0, 34.01], [117.0, 34.0]]
        ],
    }
    too_short = {"type": "Polygon", "coordinates": [[[117.0, 34.0], [117.01, 34.0]]]}
    content = geojson_bytes(
        [
            unit_feature("370499", "测试区", "district", "", box(117.0, 34.0, 117.02, 34.01)),
            unit_feature("370499001", "蝴蝶街道", "street", "370499", bowtie),
            unit_feature("370499002", "短线街道", "street", "370499", too_short),
            unit_feature(
                "370499003",
                "点街道",
                "street",
                "370499",
                {"type": "Point", "coordinates": [117, 34]},
            ),
            unit_feature(
                "370499004", "出界街道", "street", "370499", box(116.0, 33.0, 116.1, 33.1)
            ),
            unit_feature(
                "370499005001",
                "孤儿社区",
                "community",
                "370499005",
                box(117.0, 34.0, 117.01, 34.01),
            ),
        ]
    )
    _, report, err = await import_file(empty.stub, U, "units.geojson", content)
    assert err is not None and report is not None and not report.written
    got = {
        r.key: "; ".join(f"{p.field} {p.description}" for p in r.problems) for r in report.rejected
    }
    assert "Self-intersection" in got["370499001"]
    assert "malformed coordinates" in got["370499002"]
    assert "must be a Polygon or MultiPolygon" in got["370499003"]
    assert "not inside its parent 370499" in got["370499004"]
    assert "parent '370499005' does not exist" in got["370499005001"]
    assert "370499" not in got
    units = await empty.stub.ListUnits(svc.ListUnitsRequest())
    assert list(units.units) == []


async def test_a_building_whose_stated_grid_disagrees_with_its_point_is_rejected(
    empty: Registry,
) -> None:
    await import_file(empty.stub, U, "units.geojson", town())
    content = geojson_bytes(
        [building_feature("T-B1", "测试路1号", 117.005, 34.005, grid_code="370499001001002")]
    )
    _, report, err = await import_file(empty.stub, B, "buildings.geojson", content)
    assert err is not None and report is not None
    assert report.rejected[0].problems[0].description == (
        "is 370499001001002, but the point lies in grid 370499001001001"
    )


async def test_importing_needs_the_import_permission(empty: Registry) -> None:
    for metadata in (
        caller("staff-x", jurisdiction="370499"),
        caller(permissions=(auth.PII_READ,)),
    ):
        _, _, err = await import_file(empty.stub, U, "units.geojson", town(), metadata=metadata)
        assert err is not None and err.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_details(err)[0].metadata["permission"] == auth.REGISTRY_IMPORT


async def test_moving_a_grid_boundary_moves_its_buildings_households_and_persons(
    empty: Registry,
) -> None:
    await load_town(empty)
    # The first grid grows east over T-B2's point; the second shrinks.
    _, report, err = await import_file(empty.stub, U, "units.geojson", town(split=117.018))
    assert err is None and report is not None and report.updated == 2, report
    building = await empty.stub.GetBuildingView(
        svc.GetBuildingViewRequest(code="T-B2"), metadata=TOWN
    )
    assert building.building.grid_code == "370499001001001"
    assert building.households[0].household.grid_code == "370499001001001"
    assert [p.unit_code for p in building.households[0].residents] == ["370499001001001"]
    grid2 = await empty.stub.GetAreaSummary(svc.GetAreaSummaryRequest(unit_code="370499001001002"))
    assert (grid2.buildings, grid2.households, grid2.population) == (0, 0, 0)
