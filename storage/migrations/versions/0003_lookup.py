"""lookup cache

Revision ID: 0003_lookup
Revises: 0001
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import storage.types


revision = '0003_lookup'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lookup_cache',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.Column('fetched_at', storage.types.UTCDateTime(), nullable=False),
    sa.Column('expires_at', storage.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider', 'key')
    )
    with op.batch_alter_table('lookup_cache', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lookup_cache_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('lookup_cache', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lookup_cache_expires_at'))
    op.drop_table('lookup_cache')
