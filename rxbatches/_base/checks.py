"""The checks of scalar arguments: one place, one style, for every layer.

Each check is ``check_<what>(name, value, ...)``: it returns the value, normalised
(seconds as a ``float``), or raises ``ValueError(f"{name}: must be <rule>, got <value>")``,
so the error names the field and the rule where the bad value was written. ``<value>`` is
the repr, preceded by the type's name when the type is wrong (``got bool True``: a bool
is refused where an int is asked, although Python counts it as one); a long repr is cut.
Where a value may be a secret (an API key, a header's value, a proxy's credentials) the
message never shows it.

A new argument check belongs here (``tests/test_checks.py`` fails on a ``check_*`` or
``_check_*`` defined anywhere else), except the create-request rules
(:mod:`rxbatches._base.validation`, on pydantic) and the CLI's argparse types, which
call these.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, overload
from urllib.parse import urlsplit

__all__ = [
    "check_api_key",
    "check_base_url",
    "check_bool",
    "check_headers",
    "check_int",
    "check_path_id",
    "check_proxy",
    "check_query",
    "check_seconds",
    "check_text",
    "without_credentials",
]

_SHOWN = 100
"""The longest repr a message shows whole (a huge bad value is never pasted in full)."""

_EMPTY: Mapping[str, str] = MappingProxyType({})
# RFC 9110 token characters: anything else (notably CR/LF) would let a value smuggle headers.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _shown(value: object, *, wrong_type: bool = False) -> str:
    text = repr(value)
    if len(text) > _SHOWN:
        text = f"{text[: _SHOWN - 5]}...{text[-2:]}"
    return f"{type(value).__name__} {text}" if wrong_type else text


def _number(value: int) -> str:
    # Thousands separators from five digits on: 1000 reads better bare, 100,000 does not.
    return f"{value:,}" if abs(value) >= 10_000 else str(value)


def _fail(name: str, rule: str, value: object, *, wrong_type: bool = False) -> ValueError:
    return ValueError(f"{name}: must be {rule}, got {_shown(value, wrong_type=wrong_type)}")


def check_int(
    name: str, value: object, *, at_least: int | None = None, at_most: int | None = None
) -> int:
    """Check an int, within ``at_least`` .. ``at_most`` (each bound optional, inclusive).

    Raises:
        ValueError: Naming ``name``, for a value that is not an int (a bool is not one,
            nor is ``2.0``) or is out of bounds.

    Example:
        >>> check_int("limit", 0, at_least=1, at_most=1000)
        Traceback (most recent call last):
        ValueError: limit: must be an int from 1 to 1000, got 0
    """
    if at_least is not None and at_most is not None:
        rule = f"an int from {_number(at_least)} to {_number(at_most)}"
    elif at_least is not None:
        rule = f"an int >= {_number(at_least)}"
    elif at_most is not None:
        rule = f"an int <= {_number(at_most)}"
    else:
        rule = "an int"
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(name, rule, value, wrong_type=True)
    if (at_least is not None and value < at_least) or (at_most is not None and value > at_most):
        raise _fail(name, rule, value)
    return value


@overload
def check_seconds(
    name: str,
    value: object,
    *,
    allow_none: Literal[False] = False,
    allow_zero: bool = False,
    allow_inf: bool = False,
) -> float: ...


@overload
def check_seconds(
    name: str,
    value: object,
    *,
    allow_none: bool,
    allow_zero: bool = False,
    allow_inf: bool = False,
) -> float | None: ...


def check_seconds(
    name: str,
    value: object,
    *,
    allow_none: bool = False,
    allow_zero: bool = False,
    allow_inf: bool = False,
) -> float | None:
    """Check a duration in seconds: a number > 0, finite, never NaN, unless allowed.

    Args:
        name: The field, for the message.
        value: The value to check.
        allow_none: Accept ``None`` (returned as is).
        allow_zero: Accept ``0``.
        allow_inf: Accept ``math.inf`` (``NO_TIMEOUT``: wait forever).

    Returns:
        The value as a ``float`` (or ``None``).

    Raises:
        ValueError: Naming ``name``, for a bool, a non-number, NaN, or a value outside
            the rule.

    Example:
        >>> check_seconds("interval", 0)
        Traceback (most recent call last):
        ValueError: interval: must be a finite number of seconds > 0, got 0
    """
    rule = "a number of seconds " + (">= 0" if allow_zero else "> 0")
    if not allow_inf:
        rule = "a finite " + rule.removeprefix("a ")
    if allow_none:
        rule = "None or " + rule
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(name, rule, value, wrong_type=True)
    if (
        math.isnan(value)
        or value < 0
        or (value == 0 and not allow_zero)
        or (math.isinf(value) and not allow_inf)
    ):
        raise _fail(name, rule, value)
    return float(value)


def check_bool(name: str, value: object) -> bool:
    """Check a bool (``0``, ``1`` or ``"yes"`` are not one).

    Raises:
        ValueError: Naming ``name``, for anything but ``True`` or ``False``.
    """
    if not isinstance(value, bool):
        raise _fail(name, "a bool", value, wrong_type=True)
    return value


@overload
def check_text(name: str, value: object, *, allow_none: Literal[False] = False) -> str: ...


@overload
def check_text(name: str, value: object, *, allow_none: bool) -> str | None: ...


def check_text(name: str, value: object, *, allow_none: bool = False) -> str | None:
    """Check a non-empty str (or ``None``, with ``allow_none``).

    Raises:
        ValueError: Naming ``name``, for a non-str or an empty str.
    """
    if value is None and allow_none:
        return None
    rule = "a non-empty str or None" if allow_none else "a non-empty str"
    if not isinstance(value, str):
        raise _fail(name, rule, value, wrong_type=True)
    if not value:
        raise _fail(name, rule, value)
    return value


def check_path_id(name: str, value: object) -> str:
    r"""Check an id that goes into a URL path (the caller percent-encodes it).

    Raises:
        ValueError: Naming ``name``, for a non-str, an empty or blank str, or a path-like
            id (``/``, ``\``, ``..``), which could reach another endpoint.
    """
    rule = "a non-empty str without '/', '\\' or '..'"
    if not isinstance(value, str):
        raise _fail(name, rule, value, wrong_type=True)
    if not value.strip() or "/" in value or "\\" in value or ".." in value or value == ".":
        raise _fail(name, rule, value)
    return value


def check_api_key(name: str, value: object) -> str:
    """Check an API key; the message never shows it.

    Raises:
        ValueError: Naming ``name``, for a non-str, a blank str, or a key with CR or LF
            (which would break the request's headers).
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name}: must be a non-empty str")
    if "\r" in value or "\n" in value:
        raise ValueError(f"{name}: must not contain CR or LF")
    return value


def check_headers(name: str, value: object) -> Mapping[str, str]:
    """Check extra headers: a read-only copy, or an empty mapping for ``None``.

    Raises:
        ValueError: Naming ``name``, for a non-mapping, a name that is not an RFC 9110
            token, or a value that is not a str or holds CR or LF (not shown: it may be
            a secret).
    """
    if value is None or (isinstance(value, Mapping) and not value):
        return _EMPTY
    if not isinstance(value, Mapping):
        raise _fail(name, "a mapping of str to str", value, wrong_type=True)
    checked: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _HEADER_NAME.fullmatch(key):
            raise _fail(name, "a mapping of header names to str", key, wrong_type=True)
        if not isinstance(item, str) or "\r" in item or "\n" in item:
            raise ValueError(f"{name}[{key!r}]: must be a str without CR or LF")
        checked[key] = item
    return MappingProxyType(checked)


def check_query(name: str, value: object) -> Mapping[str, str]:
    """Check extra query parameters: a read-only copy, or an empty mapping for ``None``.

    Raises:
        ValueError: Naming ``name``, for a non-mapping, an empty or non-str name, or a
            non-str value.
    """
    if value is None or (isinstance(value, Mapping) and not value):
        return _EMPTY
    if not isinstance(value, Mapping):
        raise _fail(name, "a mapping of str to str", value, wrong_type=True)
    checked: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise _fail(name, "a mapping of non-empty str to str", key, wrong_type=True)
        if not isinstance(item, str):
            raise _fail(f"{name}[{key!r}]", "a str", item, wrong_type=True)
        checked[key] = item
    return MappingProxyType(checked)


def check_base_url(name: str, value: object) -> str:
    """Check the API's base URL; returned without a trailing slash.

    Raises:
        ValueError: Naming ``name``, unless it is an http:// or https:// URL with a host,
            no credentials (which would be sent to wherever the URL points), no query and
            no fragment.
    """
    rule = "an http:// or https:// URL with a host, no credentials, query or fragment"
    if not isinstance(value, str) or not value:
        raise _fail(name, rule, value, wrong_type=not isinstance(value, str))
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ValueError(
            f"{name}: {without_credentials(value)!r} is not a valid URL ({exc})"
        ) from None
    if parts.username or parts.password:
        raise ValueError(f"{name}: must not contain credentials")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise _fail(name, rule, value)
    return value.rstrip("/")


def check_proxy(name: str, value: object) -> str:
    """Check a proxy URL (``name``: the argument or environment variable it came from).

    Raises:
        ValueError: Naming ``name``, unless ``value`` is an http:// or https:// URL with a
            host (aiohttp speaks to no other kind of proxy: for SOCKS, pass a
            ``connector_factory`` from a package such as aiohttp-socks). The message
            shows the URL without its credentials.
    """
    rule = (
        "an http:// or https:// proxy URL with a host"
        " (for a SOCKS proxy, pass Client(connector_factory=...))"
    )
    if not isinstance(value, str) or not value:
        raise _fail(name, rule, value, wrong_type=not isinstance(value, str))
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ValueError(
            f"{name}: {without_credentials(value)!r} is not a valid URL ({exc})"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _fail(name, rule, without_credentials(value))
    return value


def without_credentials(url: str) -> str:
    """``url`` with any user and password replaced by ``<credentials>``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"<credentials>@{netloc}").geturl()
