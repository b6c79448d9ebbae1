"""registry's tables and queries (SQLAlchemy Core), on SQLite and PostgreSQL alike.

- `tables`: the schema (the migrations create it; `MIGRATIONS` is their directory);
- `helpers`: code ranges (`under()`), chunks, bulk inserts, keyed lookups;
- `records`: units, staff, departments, buildings, households, persons, the access log
  and the cases of persons;
- `coverage`: the area summary and the coverage audit's SQL half;
- `search`: text and phone/ID-tail search, and the FTS tables' upkeep.

Where the two differ, the difference stays in this package:
- search: SQLite keeps FTS5 tables with the trigram tokenizer over person names and
  building names and addresses (external content: the tables themselves), which
  `search` keeps in step; PostgreSQL has pg_trgm GIN indexes on the same columns. Both are
  created by migration 0002. Queries of one or two characters are scans on both.
- the access log is append-only on both: triggers refuse UPDATE and DELETE.

Denormalised on purpose, kept right by the import code: a household's and a person's
`unit_code` (the grid of their building, or for a person without a household the unit
whose ledger lists them). Codes nest (a unit's code is a prefix of
every code below it), so "in unit X" is a code range (`under()`), served by indexes.
"""

# Every service's store names its migrations directory: `lianxin migrate registry` and
# `lianxin serve registry` find it as services.registry.store.MIGRATIONS.
from services.registry.store.tables import MIGRATIONS as MIGRATIONS
