"""Tasks of the order fulfilment: validate the order, reserve stock per line, charge the payment,
ship, and the compensations (release, refund, notify) that run when a step fails."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from fulfilment import catalogue, gateway
from selinonc.runtime import FatalTaskError, SelinonTask

PO_BOX = re.compile(r"\bP\.?\s*O\.?\s*Box\b", re.IGNORECASE)


def _email(node_args: dict[str, Any], subject: str, body: str) -> dict[str, str]:
    return {"to": node_args["customer"]["email"], "subject": subject, "body": body}


def _line_problems(lines: list[Any]) -> list[str]:
    problems: list[str] = []
    if not lines:
        problems.append("the order has no lines")
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        sku, quantity = line.get("sku"), line.get("quantity")
        if sku not in catalogue.PRODUCTS:
            problems.append(f"line {number}: unknown SKU {sku!r}")
        elif sku in seen:
            problems.append(f"line {number}: {sku} appears twice")
        seen.add(str(sku))
        if not isinstance(quantity, int) or not 1 <= quantity <= 100:
            problems.append(f"line {number}: quantity must be 1..100, got {quantity!r}")
    return problems


def _order_problems(node_args: dict[str, Any]) -> list[str]:
    problems = _line_problems(node_args["lines"])
    shipping = node_args.get("shipping", {})
    payment = node_args.get("payment", {})
    if shipping.get("country") not in catalogue.SUPPORTED_COUNTRIES:
        problems.append(f"we do not ship to {shipping.get('country')!r}")
    if shipping.get("method") not in catalogue.SHIPPING_CENTS:
        problems.append(f"unknown shipping method {shipping.get('method')!r}")
    if payment.get("method") == "invoice" and node_args["customer"].get("tier") != "business":
        problems.append("paying by invoice is for business customers only")
    elif payment.get("method") not in ("card", "invoice"):
        problems.append(f"unknown payment method {payment.get('method')!r}")
    coupon = node_args.get("coupon")
    if coupon is not None and coupon not in catalogue.COUPONS:
        problems.append(f"unknown coupon {coupon!r}")
    return problems


def _price(node_args: dict[str, Any]) -> dict[str, Any]:
    subtotal = sum(
        catalogue.PRODUCTS[line["sku"]].unit_price_cents * line["quantity"]
        for line in node_args["lines"]
    )
    discount = subtotal * catalogue.COUPONS.get(node_args.get("coupon") or "", 0) // 100
    method = node_args["shipping"]["method"]
    shipping = catalogue.SHIPPING_CENTS[method]
    if method == "standard" and subtotal >= catalogue.FREE_STANDARD_SHIPPING_FROM_CENTS:
        shipping = 0
    return {
        "currency": catalogue.CURRENCY,
        "subtotal_cents": subtotal,
        "discount_cents": discount,
        "shipping_cents": shipping,
        "total_cents": subtotal - discount + shipping,
    }


class ValidateOrder(SelinonTask):
    """Check the order and price it. An order with problems is not an error: the result says
    `valid: false` and the flow rejects the order. A structurally broken request is fatal."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        well_formed = (
            isinstance(node_args.get("order_id"), str)
            and isinstance(node_args.get("lines"), list)
            and isinstance(node_args.get("customer"), dict)
        )
        if not well_formed:
            raise FatalTaskError("an order needs 'order_id', 'lines' and 'customer'")
        problems = _order_problems(node_args)
        if problems:
            return {"order_id": node_args["order_id"], "valid": False, "problems": problems}
        return {
            "order_id": node_args["order_id"],
            "valid": True,
            "problems": [],
            **_price(node_args),
        }


class RejectOrder(SelinonTask):
    """Tell the shop front-end why the order was rejected."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        validation = self.parent_task_result("ValidateOrder")
        return {
            "order_id": node_args["order_id"],
            "status": "rejected",
            "problems": validation["problems"],
        }


class FlagHighValueOrder(SelinonTask):
    """Put a high-value order on the fraud team's review list (the order goes on meanwhile)."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        validation = self.parent_task_result("ValidateOrder")
        return {
            "order_id": node_args["order_id"],
            "total_cents": validation["total_cents"],
            "review_queue": "fraud-review",
        }


class ReserveStock(SelinonTask):
    """Hold the units of one order line (`reserve_line_item`; its node_args are one foreach item)
    in the warehouse with the most stock. No warehouse can serve it: the line fails, and with it
    (eagerly) `reserve_stock`."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        sku, quantity = node_args["sku"], node_args["quantity"]
        stock = catalogue.STOCK.get(sku, {})
        candidates = sorted(
            (-units, warehouse) for warehouse, units in stock.items() if units >= quantity
        )
        if not candidates:
            raise FatalTaskError(f"{sku}: {quantity} requested, no warehouse has that many")
        warehouse = candidates[0][1]
        remaining = stock[warehouse] - quantity
        return {
            "reservation_id": f"{node_args['order_id']}/{node_args['line_no']}/{warehouse}",
            "sku": sku,
            "quantity": quantity,
            "warehouse": warehouse,
            "remaining": remaining,
            "below_reorder_point": remaining < catalogue.REORDER_POINT,
        }


class RequestRestock(SelinonTask):
    """Ask purchasing to restock a SKU in a warehouse (`nowait`: nobody waits for the answer)."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        reservation = self.parent_task_result("ReserveStock")
        return {
            "sku": reservation["sku"],
            "warehouse": reservation["warehouse"],
            "quantity": catalogue.REORDER_QUANTITY,
        }


class ChargePayment(SelinonTask):
    """Charge the order total (stored as `payment`). A declined card is final; an unavailable
    gateway raises an ordinary exception, which is retried (`max_retry`, `retry_countdown`)."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        validation = self.parent_task_result("ValidateOrder")
        payment = node_args["payment"]
        if payment["method"] == "invoice":
            return {
                "order_id": node_args["order_id"],
                "status": "invoiced",
                "amount_cents": validation["total_cents"],
                "currency": validation["currency"],
                "invoice_number": "INV-" + node_args["order_id"],
            }
        try:
            charge = gateway.capture(
                node_args["order_id"],
                payment["token"],
                validation["total_cents"],
                validation["currency"],
            )
        except gateway.CardDeclined as exc:
            raise FatalTaskError(str(exc)) from exc
        return {"order_id": node_args["order_id"], **charge}


class EmailReceipt(SelinonTask):
    """Email the receipt (only for customers who gave an address)."""

    def run(self, node_args: dict[str, Any]) -> dict[str, str]:
        charge = self.parent_task_result("ChargePayment")
        amount = f"{charge['amount_cents'] / 100:.2f} {charge['currency']}"
        return _email(
            node_args,
            f"Your order {node_args['order_id']}",
            f"Thank you! We received {amount} ({charge['status']}).",
        )


class CreateShipment(SelinonTask):
    """Book the parcel with the carrier of the destination country (`ship_order`; the charge
    comes from the parent flow through `propagate_parent`, for the customs paperwork)."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        shipping = node_args["shipping"]
        if shipping["method"] == "express" and PO_BOX.search(shipping.get("address", "")):
            raise FatalTaskError("the carrier does not deliver express parcels to PO boxes")
        charge = self.parent_task_result("ChargePayment")
        carrier, prefix = catalogue.CARRIERS[shipping["country"]]
        weight = sum(
            catalogue.PRODUCTS[line["sku"]].weight_grams * line["quantity"]
            for line in node_args["lines"]
        )
        digest = hashlib.sha256(node_args["order_id"].encode()).hexdigest()[:12].upper()
        return {
            "order_id": node_args["order_id"],
            "carrier": carrier,
            "service": shipping["method"],
            "tracking_number": prefix + digest,
            "weight_grams": weight,
            "payment_reference": charge.get("transaction_id") or charge["invoice_number"],
            "address": shipping.get("address", ""),
            "country": shipping["country"],
        }


class PrintLabel(SelinonTask):
    """The shipping label, in a small text layout the label printer understands."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        shipment = self.parent_task_result("CreateShipment")
        label = "\n".join(
            [
                f"{shipment['carrier']} {shipment['service'].upper()}",
                f"TRACKING {shipment['tracking_number']}",
                f"TO {shipment['address']}, {shipment['country']}",
                f"WEIGHT {shipment['weight_grams'] / 1000:.2f} KG",
            ]
        )
        return {"tracking_number": shipment["tracking_number"], "label": label + "\n"}


class NotifyCustomerShipped(SelinonTask):
    """Email the tracking number (`nowait`)."""

    def run(self, node_args: dict[str, Any]) -> dict[str, str]:
        shipment = self.parent_task_result("CreateShipment")
        return _email(
            node_args,
            f"Order {node_args['order_id']} is on its way",
            f"Track it with {shipment['carrier']}: {shipment['tracking_number']}.",
        )


class ReleaseReservations(SelinonTask):
    """Fallback: release the holds of every line of the order. Releasing a line that holds
    nothing is a no-op for the warehouse, so this needs no knowledge of which lines succeeded."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        return {
            "order_id": node_args["order_id"],
            "released": [
                {"line_no": number, "sku": line["sku"], "quantity": line["quantity"]}
                for number, line in enumerate(node_args["lines"], start=1)
            ],
        }


class NotifyOutOfStock(SelinonTask):
    """Fallback: tell the customer that part of the order is out of stock."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        return {
            "order_id": node_args["order_id"],
            "status": "cancelled",
            "reason": "out of stock",
        }


class NotifyPaymentFailed(SelinonTask):
    """Fallback: ask the customer to pay another way."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        return {
            "order_id": node_args["order_id"],
            "status": "payment-failed",
            "retry_url": f"https://shop.example.com/orders/{node_args['order_id']}/pay",
        }


class RefundPayment(SelinonTask):
    """Fallback when shipping fails: refund the whole captured amount."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        if node_args["payment"]["method"] == "invoice":
            return {"order_id": node_args["order_id"], "status": "invoice-cancelled"}
        return {"order_id": node_args["order_id"], **gateway.refund(node_args["order_id"])}


class NotifyCustomerRefunded(SelinonTask):
    """Tell the customer that the order could not be shipped and was refunded."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        refund = self.parent_task_result("RefundPayment")
        return {
            "order_id": node_args["order_id"],
            "status": "cancelled",
            "reason": "the order could not be shipped",
            "refund": refund["status"],
        }
