"""Batch prices per model, to estimate what a durable job cost (:mod:`rxbatches._jobs.durable`).

The table is dated: prices change, and an estimate says which table it used. Batch
requests cost half the standard price; a prompt-cache write costs 1.25 times the input
price (5-minute cache) and a cache read 0.1 times, at the same batch discount. A model
missing from the table has an unknown cost (``None``), never zero: a job that used it
reports ``cost_usd: null`` rather than an understated number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["BATCH_PRICES", "PRICES_AS_OF", "ModelPrice", "Usage4", "estimate_cost", "price_for"]

PRICES_AS_OF = "2025-11-24"
"""The date of :data:`BATCH_PRICES` (Anthropic's published prices, batch discount applied)."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per million tokens of one model, at batch prices."""

    input: float
    output: float
    cache_write: float
    cache_read: float

    @classmethod
    def batch(cls, standard_input: float, standard_output: float) -> ModelPrice:
        """The batch prices of a model from its standard input and output prices."""
        base_in, base_out = standard_input / 2, standard_output / 2
        return cls(base_in, base_out, base_in * 1.25, base_in * 0.1)


@dataclass(frozen=True, slots=True)
class Usage4:
    """The four token totals of some results."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def __add__(self, other: Usage4) -> Usage4:
        return Usage4(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
        )

    def as_dict(self) -> dict[str, int]:
        """The totals under the API's field names."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
        }


BATCH_PRICES: Mapping[str, ModelPrice] = {
    "claude-opus-4-5": ModelPrice.batch(5.0, 25.0),
    "claude-opus-4-1": ModelPrice.batch(15.0, 75.0),
    "claude-opus-4-0": ModelPrice.batch(15.0, 75.0),
    "claude-opus-4": ModelPrice.batch(15.0, 75.0),
    "claude-sonnet-4-5": ModelPrice.batch(3.0, 15.0),
    "claude-sonnet-4-0": ModelPrice.batch(3.0, 15.0),
    "claude-sonnet-4": ModelPrice.batch(3.0, 15.0),
    "claude-3-7-sonnet": ModelPrice.batch(3.0, 15.0),
    "claude-3-7-sonnet-latest": ModelPrice.batch(3.0, 15.0),
    "claude-haiku-4-5": ModelPrice.batch(1.0, 5.0),
    "claude-3-5-haiku": ModelPrice.batch(0.8, 4.0),
    "claude-3-5-haiku-latest": ModelPrice.batch(0.8, 4.0),
    "claude-3-haiku": ModelPrice.batch(0.25, 1.25),
}
"""USD per million tokens at batch prices, as of :data:`PRICES_AS_OF`, by model alias.

A dated model id (``claude-sonnet-4-5-20250929``) is priced as its alias."""

_DATED = re.compile(r"-\d{8}$")


def price_for(model: str, prices: Mapping[str, ModelPrice] | None = None) -> ModelPrice | None:
    """The price of ``model`` (exactly, else without its ``-YYYYMMDD`` suffix), or ``None``."""
    table = BATCH_PRICES if prices is None else prices
    found = table.get(model)
    if found is None:
        found = table.get(_DATED.sub("", model))
    return found


def estimate_cost(
    usage_by_model: Mapping[str, Usage4], prices: Mapping[str, ModelPrice] | None = None
) -> float | None:
    """The estimated USD cost of the usage, or ``None`` if any model used has no price."""
    total = 0.0
    for model, usage in usage_by_model.items():
        price = price_for(model, prices)
        if price is None:
            return None
        total += (
            usage.input_tokens * price.input
            + usage.output_tokens * price.output
            + usage.cache_creation_input_tokens * price.cache_write
            + usage.cache_read_input_tokens * price.cache_read
        ) / 1_000_000
    return total
