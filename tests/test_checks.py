"""The argument checks (rxbatches/_base/checks.py): one style, and the only place they live."""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rxbatches
from rxbatches._base.checks import (
    check_api_key,
    check_base_url,
    check_bool,
    check_headers,
    check_int,
    check_path_id,
    check_proxy,
    check_query,
    check_seconds,
    check_text,
)

PACKAGE = Path(rxbatches.__file__).resolve().parent


def _exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


# ---------------------------------------------------------------------------- check_int


@pytest.mark.parametrize("value", [True, False, 2.0, "3", None, [1]])
def test_check_int_refuses_what_is_not_an_int_and_names_its_type(value: Any) -> None:
    message = f"max_pending: must be an int >= 1, got {type(value).__name__} {value!r}"
    with pytest.raises(ValueError, match=_exactly(message)):
        check_int("max_pending", value, at_least=1)


@pytest.mark.parametrize(
    ("bounds", "value", "message"),
    [
        ({"at_least": 0}, -1, "retry_errored: must be an int >= 0, got -1"),
        ({"at_most": 5}, 6, "retry_errored: must be an int <= 5, got 6"),
        (
            {"at_least": 1, "at_most": 1000},
            0,
            "retry_errored: must be an int from 1 to 1000, got 0",
        ),
        (
            {"at_least": 1, "at_most": 100_000},
            100_001,
            "retry_errored: must be an int from 1 to 100,000, got 100001",
        ),
    ],
)
def test_check_int_names_the_field_and_the_bounds(
    bounds: dict[str, int], value: int, message: str
) -> None:
    with pytest.raises(ValueError, match=_exactly(message)):
        check_int("retry_errored", value, **bounds)


@given(st.integers(-50, 50), st.integers(-50, 50), st.integers(-60, 60))
def test_check_int_accepts_exactly_the_values_within_the_bounds(
    low: int, high: int, value: int
) -> None:
    if low <= value <= high:
        assert check_int("n", value, at_least=low, at_most=high) == value
    else:
        with pytest.raises(ValueError, match=r"^n: must be an int from "):
            check_int("n", value, at_least=low, at_most=high)


def test_check_int_without_bounds_takes_any_int() -> None:
    assert check_int("n", -(10**30)) == -(10**30)
    with pytest.raises(ValueError, match=r"^n: must be an int, got str 'x'$"):
        check_int("n", "x")


# ------------------------------------------------------------------------ check_seconds


@pytest.mark.parametrize("value", [math.nan, -math.nan])
@pytest.mark.parametrize(
    "allowed",
    [{}, {"allow_zero": True}, {"allow_inf": True}, {"allow_none": True, "allow_inf": True}],
)
def test_check_seconds_always_refuses_nan(value: float, allowed: dict[str, bool]) -> None:
    with pytest.raises(ValueError, match=r"^timeout: must be .*number of seconds.*, got nan$"):
        check_seconds("timeout", value, **allowed)


def test_check_seconds_refuses_inf_unless_allowed() -> None:
    message = "interval: must be a finite number of seconds > 0, got inf"
    with pytest.raises(ValueError, match=_exactly(message)):
        check_seconds("interval", math.inf)
    with pytest.raises(ValueError, match="got -inf"):
        check_seconds("timeout", -math.inf, allow_inf=True)

    assert check_seconds("timeout", math.inf, allow_inf=True) == math.inf


def test_check_seconds_refuses_zero_unless_allowed() -> None:
    with pytest.raises(ValueError, match=r"^interval: must be a finite number of seconds > 0"):
        check_seconds("interval", 0)

    zero = check_seconds("not_found_grace", 0, allow_zero=True)
    assert zero == 0.0
    assert type(zero) is float


def test_check_seconds_refuses_none_unless_allowed() -> None:
    message = "connect_timeout: must be a finite number of seconds > 0, got NoneType None"
    with pytest.raises(ValueError, match=_exactly(message)):
        check_seconds("connect_timeout", None)

    assert check_seconds("timeout", None, allow_none=True) is None


@pytest.mark.parametrize("value", [True, False, "5", b"5", [5]])
def test_check_seconds_refuses_bools_and_non_numbers(value: Any) -> None:
    rule = "timeout: must be None or a number of seconds >= 0"
    with pytest.raises(ValueError, match=_exactly(f"{rule}, got {type(value).__name__} {value!r}")):
        check_seconds("timeout", value, allow_none=True, allow_zero=True, allow_inf=True)


@pytest.mark.parametrize("value", [-1, -0.001])
def test_check_seconds_refuses_negatives_even_with_zero_allowed(value: float) -> None:
    with pytest.raises(
        ValueError, match=rf"^g: must be a finite number of seconds >= 0, got {value}"
    ):
        check_seconds("g", value, allow_zero=True)


@given(st.floats(min_value=1e-9, max_value=1e12) | st.integers(1, 10**12))
def test_check_seconds_returns_a_positive_number_as_a_float(value: float) -> None:
    checked = check_seconds("interval", value)
    assert checked == value
    assert type(checked) is float


# ---------------------------------------------------------------- check_bool, check_text


@pytest.mark.parametrize("value", [0, 1, "yes", None])
def test_check_bool_refuses_what_only_looks_like_a_bool(value: Any) -> None:
    message = f"trust_env: must be a bool, got {type(value).__name__} {value!r}"
    with pytest.raises(ValueError, match=_exactly(message)):
        check_bool("trust_env", value)


def test_check_bool_returns_a_bool() -> None:
    assert check_bool("trust_env", False) is False
    assert check_bool("trust_env", True) is True


def test_check_text_refuses_an_empty_or_non_str() -> None:
    with pytest.raises(ValueError, match=r"^after_id: must be a non-empty str or None, got ''$"):
        check_text("after_id", "", allow_none=True)
    with pytest.raises(ValueError, match=r"^after_id: must be a non-empty str, got int 3$"):
        check_text("after_id", 3)
    with pytest.raises(ValueError, match=r"^after_id: must be a non-empty str, got NoneType"):
        check_text("after_id", None)

    assert check_text("after_id", None, allow_none=True) is None
    assert check_text("after_id", "msgbatch_1") == "msgbatch_1"


# ------------------------------------------------------------------------ check_path_id


@pytest.mark.parametrize("value", ["", "  \t", ".", "..", "a/b", "a\\b", "msgbatch_..x"])
def test_check_path_id_refuses_what_could_leave_the_batch_path(value: str) -> None:
    rule = "message_batch_id: must be a non-empty str without '/', '\\' or '..'"
    with pytest.raises(ValueError, match=_exactly(f"{rule}, got {value!r}")):
        check_path_id("message_batch_id", value)


def test_check_path_id_names_a_wrong_type_and_keeps_a_good_id() -> None:
    with pytest.raises(ValueError, match=r"^message_batch_id: must be .*, got int 123$"):
        check_path_id("message_batch_id", 123)

    assert check_path_id("message_batch_id", "msgbatch_01 x") == "msgbatch_01 x"


# ---------------------------------------------------------------------- secrets unshown


@pytest.mark.parametrize("key", ["", "   ", None, "sk-ant-secret\r\nx-injected: 1"])
def test_check_api_key_names_the_field_and_never_shows_the_key(key: Any) -> None:
    with pytest.raises(ValueError, match=r"^api_key: must ") as raised:
        check_api_key("api_key", key)

    assert "secret" not in str(raised.value)


def test_check_headers_hides_a_bad_value_and_names_a_bad_name() -> None:
    message = "extra_headers['authorization']: must be a str without CR or LF"
    with pytest.raises(ValueError, match=_exactly(message)):
        check_headers("extra_headers", {"authorization": "Bearer secret\r\nx: 1"})

    with pytest.raises(ValueError, match=r"^extra_headers: must be .*header names.*'a b'"):
        check_headers("extra_headers", {"a b": "1"})
    with pytest.raises(ValueError, match=r"^extra_headers: must be a mapping .*, got list"):
        check_headers("extra_headers", [("a", "1")])


def test_check_headers_and_query_return_read_only_copies() -> None:
    given_ = {"x-a": "1"}
    headers = check_headers("extra_headers", given_)
    given_["x-a"] = "2"
    assert dict(headers) == {"x-a": "1"}
    with pytest.raises(TypeError):
        headers["x-b"] = "3"  # type: ignore[index]
    assert dict(check_headers("extra_headers", None)) == {}
    assert dict(check_query("extra_query", {"beta": "1"})) == {"beta": "1"}


def test_check_query_names_the_parameter() -> None:
    with pytest.raises(ValueError, match=r"^extra_query\['n'\]: must be a str, got int 1$"):
        check_query("extra_query", {"n": 1})
    with pytest.raises(ValueError, match=r"^extra_query: must be a mapping of non-empty str"):
        check_query("extra_query", {"": "1"})


# ------------------------------------------------------------------------------- URLs


def test_check_base_url_strips_the_slash_and_refuses_other_schemes() -> None:
    assert check_base_url("base_url", "http://127.0.0.1:8080/prefix/") == (
        "http://127.0.0.1:8080/prefix"
    )
    for bad in ["ftp://example.com", "example.com", "http://h/?q=1", "http://h/#f", ""]:
        with pytest.raises(ValueError, match=r"^base_url: must be an http:// or https:// URL"):
            check_base_url("base_url", bad)


def test_check_base_url_and_check_proxy_never_show_credentials() -> None:
    with pytest.raises(ValueError, match=_exactly("base_url: must not contain credentials")):
        check_base_url("base_url", "https://user:hunter2@example.com")

    with pytest.raises(ValueError, match=r"^HTTPS_PROXY: must be an http:// or https://") as raised:
        check_proxy("HTTPS_PROXY", "socks5://user:hunter2@proxy:1080")
    assert "connector_factory" in str(raised.value)
    assert "hunter2" not in str(raised.value)
    assert "<credentials>@proxy:1080" in str(raised.value)

    assert check_proxy("proxy", "http://user:pw@proxy:3128") == "http://user:pw@proxy:3128"


def test_a_huge_bad_value_is_cut_in_the_message() -> None:
    start = re.escape("before_id: must be a non-empty str, got list ['xxx")
    with pytest.raises(ValueError, match=f"^{start}") as raised:
        check_text("before_id", ["x" * 100_000])

    assert len(str(raised.value)) < 200


# ------------------------------------------------------------------------- one place

CHECKS_MAY_LIVE = {
    "_base/checks.py": "the one place",
    "_base/validation.py": "the create-request rules, on pydantic",
}
CHECKS_MAY_LIVE_UNDER = {
    "_cli": "the argparse glue (it calls the shared checks)",
    "emulator": "the API server's stand-in: it checks HTTP requests and its fault scripts"
    " as a server does, not the client's arguments",
}


def _check_definitions(source: str) -> list[str]:
    """The functions (at any depth) named ``check_*`` or ``_check_*`` in ``source``."""
    return [
        node.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.lstrip("_").startswith("check_")
    ]


def test_the_finder_sees_checks_at_any_depth() -> None:
    source = "def check_a(): ...\nclass C:\n    def _check_b(self): ...\ndef checked(): ..."
    assert _check_definitions(source) == ["check_a", "_check_b"]


def test_no_argument_check_is_defined_outside_the_checks_module() -> None:
    stray: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in CHECKS_MAY_LIVE or relative.split("/")[0] in CHECKS_MAY_LIVE_UNDER:
            continue
        stray += [f"{relative}: {name}" for name in _check_definitions(path.read_text("utf-8"))]

    assert not stray, (
        "argument checks belong in rxbatches/_base/checks.py (use check_int, check_seconds...): "
        f"{stray}"
    )


def test_every_check_is_exported_by_the_checks_module() -> None:
    from rxbatches._base import checks

    defined = _check_definitions((PACKAGE / "_base" / "checks.py").read_text("utf-8"))
    assert {name for name in defined if not name.startswith("_")} == {
        name for name in checks.__all__ if name.startswith("check_")
    }


@pytest.mark.parametrize(
    "call",
    [
        lambda: check_int("field", "x"),
        lambda: check_seconds("field", "x"),
        lambda: check_bool("field", "x"),
        lambda: check_text("field", 1),
        lambda: check_path_id("field", 1),
        lambda: check_api_key("field", 1),
        lambda: check_headers("field", 1),
        lambda: check_query("field", 1),
        lambda: check_base_url("field", 1),
        lambda: check_proxy("field", 1),
    ],
)
def test_every_check_names_the_field_first(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=r"^field: must be "):
        call()
