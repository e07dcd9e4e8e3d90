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
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

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
    "check_not_found_grace",
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
# RFC 9110 token characters: anything else (notably CR/LF) would let a value smuggle headers.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_SECRET_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization"})


def _check_timeout(name: str, value: object, *, allow_none: bool) -> float | None:
    if value is None:
        if allow_none:
            return None
        raise ValueError(f"{name}: must be a number of seconds, not None")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: must be a number of seconds, not {type(value).__name__}")
    if math.isnan(value) or value <= 0:
        raise ValueError(f"{name}: must be > 0 seconds, got {value!r}")
    return float(value)


def _check_retries(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name}: must be >= 0, got {value!r}")
    return value


def check_not_found_grace(value: object) -> float:
    """Check a 404 grace window.

    Raises:
        ValueError: Naming ``not_found_grace``, unless it is a finite number >= 0.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value < float("inf")
    ):
        raise ValueError(f"not_found_grace: must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _check_headers(name: str, value: Mapping[str, str] | None) -> Mapping[str, str]:
    if not value:
        return _EMPTY
    if not isinstance(value, Mapping):
        raise ValueError(f"{name}: must be a mapping of str to str")
    checked: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _HEADER_NAME.fullmatch(key):
            raise ValueError(f"{name}: {key!r} is not a valid header name")
        if not isinstance(item, str) or "\r" in item or "\n" in item:
            raise ValueError(f"{name}[{key!r}]: must be a str without CR or LF")
        checked[key] = item
    return MappingProxyType(checked)


def _check_query(name: str, value: Mapping[str, str] | None) -> Mapping[str, str]:
    if not value:
        return _EMPTY
    if not isinstance(value, Mapping):
        raise ValueError(f"{name}: must be a mapping of str to str")
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"{name}: {key!r} is not a valid parameter name")
        if not isinstance(item, str):
            raise ValueError(f"{name}[{key!r}]: must be a str, not {type(item).__name__}")
    return MappingProxyType(dict(value))


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
        set_(self, "timeout", _check_timeout("timeout", self.timeout, allow_none=True))
        if self.max_retries is not None:
            set_(self, "max_retries", _check_retries("max_retries", self.max_retries))
        if self.not_found_grace is not None:
            set_(self, "not_found_grace", check_not_found_grace(self.not_found_grace))
        set_(self, "extra_headers", _check_headers("extra_headers", self.extra_headers))
        set_(self, "extra_query", _check_query("extra_query", self.extra_query))

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
        if not isinstance(self.api_key, str) or not self.api_key.strip():
            raise ValueError("api_key: must be a non-empty str")
        if any(c in self.api_key for c in "\r\n"):
            raise ValueError("api_key: must not contain CR or LF")
        set_(self, "base_url", _check_base_url(self.base_url))
        set_(self, "timeout", _check_timeout("timeout", self.timeout, allow_none=True))
        set_(
            self,
            "connect_timeout",
            _check_timeout("connect_timeout", self.connect_timeout, allow_none=False),
        )
        set_(self, "max_retries", _check_retries("max_retries", self.max_retries))
        set_(self, "default_headers", _check_headers("default_headers", self.default_headers))
        set_(self, "not_found_grace", check_not_found_grace(self.not_found_grace))

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
        url = _check_base_url(url or DEFAULT_BASE_URL)
        if not isinstance(trust_env, bool):
            raise ValueError(f"trust_env: must be a bool, not {type(trust_env).__name__}")
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
            + ("" if self.proxy is None else f", proxy={_without_credentials(self.proxy)!r}")
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


def _check_base_url(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("base_url: must be a non-empty str")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ValueError(f"base_url: {value!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url: {value!r} must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValueError("base_url: must not contain credentials")
    if parts.query or parts.fragment:
        raise ValueError(f"base_url: {value!r} must not have a query or fragment")
    return value.rstrip("/")


def check_proxy(name: str, value: object) -> str:
    """Check a proxy URL (``name`` is the argument or environment variable it came from).

    Raises:
        ValueError: Naming ``name``, unless ``value`` is an http:// or https:// URL with a
            host (aiohttp speaks to no other kind of proxy: for SOCKS, pass a
            ``connector_factory`` from a package such as aiohttp-socks).
    """
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name}: must be a non-empty str")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ValueError(
            f"{name}: {_without_credentials(value)!r} is not a valid URL ({exc})"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{name}: {_without_credentials(value)!r} must be an http:// or https:// proxy URL"
            " with a host (for a SOCKS proxy, pass Client(connector_factory=...))"
        )
    return value


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


def _without_credentials(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"<credentials>@{netloc}").geturl()
