"""signal alerts: per-watch switches for spike and negative-surge alerts, and the last signal fired

Revision ID: 0007_signals
Revises: 0002_watch
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import storage.types


revision = '0007_signals'
down_revision = '0002_watch'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('watches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spike_alerts', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('surge_alerts', sa.Boolean(), nullable=False, server_default=sa.false()))

    op.create_table('watch_signals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('watch_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('fired_at', storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['watch_id'], ['watches.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('watch_id', 'kind', 'key')
    )


def downgrade() -> None:
    op.drop_table('watch_signals')
    with op.batch_alter_table('watches', schema=None) as batch_op:
        batch_op.drop_column('surge_alerts')
        batch_op.drop_column('spike_alerts')
