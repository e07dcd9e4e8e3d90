"""Frozen configuration: the client's options and per-call :class:`RequestOptions`.

Both are immutable and check their values when built, so a bad value fails where it
was written, not at the first request. The effective options of a call are the
client's, overridden field by field by the service defaults (``with_options``) and
then by the call's ``options=``; headers and query parameters are merged, later
ones winning.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from .checks import (
    check_api_key,
    check_base_url,
    check_bool,
    check_headers,
    check_int,
    check_proxy,
    check_query,
    check_seconds,
    without_credentials,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_NOT_FOUND_GRACE",
    "DEFAULT_TIMEOUT",
    "NO_TIMEOUT",
    "ClientOptions",
    "EffectiveOptions",
    "RequestOptions",
]

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_TIMEOUT = 600.0
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_MAX_RETRIES = 2
DEFAULT_NOT_FOUND_GRACE = 2.0
"""Seconds a 404 about a batch just created is asked again (see ``not_found_grace``)."""

NO_TIMEOUT = math.inf
"""A ``timeout`` that waits forever for each read: ``RequestOptions(timeout=NO_TIMEOUT)``.

``None`` cannot say it per call, where it means "inherit the client's timeout"."""

# The variables the official SDKs honour, by the scheme of the API URL (lower case wins,
# as in urllib and httpx); ALL_PROXY applies to both.
_PROXY_SCHEMES = ("http", "https")

_EMPTY: Mapping[str, str] = MappingProxyType({})
_SECRET_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization"})


def _redacted(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: ("<redacted>" if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """Per-call overrides, the Python form of the seed's ``RequestOptions`` overloads.

    Every field left at ``None`` inherits the client's (or the service's) value.

    Args:
        timeout: Seconds to wait for each read (not a total: a long results download is
            never cut off while bytes keep arriving). Must be > 0.
        max_retries: Retries after the first attempt (``0``: no retry). Must be >= 0.
        extra_headers: Headers added to the request, overriding the defaults of the same
            name. Values of secret headers (``x-api-key``, ``authorization``) are hidden in
            the repr.
        extra_query: Query parameters added to the request.
        not_found_grace: Seconds after its create during which a 404 about a batch this
            client created is asked again (``0``: report it at once); see
            :class:`~rxbatches.Client`. Must be a finite number >= 0.

    Raises:
        ValueError: Naming the field, for a negative or zero ``timeout``, a negative
            ``max_retries``, a bad ``not_found_grace``, or a malformed header or
            parameter.

    Example:
        >>> RequestOptions(timeout=30.0, max_retries=0)
        RequestOptions(timeout=30.0, max_retries=0, extra_headers={}, extra_query={})
    """

    timeout: float | None = None
    max_retries: int | None = None
    extra_headers: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)
    extra_query: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)
    not_found_grace: float | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(
            self, "timeout", check_seconds("timeout", self.timeout, allow_none=True, allow_inf=True)
        )
        if self.max_retries is not None:
            set_(self, "max_retries", check_int("max_retries", self.max_retries, at_least=0))
        if self.not_found_grace is not None:
            set_(
                self,
                "not_found_grace",
                check_seconds("not_found_grace", self.not_found_grace, allow_zero=True),
            )
        set_(self, "extra_headers", check_headers("extra_headers", self.extra_headers))
        set_(self, "extra_query", check_query("extra_query", self.extra_query))

    def __repr__(self) -> str:
        return (
            f"RequestOptions(timeout={self.timeout!r}, max_retries={self.max_retries!r}, "
            f"extra_headers={_redacted(self.extra_headers)!r}, "
            f"extra_query={dict(self.extra_query)!r}"
            + (
                ""
                if self.not_found_grace is None
                else f", not_found_grace={self.not_found_grace!r}"
            )
            + ")"
        )

    def merged(self, other: RequestOptions | None) -> RequestOptions:
        """Return these options overridden by ``other`` (its non-``None`` fields win)."""
        if other is None:
            return self
        return RequestOptions(
            timeout=other.timeout if other.timeout is not None else self.timeout,
            max_retries=other.max_retries if other.max_retries is not None else self.max_retries,
            extra_headers={**self.extra_headers, **other.extra_headers},
            extra_query={**self.extra_query, **other.extra_query},
            not_found_grace=(
                other.not_found_grace if other.not_found_grace is not None else self.not_found_grace
            ),
        )


@dataclass(frozen=True, slots=True)
class EffectiveOptions:
    """The options one request is sent with: client defaults merged with overrides."""

    timeout: float | None
    connect_timeout: float
    max_retries: int
    extra_headers: Mapping[str, str]
    extra_query: Mapping[str, str]
    not_found_grace: float = DEFAULT_NOT_FOUND_GRACE


@dataclass(frozen=True, slots=True, repr=False)
class ClientOptions:
    """The client's configuration, as :class:`~rxbatches.Client` resolved it.

    Attributes:
        api_key: The API key (never shown in the repr).
        base_url: The API origin and optional path prefix, without a trailing slash.
        timeout: Seconds to wait for each read; ``None`` waits forever.
        connect_timeout: Seconds to wait for a connection.
        max_retries: Retries after the first attempt.
        default_headers: Headers sent with every request.
        not_found_grace: Seconds after its create during which a 404 about a batch this
            client created is asked again.
        proxy: The HTTP(S) proxy every request goes through (``None``: none); shown in
            the repr without its credentials.
    """

    api_key: str
    base_url: str = DEFAULT_BASE_URL
    timeout: float | None = DEFAULT_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    default_headers: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)
    not_found_grace: float = DEFAULT_NOT_FOUND_GRACE
    proxy: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.proxy is not None:
            set_(self, "proxy", check_proxy("proxy", self.proxy))
        check_api_key("api_key", self.api_key)
        set_(self, "base_url", check_base_url("base_url", self.base_url))
        set_(
            self, "timeout", check_seconds("timeout", self.timeout, allow_none=True, allow_inf=True)
        )
        set_(
            self,
            "connect_timeout",
            check_seconds("connect_timeout", self.connect_timeout, allow_inf=True),
        )
        set_(self, "max_retries", check_int("max_retries", self.max_retries, at_least=0))
        set_(self, "default_headers", check_headers("default_headers", self.default_headers))
        set_(
            self,
            "not_found_grace",
            check_seconds("not_found_grace", self.not_found_grace, allow_zero=True),
        )

    @classmethod
    def from_env(
        cls,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        environ: Mapping[str, str] | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        **kwargs: Any,
    ) -> ClientOptions:
        """Build options, reading ``ANTHROPIC_API_KEY`` / ``ANTHROPIC_BASE_URL`` when not given.

        With ``trust_env`` (the default) and no explicit ``proxy``, the proxy comes from
        ``HTTPS_PROXY`` / ``HTTP_PROXY`` (by the scheme of the base URL) or
        ``ALL_PROXY``, unless ``NO_PROXY`` names the API host, as the official SDK does.

        Raises:
            ValueError: When no API key is given nor found in the environment, or for
                any invalid value (naming the field or the environment variable).
        """
        env = os.environ if environ is None else environ
        key = api_key if api_key is not None else env.get("ANTHROPIC_API_KEY")
        if not key:
            raise ValueError(
                "api_key: no API key given; pass Client(api_key=...) or set ANTHROPIC_API_KEY"
            )
        url = base_url if base_url is not None else env.get("ANTHROPIC_BASE_URL") or None
        url = check_base_url("base_url", url or DEFAULT_BASE_URL)
        check_bool("trust_env", trust_env)
        if proxy is None and trust_env:
            proxy = env_proxy(url, env)
        return cls(api_key=key, base_url=url, proxy=proxy, **kwargs)

    def __repr__(self) -> str:
        return (
            f"ClientOptions(api_key=<hidden>, base_url={self.base_url!r}, "
            f"timeout={self.timeout!r}, connect_timeout={self.connect_timeout!r}, "
            f"max_retries={self.max_retries!r}, "
            f"default_headers={_redacted(self.default_headers)!r}, "
            f"not_found_grace={self.not_found_grace!r}"
            + ("" if self.proxy is None else f", proxy={without_credentials(self.proxy)!r}")
            + ")"
        )

    def with_overrides(self, **changes: Any) -> ClientOptions:
        """Return a copy with some fields changed (checked again)."""
        return replace(self, **changes)

    def effective(self, options: RequestOptions | None) -> EffectiveOptions:
        """Resolve the options of one request: these, overridden by ``options``."""
        if options is None:
            return EffectiveOptions(
                timeout=self.timeout,
                connect_timeout=self.connect_timeout,
                max_retries=self.max_retries,
                extra_headers=self.default_headers,
                extra_query=_EMPTY,
                not_found_grace=self.not_found_grace,
            )
        return EffectiveOptions(
            timeout=options.timeout if options.timeout is not None else self.timeout,
            connect_timeout=self.connect_timeout,
            max_retries=(
                options.max_retries if options.max_retries is not None else self.max_retries
            ),
            extra_headers={**self.default_headers, **options.extra_headers},
            extra_query=options.extra_query,
            not_found_grace=(
                options.not_found_grace
                if options.not_found_grace is not None
                else self.not_found_grace
            ),
        )


def env_proxy(base_url: str, environ: Mapping[str, str]) -> str | None:
    """The proxy the environment names for ``base_url``, or ``None``.

    Raises:
        ValueError: Naming the variable, when it holds an unusable proxy URL.
    """
    parts = urlsplit(base_url)
    found: dict[str, tuple[str, str]] = {}
    for name, value in environ.items():
        low = name.lower()
        if value and low.endswith("_proxy"):
            scheme = low[: -len("_proxy")]
            # Lower case wins over upper case, as in urllib.
            if scheme not in found or name == low:
                found[scheme] = (name, value)
    if _bypassed(parts.hostname or "", parts.port, found.get("no", ("", ""))[1]):
        return None
    for scheme in (parts.scheme, "all"):
        if scheme in found:
            name, value = found[scheme]
            return check_proxy(name, value)
    return None


def _bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    host = host.lower().strip("[]")
    for entry in (e.strip().lower() for e in no_proxy.replace(";", ",").split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        entry_host, _, entry_port = (
            entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        )
        if entry_port and port is not None and entry_port != str(port):
            continue
        entry_host = (entry_host or entry).strip("[]").lstrip(".")
        if entry_host.startswith("*."):
            entry_host = entry_host[2:]
        if host == entry_host or host.endswith("." + entry_host):
            return True
    return False
