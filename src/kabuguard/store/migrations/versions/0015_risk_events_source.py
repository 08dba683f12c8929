"""risk events: source (the decision API or kabuguard's own app)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26 02:10:00.000000
"""
# NOTE (after warehouse): migrations run while the previous release may still be
# serving. Keep each one backwards compatible: add columns nullable or with a server
# default, backfill in a later revision, and drop only what no running code reads.

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The rows before this revision all came through the decision API.
    with op.batch_alter_table('risk_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=10), server_default='api',
                                      nullable=False))
        batch_op.create_check_constraint(op.f('ck_risk_events_source'),
                                         "source IN ('api', 'app')")


def downgrade() -> None:
    with op.batch_alter_table('risk_events', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_risk_events_source'), type_='check')
        batch_op.drop_column('source')
