"""Storage: migrations keep data across upgrades and build the models' schema on SQLite and PostgreSQL alike;
several processes migrating one empty database at once all come up; SQLite runs in WAL with foreign keys."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, inspect, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from storage.db import Database, FirstWrite, first_write, make_engine, migrate
from storage.models import AuditEntry, Chat, OutboxItem, StoredPost, Watch

ROOT = Path(__file__).resolve().parents[1]
TOGETHER = 4  # processes migrating one empty database at the same moment


def test_upgrade_from_older_schema_keeps_data(db_url: str):
    url = db_url
    migrate(url, "0001")  # a database made by the first release
    engine = make_engine(url)
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
    engine.dispose()


def test_migrations_build_exactly_the_models_schema(db_url: str):
    migrate(db_url)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": conn.dialect.name == "postgresql"})
        assert compare_metadata(context, SQLModel.metadata) == []
    engine.dispose()


async def test_ids_are_64_bit_and_json_round_trips(db_url: str):
    """Ids past 2^31 (PostgreSQL's old `serial` limit) are stored and read back; JSON, NUL characters
    included (which jsonb cannot hold), round-trips without losing the row."""
    from datetime import UTC, datetime

    db = Database(db_url)
    db.migrate()
    big = 2**40
    now = datetime.now(UTC)

    def write(session):  # type: ignore[no-untyped-def]
        if session.get_bind().dialect.name == "postgresql":  # a serial's sequence would refuse this
            session.execute(text("SELECT setval(pg_get_serial_sequence('watches', 'id'), :n)"), {"n": big})
        session.add(Watch(id=big, chat_platform="telegram", chat_id=-(2**52), query="lockbit", sources=["rss"],
                          created_by="t", created_at=now))
        session.add(StoredPost(source="rss", source_id="1", text="x", created_at=now, content_hash="h",
                               raw={"note": "a\x00b", "nested": [{"k": "v"}]}))

    await db.run(write)

    def read(session):  # type: ignore[no-untyped-def]
        watch = session.get(Watch, big)
        post = session.exec(select(StoredPost)).one()
        following = Watch(chat_platform="telegram", chat_id=1, query="next", created_by="t", created_at=now)
        session.add(following)
        session.flush()
        return watch.sources, watch.chat_id, post.raw, following.id

    sources, chat_id, raw, next_id = await db.run(read)
    assert (sources, chat_id) == (["rss"], -(2**52))
    assert raw["nested"] == [{"k": "v"}] and raw["note"] in ("a\x00b", "ab")  # PostgreSQL drops the NUL
    assert next_id > big  # the id sequence is 64-bit too
    db.close()


def test_processes_migrating_one_empty_database_together_all_come_up(db_url: str):
    script = "import sys; from storage.db import migrate; migrate(sys.argv[1]); print('migrated')"
    procs = [subprocess.Popen([sys.executable, "-c", script, db_url], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(TOGETHER)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * TOGETHER, [err[-800:] for _, err in results]
    engine = make_engine(db_url)
    with engine.connect() as conn:
        versions = [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]
    engine.dispose()
    assert len(versions) == len(set(versions)) == 1  # one head, recorded once


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


async def test_the_inbox_tells_a_redelivered_update_on_both_engines(db_url: str):
    """A Telegram update written down once is a repeat the second time, on SQLite and PostgreSQL alike."""
    from datetime import UTC, datetime

    from storage import inbox

    db = Database(db_url)
    db.migrate()
    now = datetime.now(UTC)
    first = await db.run(lambda s: inbox.receive(s, "telegram", 7, 1, {"update_id": 1}, now))
    again = await db.run(lambda s: inbox.receive(s, "telegram", 7, 1, {"update_id": 1}, now))
    other_bot = await db.run(lambda s: inbox.receive(s, "telegram", 8, 1, {"update_id": 1}, now))
    assert (first, again, other_bot) == (True, False, True)
