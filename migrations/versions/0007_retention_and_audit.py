"""retention and audit: payloads that can be removed, the indexes the purge walks, and the
audit trail of configuration changes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 03:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
UTCDateTime = sa.DateTime(timezone=True)
PAYLOAD_KEPT = sa.text('payload IS NOT NULL')


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.alter_column('payload', existing_type=sa.Text(), nullable=True)
        batch_op.add_column(sa.Column('payload_removed_at', UTCDateTime, nullable=True))
        batch_op.create_index('ix_events_created', ['created_at'], unique=False)
        batch_op.create_index('ix_events_payload_kept', ['created_at'], unique=False,
                              postgresql_where=PAYLOAD_KEPT, sqlite_where=PAYLOAD_KEPT)
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.alter_column('request_headers', existing_type=sa.JSON(), nullable=True)

    op.create_table('audit_entries',
    sa.Column('id', BigId, nullable=False),
    sa.Column('organization_id', BigId, nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', BigId, nullable=True),
    sa.Column('actor_label', sa.String(length=254), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.Column('webhook_id', BigId, nullable=True),
    sa.Column('webhook_name', sa.String(length=100), nullable=True),
    sa.Column('delivery_id', BigId, nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('created_at', UTCDateTime, nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_org', ['organization_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_entries_webhook', ['webhook_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entries_created_at'), ['created_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entries_created_at'))
        batch_op.drop_index('ix_audit_entries_webhook')
        batch_op.drop_index('ix_audit_entries_org')
    op.drop_table('audit_entries')
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.alter_column('request_headers', existing_type=sa.JSON(), nullable=False)
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_payload_kept')
        batch_op.drop_index('ix_events_created')
        batch_op.drop_column('payload_removed_at')
        batch_op.alter_column('payload', existing_type=sa.Text(), nullable=False)
