"""endpoint health: failure categories, hourly statistics, health states, bulk resends and
replays

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 06:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
UTCDateTime = sa.DateTime(timezone=True)


def upgrade():
    op.create_table('recoveries',
    sa.Column('id', BigId, nullable=False),
    sa.Column('webhook_id', BigId, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('window_from', UTCDateTime, nullable=True),
    sa.Column('window_to', UTCDateTime, nullable=True),
    sa.Column('event_type', sa.String(length=64), nullable=True),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('created_by_id', BigId, nullable=True),
    sa.Column('created_at', UTCDateTime, nullable=False),
    sa.Column('cancelled_at', UTCDateTime, nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['webhook_id'], ['webhooks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('recoveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recoveries_webhook_id'), ['webhook_id'], unique=False)

    op.create_table('webhook_hourly_stats',
    sa.Column('webhook_id', BigId, nullable=False),
    sa.Column('hour', UTCDateTime, nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('attempts_failed', sa.Integer(), nullable=False),
    sa.Column('first_attempts', sa.Integer(), nullable=False),
    sa.Column('first_attempts_succeeded', sa.Integer(), nullable=False),
    sa.Column('succeeded', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('retrying', sa.Integer(), nullable=False),
    sa.Column('duration_ms_total', sa.Integer(), nullable=False),
    sa.Column('ms_5', sa.Integer(), nullable=False),
    sa.Column('ms_10', sa.Integer(), nullable=False),
    sa.Column('ms_25', sa.Integer(), nullable=False),
    sa.Column('ms_50', sa.Integer(), nullable=False),
    sa.Column('ms_100', sa.Integer(), nullable=False),
    sa.Column('ms_200', sa.Integer(), nullable=False),
    sa.Column('ms_300', sa.Integer(), nullable=False),
    sa.Column('ms_500', sa.Integer(), nullable=False),
    sa.Column('ms_750', sa.Integer(), nullable=False),
    sa.Column('ms_1000', sa.Integer(), nullable=False),
    sa.Column('ms_1500', sa.Integer(), nullable=False),
    sa.Column('ms_2000', sa.Integer(), nullable=False),
    sa.Column('ms_3000', sa.Integer(), nullable=False),
    sa.Column('ms_5000', sa.Integer(), nullable=False),
    sa.Column('ms_10000', sa.Integer(), nullable=False),
    sa.Column('ms_15000', sa.Integer(), nullable=False),
    sa.Column('ms_over', sa.Integer(), nullable=False),
    sa.Column('http_4xx', sa.Integer(), nullable=False),
    sa.Column('http_5xx', sa.Integer(), nullable=False),
    sa.Column('redirect', sa.Integer(), nullable=False),
    sa.Column('timeout', sa.Integer(), nullable=False),
    sa.Column('connection', sa.Integer(), nullable=False),
    sa.Column('tls', sa.Integer(), nullable=False),
    sa.Column('dns', sa.Integer(), nullable=False),
    sa.Column('blocked', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['webhook_id'], ['webhooks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('webhook_id', 'hour')
    )
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('certificate_expires_at', UTCDateTime, nullable=True))

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recovery_id', BigId, nullable=True))
        batch_op.create_index(batch_op.f('ix_deliveries_recovery_id'), ['recovery_id'], unique=False)
        batch_op.create_foreign_key('fk_deliveries_recovery_id', 'recoveries', ['recovery_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_category', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('last_success_at', UTCDateTime, nullable=True))
        batch_op.add_column(sa.Column('last_failure_at', UTCDateTime, nullable=True))
        batch_op.add_column(sa.Column('certificate_expires_at', UTCDateTime, nullable=True))
        batch_op.add_column(sa.Column('failing_since', UTCDateTime, nullable=True))
        batch_op.add_column(sa.Column('failing_deliveries', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('disable_warned_at', UTCDateTime, nullable=True))
        batch_op.add_column(sa.Column('deactivated_at', UTCDateTime, nullable=True))
        batch_op.add_column(sa.Column('disabled_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('missed_from', UTCDateTime, nullable=True))
        batch_op.add_column(sa.Column('missed_until', UTCDateTime, nullable=True))
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_org_created', ['organization_id', 'created_at'],
                              unique=False)



def downgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_org_created')
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.drop_column('missed_until')
        batch_op.drop_column('missed_from')
        batch_op.drop_column('disabled_reason')
        batch_op.drop_column('deactivated_at')
        batch_op.drop_column('disable_warned_at')
        batch_op.drop_column('failing_deliveries')
        batch_op.drop_column('failing_since')
        batch_op.drop_column('certificate_expires_at')
        batch_op.drop_column('last_failure_at')
        batch_op.drop_column('last_success_at')
        batch_op.drop_column('last_category')

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint('fk_deliveries_recovery_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_deliveries_recovery_id'))
        batch_op.drop_column('recovery_id')

    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_column('certificate_expires_at')
        batch_op.drop_column('category')

    op.drop_table('webhook_hourly_stats')
    with op.batch_alter_table('recoveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recoveries_webhook_id'))

    op.drop_table('recoveries')
