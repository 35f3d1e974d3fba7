"""care: follow-ups, safety plans, risk formulations, caring contacts

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

The tables of what happens after a crisis (the ``care`` domain).  New tables only; their
clinical free text (notes, plan sections, the plan of a formulation, a caring contact as sent)
is encrypted by the application, bound to its row, as every later write is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _when(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _user(table: str, name: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([name], ["users.id"], name=op.f(f"fk_{table}_{name}_users"))


def upgrade() -> None:
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.String(length=128), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=True),
        _when("due_at", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _when("created_at", nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _when("overdue_at"),
        _when("escalated_at"),
        _when("completed_at"),
        sa.Column("completed_by", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _when("cancelled_at"),
        sa.Column("reply_case_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_follow_ups_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["reply_case_id"], ["cases.id"], name=op.f("fk_follow_ups_reply_case_id_cases")
        ),
        _user("follow_ups", "created_by"),
        _user("follow_ups", "completed_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
    )
    op.create_index(op.f("ix_follow_ups_patient_id"), "follow_ups", ["patient_id"])
    op.create_index(op.f("ix_follow_ups_case_id"), "follow_ups", ["case_id"])
    op.create_index("ix_follow_ups_due", "follow_ups", ["status", "due_at"])

    op.create_table(
        "safety_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        _when("created_at", nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_by_name", sa.String(length=100), nullable=False),
        _user("safety_plans", "created_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_plans")),
        sa.UniqueConstraint("patient_id", "version", name=op.f("uq_safety_plans_patient_id")),
    )

    op.create_table(
        "risk_formulations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.String(length=128), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("factors", sa.JSON(), nullable=False),
        sa.Column("plan", sa.Text(), nullable=True),
        _when("created_at", nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_risk_formulations_case_id_cases")
        ),
        _user("risk_formulations", "created_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_formulations")),
    )
    op.create_index(op.f("ix_risk_formulations_case_id"), "risk_formulations", ["case_id"])
    op.create_index(op.f("ix_risk_formulations_patient_id"), "risk_formulations", ["patient_id"])

    op.create_table(
        "caring_contact_enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.String(length=128), nullable=False),
        sa.Column("opted_in", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        _when("opted_in_at"),
        sa.Column("opted_in_by", sa.String(length=100), nullable=True),
        _when("opted_out_at"),
        sa.Column("opted_out_by", sa.String(length=100), nullable=True),
        sa.Column("opt_out_reason", sa.String(length=32), nullable=True),
        _when("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caring_contact_enrolments")),
        sa.UniqueConstraint("patient_id", name=op.f("uq_caring_contact_enrolments_patient_id")),
    )

    op.create_table(
        "caring_contact_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        _when("created_at", nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _when("approved_at"),
        sa.Column("approved_by", sa.Integer(), nullable=True),
        _when("retired_at"),
        _user("caring_contact_templates", "created_by"),
        _user("caring_contact_templates", "approved_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caring_contact_templates")),
    )
    op.create_index(
        op.f("ix_caring_contact_templates_language"), "caring_contact_templates", ["language"]
    )

    op.create_table(
        "caring_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.String(length=128), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        _when("due_at", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _when("created_at", nullable=False),
        _when("sent_at"),
        _when("cancelled_at"),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["caring_contact_templates.id"],
            name=op.f("fk_caring_contacts_template_id_caring_contact_templates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caring_contacts")),
    )
    op.create_index(op.f("ix_caring_contacts_patient_id"), "caring_contacts", ["patient_id"])
    op.create_index("ix_caring_contacts_due", "caring_contacts", ["status", "due_at"])


def downgrade() -> None:
    for table in (
        "caring_contacts",
        "caring_contact_templates",
        "caring_contact_enrolments",
        "risk_formulations",
        "safety_plans",
        "follow_ups",
    ):
        op.drop_table(table)
