"""the branches of December joined: 64-bit and jsonb for the columns they added (PostgreSQL only)

`0008_i15_bigint_jsonb` widened what existed before it; the inbox payload and the outbox's post id came on
another branch, so they are widened here. SQLite needs nothing.

Revision ID: 0010_heads_joined
Revises: 0009_i15_watch_changes, 0008_i16_usernames, 0008_i17rep_case_report, 0008_i20_delivery
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0010_heads_joined'
down_revision = ('0009_i15_watch_changes', '0008_i16_usernames', '0008_i17rep_case_report', '0008_i20_delivery')
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.alter_column('outbox', 'post_id', type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=True)
    op.execute(sa.text("UPDATE inbox SET payload = '{}' WHERE strpos(payload::text, '\\u0000') > 0"))
    op.alter_column('inbox', 'payload', type_=postgresql.JSONB(), existing_type=sa.JSON(), existing_nullable=False,
                    postgresql_using='payload::jsonb')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.alter_column('inbox', 'payload', type_=sa.JSON(), existing_type=postgresql.JSONB(), existing_nullable=False,
                    postgresql_using='payload::json')
    op.alter_column('outbox', 'post_id', type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=True)
