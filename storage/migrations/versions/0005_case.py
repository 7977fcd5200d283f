"""cases: entities, links, notes, the change log and each chat's current case

Revision ID: 0005_case
Revises: 0001
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import storage.types


revision = '0005_case'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chat_platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(), nullable=False),
    sa.Column('closed_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('closed_at', storage.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_chat', ['chat_platform', 'chat_id'], unique=False)

    op.create_table('case_entities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('attrs', sa.JSON(), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('added_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('added_at', storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'kind', 'key')
    )

    op.create_table('case_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('src_id', sa.Integer(), nullable=False),
    sa.Column('dst_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('added_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('added_at', storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['src_id'], ['case_entities.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dst_id'], ['case_entities.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'src_id', 'dst_id', 'kind')
    )

    op.create_table('case_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_notes_case_id'), ['case_id'], unique=False)

    op.create_table('case_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(), nullable=False),
    sa.Column('by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index('ix_case_events_case', ['case_id', 'at'], unique=False)

    op.create_table('case_current',
    sa.Column('chat_platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('set_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('set_at', storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('chat_platform', 'chat_id')
    )


def downgrade() -> None:
    op.drop_table('case_current')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index('ix_case_events_case')
    op.drop_table('case_events')
    with op.batch_alter_table('case_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_notes_case_id'))
    op.drop_table('case_notes')
    op.drop_table('case_links')
    op.drop_table('case_entities')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_chat')
    op.drop_table('cases')
