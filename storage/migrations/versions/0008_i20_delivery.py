"""delivery once: the inbox of received chat updates, and one alert row per post and chat

Revision ID: 0008_i20_delivery
Revises: 0007_signals
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import storage.types


revision = '0008_i20_delivery'
down_revision = '0007_signals'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbox',
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('bot_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('update_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('received_at', storage.types.UTCDateTime(), nullable=False),
    sa.Column('handled_at', storage.types.UTCDateTime(), nullable=True),
    sa.Column('reruns', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('platform', 'bot_id', 'update_id')
    )
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_received_at'), ['received_at'], unique=False)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('post_id', sa.Integer(), nullable=True))
    _number_alerts_by_post()
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_outbox_post_chat', ['post_id', 'chat_platform', 'chat_id'])


def _number_alerts_by_post() -> None:
    """Give existing alert rows their post id; a repeat of the same post to the same chat queued by two
    watches keeps no id, and if it is still pending it is folded away instead of being sent twice."""
    outbox = sa.table('outbox', sa.column('id', sa.Integer()), sa.column('chat_platform', sa.String()),
                      sa.column('chat_id', sa.BigInteger()), sa.column('payload', sa.JSON()),
                      sa.column('state', sa.String()), sa.column('last_error', sa.String()),
                      sa.column('post_id', sa.Integer()))
    bind = op.get_bind()
    first: dict[tuple[int, str, int], int] = {}
    rows = bind.execute(sa.select(outbox.c.id, outbox.c.chat_platform, outbox.c.chat_id, outbox.c.payload,
                                  outbox.c.state).order_by(outbox.c.id)).all()
    for row_id, platform, chat_id, payload, state in rows:
        post = (payload or {}).get('post') if (payload or {}).get('kind') == 'alert' else None
        post_id = post.get('id') if isinstance(post, dict) else None
        if not isinstance(post_id, int):
            continue
        key = (post_id, platform, chat_id)
        if key not in first:
            first[key] = row_id
            bind.execute(outbox.update().where(outbox.c.id == row_id).values(post_id=post_id))
        elif state == 'pending':
            bind.execute(outbox.update().where(outbox.c.id == row_id)
                         .values(state='grouped', last_error=f'same post as row {first[key]}'))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint('uq_outbox_post_chat', type_='unique')
        batch_op.drop_column('post_id')
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbox_received_at'))
    op.drop_table('inbox')
