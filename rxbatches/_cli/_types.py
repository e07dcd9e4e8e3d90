"""The argparse types of the command line, on the library's own argument checks.

An option that ends up as a library argument is checked by the same rule the library
applies (:mod:`rxbatches._base.checks`), so ``--interval inf`` fails as a usage error
(exit 2) instead of later, as an error of the work.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

from rxbatches._base.checks import check_int, check_seconds

__all__ = ["count", "non_negative", "seconds", "seconds_or_zero"]

T = TypeVar("T")
N = TypeVar("N", int, float)


def _checked(
    name: str, parse: Callable[[str], N], check: Callable[[str, N], T]
) -> Callable[[str], T]:
    """An argparse type: ``parse`` the text, then ``check`` the value as the field ``name``."""
    kind = "whole number" if parse is int else "number"

    def convert(text: str) -> T:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {kind}: {text!r}") from None
        try:
            return check(name, value)
        except ValueError as exc:
            # argparse names the option already ("argument --interval: ..."): keep the rule.
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{name}: ")) from None

    convert.__name__ = name  # argparse's "invalid <name> value" for any other failure
    return convert


def count(name: str, *, at_least: int = 1, at_most: int | None = None) -> Callable[[str], int]:
    """A whole number, checked as the library's ``name`` (``at_least`` .. ``at_most``)."""
    return _checked(
        name, int, lambda field, value: check_int(field, value, at_least=at_least, at_most=at_most)
    )


def non_negative(name: str) -> Callable[[str], int]:
    """A whole number >= 0, checked as the library's ``name``."""
    return count(name, at_least=0)


def seconds(name: str) -> Callable[[str], float]:
    """A finite number of seconds > 0, checked as the library's ``name``."""
    return _checked(name, float, check_seconds)


def seconds_or_zero(name: str) -> Callable[[str], float]:
    """A finite number of seconds >= 0, checked as the library's ``name``."""
    return _checked(name, float, lambda field, value: check_seconds(field, value, allow_zero=True))


port_number = count("port", at_least=0, at_most=65535)
"""The argparse type of a port option (0: a free one)."""
