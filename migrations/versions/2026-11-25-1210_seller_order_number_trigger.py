"""Seller order numbers are given by the database as the row is inserted: a row trigger sets
"SO-<id + 1000>" when the insert leaves ``number`` NULL (the checkout no longer UPDATEs its seller orders after
inserting them).

Migrations never import souk, so the SQL is a copy of ``souk.models.order.SELLER_ORDER_NUMBER_*`` (the models
attach that one to ``create_all``); tests/checkout/test_seller_order_numbers.py checks that the two agree.

Revision ID: 9c41d7a2e6b3
Revises: 70a478621e40
Create Date: 2026-11-25 12:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "9c41d7a2e6b3"
down_revision: str | None = "70a478621e40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NUMBER_OFFSET = 1000
SELLER_ORDER_NUMBER_SQLITE = (
    "CREATE TRIGGER seller_orders_number AFTER INSERT ON seller_orders FOR EACH ROW "
    "WHEN NEW.number IS NULL BEGIN "
    f"UPDATE seller_orders SET number = 'SO-' || (NEW.id + {NUMBER_OFFSET}) WHERE id = NEW.id; END"
)
SELLER_ORDER_NUMBER_PG = (
    "CREATE OR REPLACE FUNCTION seller_order_number() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN IF NEW.number IS NULL THEN NEW.number := 'SO-' || (NEW.id + {NUMBER_OFFSET}); END IF; "
    "RETURN NEW; END $$",
    "CREATE TRIGGER seller_orders_number BEFORE INSERT ON seller_orders FOR EACH ROW "
    "EXECUTE FUNCTION seller_order_number()",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(SELLER_ORDER_NUMBER_SQLITE)
    else:
        for statement in SELLER_ORDER_NUMBER_PG:
            op.execute(statement)


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER IF EXISTS seller_orders_number"
        + ("" if op.get_bind().dialect.name == "sqlite" else " ON seller_orders")
    )
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS seller_order_number()")
