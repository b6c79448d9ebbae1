"""Two notify replicas creating a subscription under one request id at the same moment
(PostgreSQL): the later finds the first one instead of failing on the unique index."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from lianxin.intake.v1 import resources_pb2 as intake_res
from services.common.db import make_engine, migrate
from services.notify import store, subscription_store
from tests.postgres import PostgresServer


def row(id_: str) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "id": id_,
        "request_id": "hotline-12345-setup",
        "hotline": intake_res.CHANNEL_MAYOR_HOTLINE,
        "webhook_url": "https://hotline.example/hook",
        "secret": f"secret-{id_}",
        "created_at": now,
        "updated_at": now,
        "secret_rotated_at": now,
    }


def test_the_same_request_id_at_once_on_two_replicas_makes_one_subscription(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database("subscription_race")
    migrate(url, store.MIGRATIONS)
    engine = make_engine(url)
    try:
        first = engine.connect()
        first.begin()
        _made, created = subscription_store.create_subscription(first, row=row("a"))
        assert created
        # The second replica's insert waits for the first's transaction …
        answer: list[object] = []

        def second() -> None:
            with engine.begin() as conn:
                answer.append(subscription_store.create_subscription(conn, row=row("b")))

        t = threading.Thread(target=second)
        t.start()
        t.join(timeout=1.0)
        assert t.is_alive(), "the second insert should wait for the first commit"
        first.commit()  # … and, once it commits, finds it
        first.close()
        t.join(timeout=10)
        ((found, again),) = answer
        assert not again and found.id == "a" and found.secret == "secret-a"  # type: ignore[attr-defined]
    finally:
        engine.dispose()
