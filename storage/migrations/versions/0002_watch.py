"""watches, matches, outbox, source cursors, digest schedules

Revision ID: 0002_watch
Revises: 0001
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import storage.types


revision = '0002_watch'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('watches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chat_platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('query', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('interval_s', sa.Integer(), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('muted_until', storage.types.UTCDateTime(), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('watches', schema=None) as batch_op:
        batch_op.create_index('ix_watches_chat', ['chat_platform', 'chat_id'], unique=False)

    op.create_table('watch_matches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('watch_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('terms', sa.JSON(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['watch_id'], ['watches.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('watch_id', 'post_id')
    )
    with op.batch_alter_table('watch_matches', schema=None) as batch_op:
        batch_op.create_index('ix_watch_matches_time', ['watch_id', 'created_at'], unique=False)
        batch_op.create_index('ix_watch_matches_post', ['post_id'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chat_platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('watch_id', sa.Integer(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('next_attempt_at', storage.types.UTCDateTime(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(), nullable=False),
    sa.Column('sent_at', storage.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['watch_id'], ['watches.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_pending', ['state', 'chat_platform', 'chat_id', 'id'], unique=False)
        batch_op.create_index('ix_outbox_watch', ['watch_id', 'created_at'], unique=False)

    op.create_table('source_cursors',
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('cursor', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=True),
    sa.Column('updated_at', storage.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source', 'key')
    )

    op.create_table('digest_schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chat_platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('time', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('tz', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('last_sent_period', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('chat_platform', 'chat_id')
    )


def downgrade() -> None:
    op.drop_table('digest_schedules')
    op.drop_table('source_cursors')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_watch')
        batch_op.drop_index('ix_outbox_pending')
    op.drop_table('outbox')
    with op.batch_alter_table('watch_matches', schema=None) as batch_op:
        batch_op.drop_index('ix_watch_matches_post')
        batch_op.drop_index('ix_watch_matches_time')
    op.drop_table('watch_matches')
    with op.batch_alter_table('watches', schema=None) as batch_op:
        batch_op.drop_index('ix_watches_chat')
    op.drop_table('watches')
