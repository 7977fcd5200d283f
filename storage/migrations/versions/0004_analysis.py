"""indicators extracted from posts

Revision ID: 0004_analysis
Revises: 0001
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import storage.types


revision = '0004_analysis'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('post_iocs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('seen_at', storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('post_id', 'kind', 'value')
    )
    with op.batch_alter_table('post_iocs', schema=None) as batch_op:
        batch_op.create_index('ix_post_iocs_value', ['kind', 'value'], unique=False)
        batch_op.create_index(batch_op.f('ix_post_iocs_seen_at'), ['seen_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('post_iocs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_post_iocs_seen_at'))
        batch_op.drop_index('ix_post_iocs_value')
    op.drop_table('post_iocs')
