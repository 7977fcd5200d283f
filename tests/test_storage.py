"""Storage: migrations keep data across upgrades; SQLite runs in WAL with foreign keys."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from storage.db import Database, migrate


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
