"""exam_plan: the province's forms, ticket rule and document texts; longer ticket numbers

A plan now carries the exam form of each level (parts, delivery, full marks, pass lines)
instead of a list of uniform cutoffs, the province's ticket rule, and what the printed
documents say. A candidate's ticket number is the province's, up to 32 characters.

Revision ID: 0009_province
Revises: 0008
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_province"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exam_plan", schema=None) as batch_op:
        batch_op.add_column(sa.Column("forms", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("ticket_rule", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("documents", sa.JSON(), nullable=False, server_default="{}")
        )
        batch_op.drop_column("cutoffs")
    with op.batch_alter_table("exam_plan", schema=None) as batch_op:
        batch_op.alter_column("forms", server_default=None)
        batch_op.alter_column("documents", server_default=None)
    with op.batch_alter_table("candidate", schema=None) as batch_op:
        batch_op.alter_column(
            "ticket", existing_type=sa.String(length=12), type_=sa.String(length=32)
        )


def downgrade() -> None:
    with op.batch_alter_table("candidate", schema=None) as batch_op:
        batch_op.alter_column(
            "ticket", existing_type=sa.String(length=32), type_=sa.String(length=12)
        )
    with op.batch_alter_table("exam_plan", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cutoffs", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.drop_column("documents")
        batch_op.drop_column("ticket_rule")
        batch_op.drop_column("forms")
