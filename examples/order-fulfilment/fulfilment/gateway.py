"""A simulated payment gateway. Behaviour is chosen by the card token, as with real gateways'
test tokens: `tok_declined...` is declined, `tok_gateway_down` finds the gateway unavailable,
any other `tok_...` token is captured."""

from __future__ import annotations

import hashlib


class CardDeclined(Exception):
    """The issuer declined the card; retrying will not help."""


class GatewayUnavailable(Exception):
    """The gateway did not answer; a retry later may succeed."""


def transaction_id(order_id: str) -> str:
    """The gateway's transaction id for an order (the order id is the merchant reference)."""
    return "txn_" + hashlib.sha256(order_id.encode()).hexdigest()[:16]


def capture(order_id: str, token: str, amount_cents: int, currency: str) -> dict[str, object]:
    """Capture a card payment.

    Raises:
        CardDeclined: the token is a declined (or unknown) card.
        GatewayUnavailable: the gateway is down.
    """
    if token == "tok_gateway_down":
        raise GatewayUnavailable("payment gateway timed out")
    if token.startswith("tok_declined") or not token.startswith("tok_"):
        raise CardDeclined(f"card {token!r} declined")
    return {
        "transaction_id": transaction_id(order_id),
        "status": "captured",
        "amount_cents": amount_cents,
        "currency": currency,
    }


def refund(order_id: str) -> dict[str, str]:
    """Refund the whole captured amount of an order's transaction."""
    txn = transaction_id(order_id)
    return {"transaction_id": txn, "refund_id": "re_" + txn[4:], "status": "refunded"}
