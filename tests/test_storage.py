"""Storage: migrations keep data across upgrades; SQLite runs in WAL with foreign keys."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, inspect, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storage.db import Database, FirstWrite, first_write, migrate
from storage.models import AuditEntry, Chat, OutboxItem


def test_upgrade_from_older_schema_keeps_data(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, "0001")  # a database made by the first release
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (platform, platform_id, name, role, created_at, updated_at) "
                          "VALUES ('telegram', 42, 'ann', 30, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
    migrate(url)  # every later migration
    with engine.begin() as conn:
        assert conn.execute(text("SELECT name, role FROM users WHERE platform_id = 42")).one() == ("ann", 30)
        heads = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config

    assert heads == set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    assert {"users", "chats", "audit", "posts", "buttons"} <= set(inspect(engine).get_table_names())


async def test_database_pragmas_and_threaded_run(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    db.migrate()
    mode = await db.run(lambda s: s.connection().exec_driver_sql("PRAGMA journal_mode").scalar())
    fks = await db.run(lambda s: s.connection().exec_driver_sql("PRAGMA foreign_keys").scalar())
    assert (mode, fks) == ("wal", 1)
    assert db.size_bytes and db.size_bytes > 0
    db.close()


def test_display_url_hides_password():
    db = Database.__new__(Database)
    db.url = "postgresql://bot:hunter2@db.example/socmint"
    assert "hunter2" not in db.display_url


class AuditRow(FirstWrite):
    """Rows for the tests: one audit entry."""

    def write(self, session: Session) -> None:
        session.add(AuditEntry(user="u", chat="c", command="carried", outcome="ok"))


def _count(db: Database, command: str) -> int:
    with db.session() as s:
        return s.execute(select(func.count()).select_from(AuditEntry).where(AuditEntry.command == command)).scalar_one()


async def test_first_write_rides_on_the_first_writing_transaction_only(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    db.migrate()
    rows = AuditRow()
    with first_write(rows):
        await db.run(lambda s: s.execute(select(AuditEntry)).all())  # reads carry nothing
        assert not rows.done and _count(db, "carried") == 0

        def fail(session: Session) -> None:
            session.add(AuditEntry(user="u", chat="c", command="failed", outcome="ok"))
            raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await db.run(fail)  # a write that rolls back carries them nowhere
        assert not rows.done and _count(db, "carried") == 0
        await db.run(lambda s: s.execute(update(Chat).where(Chat.id == -1).values(title="x")))  # a DML statement
        assert rows.done and _count(db, "carried") == 1
        await db.run(lambda s: s.add(AuditEntry(user="u", chat="c", command="later", outcome="ok")))
    assert _count(db, "carried") == 1
    assert await db.settle(rows) is False  # already committed
    db.close()


async def test_first_write_is_committed_once_when_writers_race_and_settle_commits_it_alone(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    db.migrate()
    rows = AuditRow()
    with first_write(rows):
        await asyncio.gather(*(db.run(lambda s: s.add(AuditEntry(user="u", chat="c", command="w", outcome="ok")))
                               for _ in range(8)))
    assert _count(db, "carried") == 1 and _count(db, "w") == 8
    alone = AuditRow()
    assert await db.settle(alone) is True and alone.done
    assert await db.settle(alone) is False
    assert _count(db, "carried") == 2
    db.close()


def test_one_alert_row_per_post_and_chat_is_a_database_rule(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    db.migrate()
    with db.session() as s:
        s.add(OutboxItem(chat_platform="telegram", chat_id=-5, post_id=7, payload={"kind": "alert"}))
        s.add(OutboxItem(chat_platform="telegram", chat_id=-6, post_id=7, payload={"kind": "alert"}))
        s.add(OutboxItem(chat_platform="telegram", chat_id=-5, payload={"kind": "signal"}))
        s.add(OutboxItem(chat_platform="telegram", chat_id=-5, payload={"kind": "signal"}))
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(OutboxItem(chat_platform="telegram", chat_id=-5, post_id=7, payload={"kind": "alert"}))
    db.close()


def test_upgrade_numbers_alerts_by_post_and_folds_pending_repeats(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, "0007_signals")
    engine = create_engine(url)
    columns = "(chat_platform, chat_id, payload, state, attempts, next_attempt_at, created_at)"
    when = "'2026-11-01 00:00:00', '2026-11-01 00:00:00'"
    with engine.begin() as conn:
        for chat, post, state in [(-5, 7, "sent"), (-5, 7, "pending"), (-6, 7, "pending"), (-5, 8, "pending")]:
            payload = json.dumps({"kind": "alert", "watch_id": None, "query": "q", "post": {"id": post}})
            conn.execute(text(f"INSERT INTO outbox {columns} VALUES ('telegram', {chat}, :p, '{state}', 0, {when})"),
                         {"p": payload})
    migrate(url)
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT chat_id, post_id, state FROM outbox ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(-5, 7, "sent"), (-5, None, "grouped"), (-6, 7, "pending"), (-5, 8, "pending")]
