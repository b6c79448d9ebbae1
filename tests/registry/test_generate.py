"""The district generator: what it makes imports whole, is clean by the audit, and comes
back unchanged when imported again (a small district here; bench/registry does the full
2,000 grids and 500,000 persons)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1 import resources_pb2 as res
from services.registry import generate, idcard
from tests.registry.conftest import import_file, registry_settings, serving

KINDS = [
    ("units", res.IMPORT_KIND_UNITS),
    ("buildings", res.IMPORT_KIND_BUILDINGS),
    ("households", res.IMPORT_KIND_HOUSEHOLDS),
    ("persons", res.IMPORT_KIND_PERSONS),
]


def test_the_generator_is_deterministic_and_its_people_are_valid(tmp_path: Path) -> None:
    a = generate.write(tmp_path / "a", generate.SMALL, seed=1)
    b = generate.write(tmp_path / "b", generate.SMALL, seed=1)
    for key in a:
        assert a[key].read_bytes() == b[key].read_bytes(), key
    with a["persons"].open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len({r["公民身份号码"] for r in rows}) == len(rows)
    phones = [r["联系电话"] for r in rows if r["联系电话"]]
    assert len(set(phones)) == len(phones)
    for r in rows:
        parsed = idcard.parse(r["公民身份号码"])
        assert (parsed.gender, parsed.birth_date.isoformat()) == (r["性别"], r["出生日期"])


async def test_a_generated_district_imports_clean_and_re_imports_unchanged(
    tmp_path: Path, registry_nats: str, fresh_database_url: str
) -> None:
    paths = generate.write(tmp_path / "district", generate.SMALL, seed=370402)
    settings = registry_settings(tmp_path, registry_nats, fresh_database_url, load_demo=False)
    async with serving(settings) as r:
        for round_ in range(2):
            for key, kind in KINDS:
                _, report, err = await import_file(
                    r.stub, kind, paths[key].name, paths[key].read_bytes()
                )
                assert err is None and report is not None, (key, err)
                assert report.rejected_count == 0, (key, list(report.rejected)[:3])
                if round_ == 0:
                    assert report.inserted == report.total_rows, key
                else:
                    assert report.unchanged == report.total_rows, key
        audit = await r.stub.AuditCoverage(svc.AuditCoverageRequest(unit_code="370402"))
        assert sum(c.count for c in audit.counts) == 0, list(audit.findings)[:3]
        summary = await r.stub.GetAreaSummary(svc.GetAreaSummaryRequest(unit_code="370402"))
    units = json.loads(paths["units"].read_text(encoding="utf-8"))["features"]
    grids = sum(f["properties"]["level"] == "grid" for f in units)
    assert grids == generate.SMALL.grid_count == summary.grids
    assert summary.buildings == generate.SMALL.buildings
    assert summary.households == generate.SMALL.households
    assert summary.population == generate.SMALL.persons
