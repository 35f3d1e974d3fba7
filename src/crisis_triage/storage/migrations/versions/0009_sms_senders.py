"""SMS senders: a sender's phone number (as a keyed hash) to a patient id

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-06

The inbound SMS channel (``POST /v1/channels/sms/twilio``) maps the sender's number to a patient
id through this table, which an admin manages.  Only an HMAC of the number is stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_senders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_senders")),
        sa.UniqueConstraint("phone_hash", name=op.f("uq_sms_senders_phone_hash")),
    )
    op.create_index(op.f("ix_sms_senders_patient_id"), "sms_senders", ["patient_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sms_senders_patient_id"), table_name="sms_senders")
    op.drop_table("sms_senders")
