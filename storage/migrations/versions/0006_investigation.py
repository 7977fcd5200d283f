"""investigations and their checklists

Revision ID: 0006_investigation
Revises: 0001
Create Date: 2026-11-28
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = '0006_investigation'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('investigations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chat_platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('playbook', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('started_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('started_at', storage.types.UTCDateTime(), nullable=False),
    sa.Column('finished_at', storage.types.UTCDateTime(), nullable=True),
    sa.Column('requests_used', sa.Integer(), nullable=False),
    sa.Column('requests_max', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('investigations', schema=None) as batch_op:
        batch_op.create_index('ix_investigations_chat', ['chat_platform', 'chat_id'], unique=False)

    op.create_table('investigation_checklist',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('investigation_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=True),
    sa.Column('help', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('at', storage.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['investigation_id'], ['investigations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('investigation_id', 'step')
    )
    with op.batch_alter_table('investigation_checklist', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_investigation_checklist_investigation_id'), ['investigation_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('investigation_checklist', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_investigation_checklist_investigation_id'))
    op.drop_table('investigation_checklist')
    with op.batch_alter_table('investigations', schema=None) as batch_op:
        batch_op.drop_index('ix_investigations_chat')
    op.drop_table('investigations')
