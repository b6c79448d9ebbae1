"""考核排名: the units of one level ranked by one figure, as districts run their centres.

Each unit's figure is computed exactly as GetStats computes it for that unit
(`stats.compute` over the unit's cases), so a ranking and a unit's own figures agree.
Communities and streets own the cases located in their area; a department owns the cases
it led at some step. Higher ranks first, except for the rework and reopen rates, where
lower is better; equal values share a rank (1, 2, 2, 4); a unit whose figure has nothing
to divide is not ranked (rank 0) and comes last.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lianxin.routing.v1 import resources_pb2 as res
from services.common.errors import Violations
from services.routing import domain, stats

FIGURES = {
    "response_rate": False,
    "on_time_rate": False,
    "closure_rate": False,
    "satisfaction_rate": False,
    "rework_rate": True,
    "reopen_rate": True,
    "rework_or_reopen_rate": True,
}  # id → lower is better
LEVELS = (res.LEVEL_COMMUNITY, res.LEVEL_STREET, res.LEVEL_DISTRICT)


@dataclass(frozen=True)
class Entry:
    rank: int
    unit_code: str
    unit_name: str
    figure: stats.Figure


def validate(v: Violations, *, level: int, indicator_id: str, version: str, area: str) -> None:
    if level not in LEVELS:
        v.add("level", "must be COMMUNITY, STREET or DISTRICT (the district's departments)")
    if indicator_id not in FIGURES:
        v.add("indicator_id", f"must be one of {', '.join(FIGURES)}")
    if version not in stats.VERSIONS:
        v.add("formula_version", f"must be one of {', '.join(stats.VERSIONS)}, or unset")
    if area and not (
        area.isdigit() and domain.unit_level(area) in (res.LEVEL_DISTRICT, res.LEVEL_STREET)
    ):
        v.add("unit_code", "must be a district or street code")
    if version == "1" and indicator_id in ("response_rate", "reopen_rate", "rework_or_reopen_rate"):
        v.add("indicator_id", f"{indicator_id} exists from formula version 2")


def units_of(level: int, case: Any, history: list[Any]) -> Iterable[tuple[str, str]]:
    """The (code, name) of the units of `level` a case counts for ("" name: ask registry)."""
    if level == res.LEVEL_COMMUNITY and case.community_code:
        yield case.community_code, case.community_name
    elif level == res.LEVEL_STREET and case.street_code:
        yield case.street_code, case.street_name
    elif level == res.LEVEL_DISTRICT:
        yield from (
            (c, "")
            for c in sorted({h.unit_code for h in history if domain.is_department(h.unit_code)})
        )


def rank(
    rows: list[tuple[Any, list[Any]]],
    *,
    level: int,
    indicator_id: str,
    version: str,
    end: datetime,
) -> list[tuple[str, str, stats.Figure]]:
    """(code, name, figure) per unit, best first, before ranks are given."""
    groups: dict[str, list[tuple[str, list[Any]]]] = {}
    names: dict[str, str] = {}
    for case, history in rows:
        for code, name in units_of(level, case, history):
            groups.setdefault(code, []).append((case.id, history))
            names[code] = names.get(code) or name
    lower = FIGURES[indicator_id]
    scored = []
    for code, cases in groups.items():
        figure = next(
            f for f in stats.compute(cases, end=end, version=version) if f.id == indicator_id
        )
        scored.append((code, names[code], figure))
    scored.sort(
        key=lambda e: (
            e[2].denominator == 0,
            e[2].value if lower else -e[2].value,
            -e[2].denominator,
            e[0],
        )
    )
    return scored


def with_ranks(scored: list[tuple[str, str, stats.Figure]]) -> list[Entry]:
    out: list[Entry] = []
    for i, (code, name, figure) in enumerate(scored):
        if figure.denominator == 0:
            place = 0
        elif out and out[-1].rank and out[-1].figure.value == figure.value:
            place = out[-1].rank
        else:
            place = i + 1
        out.append(Entry(place, code, name, figure))
    return out
