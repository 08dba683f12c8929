"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""
# NOTE (after warehouse): migrations run while the previous release may still be
# serving. Keep each one backwards compatible: add columns nullable or with a server
# default, backfill in a later revision, and drop only what no running code reads.

from alembic import op
import sqlalchemy as sa

import kabuguard.store.types
${imports if imports else ""}

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
