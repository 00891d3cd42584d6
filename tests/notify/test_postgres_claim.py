from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from accessguard.domain.model import Message
from accessguard.notify.channels.dev_outbox import DevOutboxChannel
from accessguard.notify.outbox import Dispatcher, DispatchReport
from accessguard.notify.render import Renderer
from accessguard.storage.sql.engine import create_engine
from accessguard.storage.sql.tables import dev_mailbox, outbox
from tests.notify.conftest import outbox_row, queue
from tests.support import SettableClock

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_engine(pg_database: str) -> Iterator[sa.Engine]:
    engine = create_engine(pg_database, timeout_seconds=2)
    with engine.begin() as conn:
        conn.execute(outbox.delete())
        conn.execute(dev_mailbox.delete())
    yield engine
    engine.dispose()


def test_postgres_claim_skips_a_row_another_instance_is_claiming(
    pg_engine: sa.Engine, clock: SettableClock
) -> None:
    message = Message("email", "ada@example.com", "already_registered", {})
    message_id = queue(pg_engine, message, clock.now())
    channel = DevOutboxChannel(pg_engine, clock, channel="email")
    dispatcher = Dispatcher(
        pg_engine, {"email": channel}, Renderer("https://a.test"), clock, max_attempts=3
    )

    with pg_engine.begin() as other:
        locked = sa.select(outbox).where(outbox.c.id == message_id).with_for_update()
        other.execute(locked).one()
        assert dispatcher.run_once() == DispatchReport()

    assert dispatcher.run_once() == DispatchReport(sent=1)
    assert outbox_row(pg_engine, message_id)["attempts"] == 1
