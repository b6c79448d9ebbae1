"""Addresses as citizens say them, matched to buildings (for cases that come without a
point, most hotline calls).

First the building whose address is exactly the one said (spaces ignored; an index serves
it); otherwise the buildings sharing the most character trigrams with it — found by the
search index (SQLite FTS5 trigram, PostgreSQL pg_trgm through LIKE) and scored here the
same way on both databases:

    confidence = |T(said) ∩ T(building address)| / min(|T(said)|, |T(building address)|)

where T(s) is the set of three-character windows of s. A building address contained in
what was said (a caller adding "2单元") scores 1; one sharing only the street's name, far
less. Routing decides what confidence is enough (services/routing/locating.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Integer, case, column, literal_column, or_, select, text
from sqlalchemy.sql import func

from services.registry.store.helpers import _like_escape
from services.registry.store.tables import buildings

MAX_TRIGRAMS = 40  # of a long address, the first ones; enough to find its building
SHORTLIST = 50  # buildings scored in Python per request
MIN_CONFIDENCE = 0.3
_SPACE = re.compile(r"\s+")


def normalize(address: str) -> str:
    """The address without spaces, full-width digits and letters made ASCII."""
    folded = "".join(chr(ord(ch) - 0xFEE0) if "\uff01" <= ch <= "\uff5e" else ch for ch in address)
    return _SPACE.sub("", folded)


def trigrams(s: str) -> set[str]:
    return {s[i : i + 3] for i in range(len(s) - 2)} if len(s) >= 3 else {s} if s else set()


def confidence(said: str, address: str) -> float:
    a, b = trigrams(said), trigrams(normalize(address))
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


@dataclass(frozen=True)
class Candidate:
    building: Any
    confidence: float
    exact: bool


def geocode(conn: Connection, *, address: str, limit: int) -> list[Candidate]:
    """The buildings `address` may mean, best first (see the module doc)."""
    said = normalize(address)
    exact = conn.execute(
        select(buildings).where(buildings.c.address == said).order_by(buildings.c.code)
    ).all()
    if exact:
        return [Candidate(b, 1.0, True) for b in exact[:limit]]
    grams = sorted(trigrams(said))[:MAX_TRIGRAMS]
    if not grams:
        return []
    scored = [Candidate(b, confidence(said, b.address), False) for b in _shortlist(conn, grams)]
    scored = [c for c in scored if c.confidence >= MIN_CONFIDENCE]
    scored.sort(key=lambda c: (-c.confidence, len(c.building.address), c.building.code))
    return scored[:limit]


def _shortlist(conn: Connection, grams: list[str]) -> list[Any]:
    """Up to SHORTLIST buildings sharing the most of `grams` with their address."""
    likes = [buildings.c.address.like(f"%{_like_escape(g)}%", escape="\\") for g in grams]
    shared = sum((case((like, 1), else_=0) for like in likes), literal_column("0", Integer))
    q = select(buildings, shared.label("shared")).order_by(
        shared.desc(), func.length(buildings.c.address), buildings.c.code
    )
    if conn.dialect.name == "sqlite":
        # The FTS5 trigram table finds the rows holding any of the trigrams.
        phrases = " OR ".join('"' + g.replace('"', '""') + '"' for g in grams if len(g) == 3)
        if phrases:
            rowids = (
                text("SELECT rowid FROM building_fts WHERE building_fts MATCH :m")
                .bindparams(m=phrases)
                .columns(column("rowid", Integer))
            )
            q = q.where(literal_column("buildings.rowid").in_(rowids))
        else:
            q = q.where(or_(*likes))
    else:
        q = q.where(or_(*likes))  # the pg_trgm GIN index on address serves these
    return list(conn.execute(q.limit(SHORTLIST)))
