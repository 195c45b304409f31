"""management API: organization API keys, idempotent requests, signing-secret rotation and
custom request headers

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
UTCDateTime = sa.DateTime(timezone=True)


def upgrade():
    op.create_table('api_keys',
    sa.Column('id', BigId, nullable=False),
    sa.Column('organization_id', BigId, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=8), nullable=False),
    sa.Column('created_by_id', BigId, nullable=True),
    sa.Column('created_by_label', sa.String(length=254), nullable=False),
    sa.Column('created_at', UTCDateTime, nullable=False),
    sa.Column('last_used_at', UTCDateTime, nullable=True),
    sa.Column('expires_at', UTCDateTime, nullable=True),
    sa.Column('revoked_at', UTCDateTime, nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_organization_id'), ['organization_id'],
                              unique=False)

    op.create_table('api_idempotent_requests',
    sa.Column('id', BigId, nullable=False),
    sa.Column('api_key_id', BigId, nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('created_at', UTCDateTime, nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('api_key_id', 'key', name='uq_idempotent_key')
    )
    with op.batch_alter_table('api_idempotent_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_idempotent_requests_created_at'), ['created_at'],
                              unique=False)

    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_secret_encrypted', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('previous_secret_expires_at', UTCDateTime, nullable=True))
        batch_op.add_column(sa.Column('headers_encrypted', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.drop_column('headers_encrypted')
        batch_op.drop_column('previous_secret_expires_at')
        batch_op.drop_column('previous_secret_encrypted')
    with op.batch_alter_table('api_idempotent_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_idempotent_requests_created_at'))
    op.drop_table('api_idempotent_requests')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_organization_id'))
    op.drop_table('api_keys')
