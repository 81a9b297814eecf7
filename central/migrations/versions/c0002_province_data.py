"""the province's data: trade catalogue, external scores, central's decisions; ticket
numbers as the province issues them (up to 32 characters)

Revision ID: c0002
Revises: c0001
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import central.db

revision = "c0002"
down_revision = "c0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trade_catalogue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", central.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trade_catalogue")),
    )
    op.create_table(
        "external_score",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Numeric(precision=7, scale=2), nullable=True),
        sa.Column("verdict", sa.Boolean(), nullable=True),
        sa.Column("entered_by", sa.String(length=100), nullable=False),
        sa.Column("entered_at", central.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
            name=op.f("fk_external_score_registration_id_registration"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_score")),
        sa.UniqueConstraint(
            "registration_id", "subject", name=op.f("uq_external_score_registration_id")
        ),
    )
    with op.batch_alter_table("external_score", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_external_score_registration_id"), ["registration_id"], unique=False
        )
    op.create_table(
        "outcome",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("total", sa.Numeric(precision=8, scale=2), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("decided_at", central.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
            name=op.f("fk_outcome_registration_id_registration"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome")),
        sa.UniqueConstraint("registration_id", name=op.f("uq_outcome_registration_id")),
    )
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.alter_column(
            "ticket", existing_type=sa.String(length=12), type_=sa.String(length=32)
        )
    with op.batch_alter_table("rescored_attempt", schema=None) as batch_op:
        batch_op.alter_column(
            "ticket", existing_type=sa.String(length=12), type_=sa.String(length=32)
        )


def downgrade() -> None:
    with op.batch_alter_table("rescored_attempt", schema=None) as batch_op:
        batch_op.alter_column(
            "ticket", existing_type=sa.String(length=32), type_=sa.String(length=12)
        )
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.alter_column(
            "ticket", existing_type=sa.String(length=32), type_=sa.String(length=12)
        )
    op.drop_table("outcome")
    with op.batch_alter_table("external_score", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_external_score_registration_id"))
    op.drop_table("external_score")
    op.drop_table("trade_catalogue")
