"""runtime setting overrides

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

Settings an admin changes on the dashboard (escalation minutes, the automatic reply text):
one row per overridden setting; the environment's values stay the defaults.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "setting_overrides",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_setting_overrides_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_setting_overrides")),
    )


def downgrade() -> None:
    op.drop_table("setting_overrides")
