"""The shop's fixture data: products, stock per warehouse, shipping and discounts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    """A product the shop sells."""

    name: str
    unit_price_cents: int
    weight_grams: int


CURRENCY = "EUR"

PRODUCTS: dict[str, Product] = {
    "MUG-001": Product("Ceramic mug", 1290, 350),
    "TEE-BLK-M": Product("T-shirt, black, M", 1990, 180),
    "POSTER-A2": Product("Poster A2", 2490, 200),
    "LAMP-ARC": Product("Arc floor lamp", 18900, 7400),
    "CHAIR-OAK": Product("Oak chair", 45900, 6100),
}

# Units in stock per SKU and warehouse. The fixture is never modified, so every run of a
# scenario sees the same stock.
STOCK: dict[str, dict[str, int]] = {
    "MUG-001": {"brno": 40, "leipzig": 5},
    "TEE-BLK-M": {"brno": 3, "leipzig": 0},
    "POSTER-A2": {"brno": 0, "leipzig": 12},
    "LAMP-ARC": {"brno": 2, "leipzig": 1},
    "CHAIR-OAK": {"brno": 0, "leipzig": 0},
}

# A warehouse reorders a SKU when a reservation leaves fewer units than this.
REORDER_POINT = 5
REORDER_QUANTITY = 20

SUPPORTED_COUNTRIES = frozenset({"AT", "CZ", "DE", "GB", "PL", "SK", "US"})

SHIPPING_CENTS = {"standard": 490, "express": 1490}
FREE_STANDARD_SHIPPING_FROM_CENTS = 5000

# Carrier per destination: (carrier, tracking-number prefix).
CARRIERS: dict[str, tuple[str, str]] = {
    "AT": ("DHL", "JD"),
    "CZ": ("DHL", "JD"),
    "DE": ("DHL", "JD"),
    "PL": ("DHL", "JD"),
    "SK": ("DHL", "JD"),
    "GB": ("UPS", "1Z"),
    "US": ("UPS", "1Z"),
}

COUPONS: dict[str, int] = {"SPRING10": 10, "WELCOME5": 5}  # code -> percent off

HIGH_VALUE_ORDER_CENTS = 50000
