"""64-bit ids and jsonb: every id and reference to one BIGINT, every JSON column jsonb (PostgreSQL only)

SQLite needs nothing: its INTEGER is 64-bit already and JSON is stored as text either way. On PostgreSQL
the id sequences become bigint too (a serial's sequence stops at 2^31 otherwise), and JSON values holding
\\u0000, which jsonb cannot store, lose those characters first.

Revision ID: 0008_i15_bigint_jsonb
Revises: 0003_lookup, 0004_analysis, 0005_case, 0006_investigation, 0007_signals
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0008_i15_bigint_jsonb'
down_revision = ('0003_lookup', '0004_analysis', '0005_case', '0006_investigation', '0007_signals')
branch_labels = None
depends_on = None

ID_TABLES = ('audit', 'cases', 'chats', 'digest_schedules', 'investigations', 'lookup_cache', 'posts', 'users',
             'watches', 'case_entities', 'case_events', 'case_notes', 'investigation_checklist', 'outbox',
             'post_iocs', 'watch_matches', 'watch_signals', 'case_links')
REFERENCES = (('investigations', 'case_id', True), ('case_current', 'case_id', False),
              ('case_entities', 'case_id', False), ('case_events', 'case_id', False), ('case_notes', 'case_id', False),
              ('investigation_checklist', 'investigation_id', False), ('outbox', 'watch_id', True),
              ('post_iocs', 'post_id', False), ('watch_matches', 'watch_id', False),
              ('watch_matches', 'post_id', False), ('watch_signals', 'watch_id', False),
              ('case_links', 'case_id', False), ('case_links', 'src_id', False), ('case_links', 'dst_id', False))
JSON_COLUMNS = (('investigations', 'result', False), ('lookup_cache', 'value', True),
                ('posts', 'mentions', False), ('posts', 'hashtags', False), ('posts', 'urls', False),
                ('posts', 'media', False), ('posts', 'geo', True), ('posts', 'engagement', False),
                ('posts', 'raw', True), ('watches', 'sources', False), ('case_entities', 'attrs', False),
                ('case_entities', 'sources', False), ('case_entities', 'tags', False), ('outbox', 'payload', False),
                ('watch_matches', 'terms', False))

# every serial's sequence to bigint (static SQL: the table names are listed here, not interpolated)
SEQUENCES_TO_BIGINT = """
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['audit', 'cases', 'chats', 'digest_schedules', 'investigations', 'lookup_cache',
                           'posts', 'users', 'watches', 'case_entities', 'case_events', 'case_notes',
                           'investigation_checklist', 'outbox', 'post_iocs', 'watch_matches', 'watch_signals',
                           'case_links'] LOOP
    EXECUTE format('ALTER SEQUENCE %s AS bigint', pg_get_serial_sequence(t, 'id'));
  END LOOP;
END $$
"""


def _without_nul(value):
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def _drop_nul_escapes(table: str, column: str) -> None:
    """Rewrite the few JSON values that hold \\u0000 (jsonb refuses it) without those characters."""
    t = sa.table(table, sa.column('id'), sa.column(column, sa.JSON()))
    col = t.c[column]
    bind = op.get_bind()
    found = bind.execute(sa.select(t.c.id, col).where(sa.func.strpos(sa.cast(col, sa.Text), '\\u0000') > 0))
    for row_id, value in found.all():
        bind.execute(sa.update(t).where(t.c.id == row_id).values({column: _without_nul(value)}))


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in ID_TABLES:
        op.alter_column(table, 'id', type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False)
    op.execute(sa.text(SEQUENCES_TO_BIGINT))
    for table, column, nullable in REFERENCES:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer(),
                        existing_nullable=nullable)
    for table, column, nullable in JSON_COLUMNS:
        _drop_nul_escapes(table, column)
        op.alter_column(table, column, type_=postgresql.JSONB(), existing_type=sa.JSON(),
                        existing_nullable=nullable, postgresql_using=column + '::jsonb')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table, column, nullable in JSON_COLUMNS:
        op.alter_column(table, column, type_=sa.JSON(), existing_type=postgresql.JSONB(),
                        existing_nullable=nullable, postgresql_using=column + '::json')
    for table, column, nullable in REFERENCES:
        op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger(),
                        existing_nullable=nullable)
    for table in ID_TABLES:
        op.alter_column(table, 'id', type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=False)
