"""Accounts: workspaces, memberships, API tokens, failed-login counters.

Revision ID: 0002_accounts
Revises: 0001_store
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_accounts"
down_revision = "0001_store"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('auth_failure',
    sa.Column('key', sa.String(length=320), nullable=False),
    sa.Column('window_start', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('workspace',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid')
    )
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=255), server_default='', nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('access_level', sa.String(length=32), nullable=False),
    sa.Column('operations', sa.JSON(), nullable=False),
    sa.Column('visible_fields', sa.JSON(), nullable=False),
    sa.Column('calendar_ids', sa.JSON(), nullable=True),
    sa.Column('past_days', sa.Integer(), nullable=True),
    sa.Column('future_days', sa.Integer(), nullable=True),
    sa.Column('expires_at', sa.BigInteger(), nullable=True),
    sa.Column('revoked_at', sa.BigInteger(), nullable=True),
    sa.Column('last_used_at', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('prefix')
    )
    op.create_index(op.f('ix_api_token_user_id'), 'api_token', ['user_id'], unique=False)
    op.create_table('membership',
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'user_id')
    )
    op.add_column('collection', sa.Column('workspace_id', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_collection_workspace_id'), 'collection', ['workspace_id'], unique=False)
    op.add_column('user_account', sa.Column('default_workspace_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column('user_account', 'default_workspace_id')
    op.drop_index(op.f('ix_collection_workspace_id'), table_name='collection')
    op.drop_column('collection', 'workspace_id')
    op.drop_table('membership')
    op.drop_index(op.f('ix_api_token_user_id'), table_name='api_token')
    op.drop_table('api_token')
    op.drop_table('workspace')
    op.drop_table('auth_failure')
