"""fair delivery: per-webhook unanswered streak, lease owner, indexes for fair claiming and the cap

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 14:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unanswered_streak', sa.Integer(), server_default='0',
                                      nullable=False))
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_deliveries_pending_by_webhook',
                              ['state', 'webhook_id', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_deliveries_webhook_lease', ['webhook_id', 'lease_until'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_webhook_lease')
        batch_op.drop_index('ix_deliveries_pending_by_webhook')
        batch_op.drop_column('lease_owner')
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.drop_column('unanswered_streak')
