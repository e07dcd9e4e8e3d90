"""The create checks shared by the client and the emulator, against an independent oracle."""

from __future__ import annotations

import gc
import json
import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxbatches import (
    MAX_BODY_BYTES,
    MAX_REQUESTS,
    CreateValidationError,
    MessageCreateParams,
    Request,
    validate_requests,
)
from rxbatches._base.offload import SLICE
from rxbatches._base.validation import encode_create_body, parse_create_body, spool_create_body
from tests import strategies as wire


class Violation(NamedTuple):
    """One broken rule: the request's position (None for the whole body), field path, rule kind."""

    position: int | None
    field: str
    kind: str


# --------------------------------------------------------------------------- the oracle

_ID = re.compile("[a-zA-Z0-9_-]{1,64}")


def _check_params(at: str, index: int, params: Any) -> set[Violation]:
    if not isinstance(params, dict):
        return {Violation(index, at, "type")}
    found: set[Violation] = set()
    for name, accepts in (("model", str), ("max_tokens", int), ("messages", list)):
        if name not in params:
            found.add(Violation(index, f"{at}.{name}", "required"))
        elif type(params[name]) is not accepts:
            found.add(Violation(index, f"{at}.{name}", "type"))
    if type(params.get("max_tokens")) is int and params["max_tokens"] < 1:
        found.add(Violation(index, f"{at}.max_tokens", "min"))
    messages = params.get("messages")
    for position, message in enumerate(messages if isinstance(messages, list) else []):
        where = f"{at}.messages[{position}]"
        if not isinstance(message, dict):
            found.add(Violation(index, where, "type"))
            continue
        for name in ("role", "content"):
            if name not in message:
                found.add(Violation(index, f"{where}.{name}", "required"))
    if params.get("stream") is True:
        found.add(Violation(index, f"{at}.stream", "stream"))
    return found


def oracle(requests: list[Any]) -> set[Violation]:
    """Every rule the requests of a create break, written from the API's documentation."""
    if not 1 <= len(requests) <= 100_000:
        return {Violation(None, "requests", "count")}
    found: set[Violation] = set()
    earlier: set[str] = set()
    for index, request in enumerate(requests):
        at = f"requests[{index}]"
        if not isinstance(request, dict):
            found.add(Violation(index, at, "type"))
            continue
        found |= {
            Violation(index, f"{at}.{key}", "extra")
            for key in request.keys() - {"custom_id", "params"}
        }
        if "custom_id" not in request:
            found.add(Violation(index, f"{at}.custom_id", "required"))
        elif not isinstance(request["custom_id"], str):
            found.add(Violation(index, f"{at}.custom_id", "type"))
        elif not _ID.fullmatch(request["custom_id"]):
            found.add(Violation(index, f"{at}.custom_id", "pattern"))
        elif request["custom_id"] in earlier:
            found.add(Violation(index, f"{at}.custom_id", "unique"))
        if isinstance(request.get("custom_id"), str):
            earlier.add(request["custom_id"])
        if "params" not in request:
            found.add(Violation(index, f"{at}.params", "required"))
        else:
            found |= _check_params(f"{at}.params", index, request["params"])
    return found


def kind_of(error: CreateValidationError) -> str:
    """The kind of rule an error names, read from its words."""
    rule = error.rule
    kinds = [
        ("is required", "required"),
        ("is not a known field", "extra"),
        ("does not match", "pattern"),
        ("is not unique", "unique"),
        ("must not be true", "stream"),
        ("greater than or equal to 1", "min"),
        ("at least 1 request", "count"),
        ("requests; at most", "count"),
        ("bytes; at most", "size"),
        ("Input should be", "type"),
    ]
    return next((kind for words, kind in kinds if words in rule), f"unclassified: {rule}")


def violation(error: CreateValidationError) -> Violation:
    return Violation(error.index, error.field, kind_of(error))


def check(requests: list[Any]) -> Violation | None:
    """What validate_requests says: None when it accepts, else the violation it names."""
    try:
        validate_requests(requests)
    except CreateValidationError as error:
        return violation(error)
    return None


# --------------------------------------------------------------------------- properties


@given(requests=wire.mixed_create_requests())
def test_validate_requests_accepts_exactly_what_the_oracle_accepts(requests: list[Any]) -> None:
    expected = oracle(requests)
    if not expected:
        assert len(validate_requests(requests)) == len(requests)
        return

    with pytest.raises(CreateValidationError) as info:
        validate_requests(requests)
    error = info.value

    assert violation(error) in expected
    assert isinstance(error, ValueError)
    assert str(error) == f"{error.field}: {error.rule}"
    if error.index is not None:
        assert error.field.startswith(f"requests[{error.index}]")


@given(requests=wire.create_request_lists(max_size=3, extras=True))
def test_valid_requests_come_back_as_models_in_order_with_unknown_params_kept(
    requests: list[dict[str, Any]],
) -> None:
    models = validate_requests(requests)

    assert [m.model_dump(mode="json", exclude_unset=True) for m in models] == requests
    assert [m.custom_id for m in models] == [r["custom_id"] for r in requests]


@given(requests=wire.create_request_lists(max_size=3, extras=True))
def test_models_and_dicts_are_checked_alike(requests: list[dict[str, Any]]) -> None:
    as_models = [Request.model_validate(r) for r in requests]

    assert validate_requests(as_models) == validate_requests(requests)
    assert validate_requests(iter(requests)) == validate_requests(requests)


@given(requests=wire.create_request_lists(max_size=3, extras=True))
def test_encoded_body_is_json_that_parse_create_body_accepts_unchanged(
    requests: list[dict[str, Any]],
) -> None:
    body = encode_create_body(requests)

    assert json.loads(body) == {"requests": requests}
    assert parse_create_body(body) == validate_requests(requests)


@given(
    requests=wire.create_request_lists(max_size=2),
    extra=st.dictionaries(
        st.sampled_from(["betas", "output_config", "x-new", "context_management"]),
        wire.json_values(),
        min_size=1,
    ),
)
def test_unknown_params_fields_pass_through_encode_unchanged(
    requests: list[dict[str, Any]], extra: dict[str, Any]
) -> None:
    requests = [{**r, "params": {**r["params"], **extra}} for r in requests]

    sent = json.loads(encode_create_body(requests))["requests"]

    for request in sent:
        assert {key: request["params"][key] for key in extra} == extra


@given(requests=st.lists(wire.create_requests(), min_size=1, max_size=4), data=st.data())
def test_encode_create_body_rejects_what_validate_requests_rejects(
    requests: list[dict[str, Any]], data: st.DataObject
) -> None:
    broken = data.draw(wire.broken_create_requests())
    requests = [*requests, broken]
    expected = oracle(requests)
    assert expected, "a broken request breaks at least one rule"

    with pytest.raises(CreateValidationError) as info:
        encode_create_body(requests)

    assert violation(info.value) in expected


# --------------------------------------------------------------------------- distinct bad inputs


def simple(custom_id: Any = "req-1", **params: Any) -> dict[str, Any]:
    base = {
        "model": "claude-haiku-4-5",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    return {"custom_id": custom_id, "params": {**base, **params}}


def without(request: dict[str, Any], *path: str) -> dict[str, Any]:
    *parents, last = path
    copy: dict[str, Any] = json.loads(json.dumps(request))
    target = copy
    for name in parents:
        target = target[name]
    del target[last]
    return copy


@pytest.mark.parametrize(
    "custom_id",
    [
        "",
        "a" * 65,
        "has space",
        " leading",
        "trailing\n",
        "tab\there",
        "dot.ted",
        "sla/sh",
        "plus+",
        "h\u00e9llo",
        "stra\u00dfe",
        "\u212aelvin",
        "\u0661\u0662\u0663",
        "\uff41bc",
        "nb\u00a0sp",
        "zero\u200bwidth",
        "emoji\U0001f600",
    ],
    ids=repr,
)
def test_custom_id_outside_the_pattern_is_rejected_naming_it(custom_id: str) -> None:
    requests = [simple("fine-0"), simple(custom_id)]

    with pytest.raises(CreateValidationError) as info:
        validate_requests(requests)

    assert violation(info.value) == Violation(1, "requests[1].custom_id", "pattern")
    assert "^[a-zA-Z0-9_-]{1,64}$" in info.value.rule
    assert repr(custom_id) in info.value.rule


@pytest.mark.parametrize("custom_id", ["a", "a" * 64, "Z-9_z", "-", "_", "0" * 64])
def test_custom_id_inside_the_pattern_is_accepted(custom_id: str) -> None:
    assert [m.custom_id for m in validate_requests([simple(custom_id)])] == [custom_id]


def test_repeated_custom_id_is_rejected_at_the_later_index_naming_the_first() -> None:
    requests = [simple("a"), simple("b"), simple("a"), simple("a")]

    with pytest.raises(CreateValidationError) as info:
        validate_requests(requests)

    assert violation(info.value) == Violation(2, "requests[2].custom_id", "unique")
    assert "requests[0]" in info.value.rule


def test_custom_ids_differing_only_in_case_are_distinct() -> None:
    assert len(validate_requests([simple("Abc"), simple("abc"), simple("ABC")])) == 3


def test_no_requests_is_rejected_for_the_whole_body() -> None:
    with pytest.raises(CreateValidationError) as info:
        validate_requests([])

    assert violation(info.value) == Violation(None, "requests", "count")


def test_more_than_max_requests_is_rejected_before_any_request_is_checked() -> None:
    params = simple()["params"]
    requests = [{"custom_id": f"r{i}", "params": params} for i in range(MAX_REQUESTS + 1)]

    with pytest.raises(CreateValidationError) as info:
        validate_requests(requests)

    assert MAX_REQUESTS == 100_000
    assert violation(info.value) == Violation(None, "requests", "count")
    assert "100,001" in info.value.rule


def test_exactly_max_requests_passes_the_count_rule() -> None:
    # Cheap: every item fails the per-request rules fast, so only the count rule is at stake.
    requests: list[Any] = [None] * MAX_REQUESTS

    with pytest.raises(CreateValidationError) as info:
        validate_requests(requests)

    assert violation(info.value) == Violation(0, "requests[0]", "type")


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (simple(stream=True), Violation(0, "requests[0].params.stream", "stream")),
        (
            without(simple(), "params", "model"),
            Violation(0, "requests[0].params.model", "required"),
        ),
        (
            without(simple(), "params", "max_tokens"),
            Violation(0, "requests[0].params.max_tokens", "required"),
        ),
        (
            without(simple(), "params", "messages"),
            Violation(0, "requests[0].params.messages", "required"),
        ),
        (without(simple(), "params"), Violation(0, "requests[0].params", "required")),
        (without(simple(), "custom_id"), Violation(0, "requests[0].custom_id", "required")),
        (simple(max_tokens=0), Violation(0, "requests[0].params.max_tokens", "min")),
        (simple(max_tokens=-1), Violation(0, "requests[0].params.max_tokens", "min")),
        (simple(max_tokens="many"), Violation(0, "requests[0].params.max_tokens", "type")),
        (simple(model=None), Violation(0, "requests[0].params.model", "type")),
        (simple(messages="Hi"), Violation(0, "requests[0].params.messages", "type")),
        (
            simple(messages=[{"role": "user"}]),
            Violation(0, "requests[0].params.messages[0].content", "required"),
        ),
        ({**simple(), "metadata": {}}, Violation(0, "requests[0].metadata", "extra")),
        ({**simple(), "method": "POST"}, Violation(0, "requests[0].method", "extra")),
        ("req-1", Violation(0, "requests[0]", "type")),
        (simple(custom_id=7), Violation(0, "requests[0].custom_id", "type")),
    ],
    ids=lambda value: f"{value.field}:{value.kind}" if isinstance(value, Violation) else None,
)
def test_distinct_bad_request_is_rejected_naming_index_field_and_rule(
    request_: Any, expected: Violation
) -> None:
    requests = [simple("ok-0"), simple("ok-1"), request_]
    expected = expected._replace(
        position=2, field=expected.field.replace("requests[0]", "requests[2]")
    )

    with pytest.raises(CreateValidationError) as info:
        validate_requests(requests)

    assert violation(info.value) == expected
    assert expected in oracle(requests)


@pytest.mark.parametrize("stream", [False, None])
def test_stream_false_or_null_is_accepted(stream: bool | None) -> None:
    assert validate_requests([simple(stream=stream)])[0].params.stream is stream


def test_max_tokens_of_one_is_accepted() -> None:
    assert validate_requests([simple(max_tokens=1)])[0].params.max_tokens == 1


def test_request_model_breaking_a_rule_is_rejected_like_a_dict() -> None:
    params = MessageCreateParams.model_validate(simple()["params"])
    requests = [Request(custom_id="ok", params=params), Request(custom_id="not ok", params=params)]

    with pytest.raises(CreateValidationError) as info:
        validate_requests(requests)

    assert violation(info.value) == Violation(1, "requests[1].custom_id", "pattern")


# --------------------------------------------------------------------------- bodies


def test_body_over_256_mib_is_rejected_before_parsing() -> None:
    body = b"{" * (MAX_BODY_BYTES + 1)

    with pytest.raises(CreateValidationError) as info:
        parse_create_body(body)

    assert MAX_BODY_BYTES == 256 * 1024 * 1024
    assert violation(info.value) == Violation(None, "body", "size")
    assert f"{MAX_BODY_BYTES + 1:,}" in info.value.rule


def test_encoded_body_over_256_mib_is_rejected() -> None:
    # One shared 1 MiB string: the requests cost nothing, only the encoded body is big.
    text = "x" * (1024 * 1024)
    requests = [simple(f"r{i}", messages=[{"role": "user", "content": text}]) for i in range(257)]

    with pytest.raises(CreateValidationError) as info:
        encode_create_body(requests)

    assert violation(info.value) == Violation(None, "body", "size")


def test_encoded_body_just_under_the_limit_is_accepted() -> None:
    requests = [simple("r0", messages=[{"role": "user", "content": "x" * 1024}])]

    assert parse_create_body(encode_create_body(requests)) == validate_requests(requests)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (b"", "body", "is not valid JSON"),
        (b'{"requests": [', "body", "is not valid JSON"),
        (b"\xff", "body", "is not valid JSON"),
        (b"[]", "body", "must be a JSON object"),
        (b'"requests"', "body", "must be a JSON object"),
        (b"{}", "requests", "is required"),
        (b'{"requests": {}}', "requests", "must be a list"),
        (b'{"requests": [], "stream": true}', "stream", "is not a known field"),
        (b'{"requests": []}', "requests", "at least 1 request"),
    ],
)
def test_malformed_create_body_is_rejected_naming_the_field(
    body: bytes, field: str, words: str
) -> None:
    with pytest.raises(CreateValidationError) as info:
        parse_create_body(body)

    assert info.value.field == field
    assert info.value.index is None
    assert words in info.value.rule


def test_body_rule_errors_name_the_request_index_from_parse() -> None:
    body = json.dumps({"requests": [simple("a"), simple("a")]}).encode()

    with pytest.raises(CreateValidationError) as info:
        parse_create_body(body)

    assert violation(info.value) == Violation(1, "requests[1].custom_id", "unique")


class Spy(Mapping[str, Any]):
    """A request that records, each time a field is read, whether the collector is enabled."""

    def __init__(self, request: dict[str, Any], seen: list[bool]) -> None:
        self._request = request
        self._seen = seen

    def __getitem__(self, key: str) -> Any:
        self._seen.append(gc.isenabled())
        return self._request[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._request)

    def __len__(self) -> int:
        return len(self._request)


def test_checking_and_encoding_never_switch_the_garbage_collector_off() -> None:
    # The collector is process-wide state: a library has no business turning it off.
    seen: list[bool] = []
    requests = [Spy(simple(f"r{i}"), seen) for i in range(3 * SLICE)]
    assert gc.isenabled()

    encode_create_body(requests)
    validate_requests(requests)
    body = spool_create_body(requests)

    assert body is not None
    body.close()
    assert seen
    assert all(seen)


def test_the_first_request_breaking_a_rule_is_named_even_when_a_later_one_is_malformed() -> None:
    # Pydantic sees the whole slice at once and reports request 7; request 3 comes first.
    requests: list[Any] = [simple(f"r{i}") for i in range(10)]
    requests[3]["custom_id"] = "not valid"
    requests[7]["params"]["max_tokens"] = 0

    with pytest.raises(CreateValidationError) as info:
        validate_requests(requests)

    assert violation(info.value) == Violation(3, "requests[3].custom_id", "pattern")


def test_errors_in_later_slices_name_the_index_in_the_whole_create() -> None:
    requests: list[Any] = [simple(f"r{i}") for i in range(5 * SLICE)]
    requests[3 * SLICE + 7]["params"]["messages"] = "not a list"
    with pytest.raises(CreateValidationError) as malformed:
        encode_create_body(requests)
    index = 3 * SLICE + 7
    assert violation(malformed.value) == Violation(
        index, f"requests[{index}].params.messages", "type"
    )

    requests = [simple(f"r{i}") for i in range(5 * SLICE)]
    requests[4 * SLICE + 1]["custom_id"] = "r2"
    with pytest.raises(CreateValidationError) as repeated:
        spool_create_body(requests)
    index = 4 * SLICE + 1
    assert violation(repeated.value) == Violation(index, f"requests[{index}].custom_id", "unique")
    assert "requests[2]" in repeated.value.rule


def test_spooled_body_holds_the_bytes_of_the_encoded_body() -> None:
    requests = [
        simple(f"r{i}", messages=[{"role": "user", "content": "x" * 500}]) for i in range(5000)
    ]

    body = spool_create_body(requests)

    assert body is not None
    try:
        assert body.size > 2 << 20  # past the 1 MiB kept in memory: it went to a file
        assert b"".join(body.blocks()) == encode_create_body(requests)
    finally:
        body.close()


def test_a_stopped_spool_reads_no_further_slice_and_returns_nothing() -> None:
    stop = threading.Event()
    reads: list[bool] = []

    class Stopper(Spy):
        def __getitem__(self, key: str) -> Any:
            if len(reads) == 2 * SLICE:  # the caller goes away during the second slice
                stop.set()
            return super().__getitem__(key)

    requests = [Stopper(simple(f"r{i}"), reads) for i in range(10 * SLICE)]

    assert spool_create_body(requests, stop) is None
    assert 0 < len(reads) <= 2 * 3 * SLICE  # each request reads its two fields (and keys)
