"""watch changes: a log of every watch created, changed or deleted, written by triggers, so every process
keeps its matcher in step (PostgreSQL also notifies channel socmint_watches)

On PostgreSQL, writers of `watches` take one transaction-level advisory lock first (a statement trigger),
so change ids become visible in the order they were drawn and a reader that remembers the highest id it
applied never skips one. On SQLite, writers are one at a time anyway; AUTOINCREMENT keeps ids from ever
being reused after old rows are pruned.

Revision ID: 0009_i15_watch_changes
Revises: 0008_i15_bigint_jsonb
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0009_i15_watch_changes'
down_revision = '0008_i15_bigint_jsonb'
branch_labels = None
depends_on = None

# storage.locks.WATCH_CHANGES_KEY (a migration keeps its own copy of the number)
PG_FUNCTIONS = """
CREATE FUNCTION socmint_watches_serialize() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7305841003);
  RETURN NULL;
END $$;

CREATE FUNCTION socmint_watch_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE changed bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN changed := OLD.id; ELSE changed := NEW.id; END IF;
  INSERT INTO watch_changes (watch_id, at) VALUES (changed, now() AT TIME ZONE 'UTC');
  PERFORM pg_notify('socmint_watches', changed::text);
  RETURN NULL;
END $$;

CREATE TRIGGER watches_serialize BEFORE INSERT OR UPDATE OR DELETE ON watches
  FOR EACH STATEMENT EXECUTE FUNCTION socmint_watches_serialize();
CREATE TRIGGER watches_changed AFTER INSERT OR UPDATE OR DELETE ON watches
  FOR EACH ROW EXECUTE FUNCTION socmint_watch_changed();
"""

SQLITE_TRIGGERS = (
    """CREATE TRIGGER watches_inserted AFTER INSERT ON watches BEGIN
         INSERT INTO watch_changes (watch_id, at) VALUES (NEW.id, datetime('now'));
       END""",
    """CREATE TRIGGER watches_updated AFTER UPDATE ON watches BEGIN
         INSERT INTO watch_changes (watch_id, at) VALUES (NEW.id, datetime('now'));
       END""",
    """CREATE TRIGGER watches_deleted AFTER DELETE ON watches BEGIN
         INSERT INTO watch_changes (watch_id, at) VALUES (OLD.id, datetime('now'));
       END""",
)


def upgrade() -> None:
    op.create_table('watch_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('watch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('watch_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_watch_changes_at'), ['at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(sa.text(PG_FUNCTIONS))
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(sa.text(trigger))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(sa.text("DROP TRIGGER watches_changed ON watches; DROP TRIGGER watches_serialize ON watches; "
                           "DROP FUNCTION socmint_watch_changed(); DROP FUNCTION socmint_watches_serialize();"))
    else:
        for statement in ('DROP TRIGGER watches_inserted', 'DROP TRIGGER watches_updated',
                          'DROP TRIGGER watches_deleted'):
            op.execute(sa.text(statement))
    with op.batch_alter_table('watch_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_watch_changes_at'))
    op.drop_table('watch_changes')
