"""sign-in from the host application: host user ids, organization-scoped and read-only sessions,
single-use sign-in links

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 17:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('password_hash', existing_type=sa.String(length=255), nullable=True)
        batch_op.add_column(sa.Column('host_user_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('name', sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint('uq_users_host_user_id', ['host_user_id'])
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('organization_id', BigId, nullable=True))
        batch_op.add_column(sa.Column('read_only', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.create_foreign_key('fk_user_sessions_organization_id', 'organizations',
                                    ['organization_id'], ['id'], ondelete='CASCADE')
        batch_op.create_index('ix_user_sessions_organization_id', ['organization_id'], unique=False)
    op.create_table('sign_in_links',
    sa.Column('id', BigId, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('claims', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('sign_in_links', schema=None) as batch_op:
        batch_op.create_index('ix_sign_in_links_expires_at', ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('sign_in_links', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_in_links_expires_at')
    op.drop_table('sign_in_links')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_user_sessions_organization_id')
        batch_op.drop_constraint('fk_user_sessions_organization_id', type_='foreignkey')
        batch_op.drop_column('read_only')
        batch_op.drop_column('organization_id')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('uq_users_host_user_id', type_='unique')
        batch_op.drop_column('name')
        batch_op.drop_column('host_user_id')
        batch_op.alter_column('password_hash', existing_type=sa.String(length=255), nullable=False)
