"""Property tests for kjob.protocol: every registered schema, in every encoding, against fastavro.

The strategies are built from the schema JSON itself (and a new Avro type fails loudly in
`avro_values`). They cover kjob's own records and a few user-facing endpoints, one of them with
a union; tests/test_every_endpoint.py walks the whole registry once.
The tests after "Defects found by these properties" each pinned a defect in kjob.protocol
(they were xfail(strict=True) until commit 02ef95a fixed them); they stay as regressions.
"""

from __future__ import annotations

import contextlib
import io
import json

import fastavro
import pytest
import snappy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kjob.errors import ProtocolError, ServerRefused
from kjob.protocol import codec, encodings, payload, schemas

# Our own bounds, not kjob's: the code under test does not get to define what "in range" means.
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
INT_MIN, INT_MAX = -(2**31), 2**31 - 1

PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ENCODINGS = ("binary", "json", "snappy")
REQUEST_ENCODINGS = ("binary", "json", "snappy")

# Text: ASCII, Latin-1, BMP and astral characters alike; never lone surrogates (not UTF-8).
CHARS = st.characters(codec="utf-8")
TEXT = st.one_of(
    st.text(CHARS, max_size=16),
    st.sampled_from(["", "\x00", "é", "日本語", "😀", "ключ", "a\"b\\c\n\t", "\x7f\x80\xff"]),
)
BYTES = st.binary(max_size=24)  # all 256 byte values at once: see extreme_value


# ---------------------------------------------------------------------------------------
# Strategies from schema JSON


def _kind(schema):
    if isinstance(schema, list):
        return "union"
    return schema if isinstance(schema, str) else schema["type"]


def avro_values(schema, named=None, json_form=False):
    """A strategy for values of `schema`: Python values for fastavro, or (json_form) the plain
    JSON a user writes, where `bytes` is a string of one character per byte."""
    named = {} if named is None else named
    if isinstance(schema, list):
        return st.one_of([avro_values(branch, named, json_form) for branch in schema])
    kind = _kind(schema)
    if isinstance(kind, (dict, list)):
        return avro_values(kind, named, json_form)
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "int":
        return st.integers(INT_MIN, INT_MAX)
    if kind == "long":
        return st.integers(LONG_MIN, LONG_MAX)
    if kind == "string":
        return TEXT
    if kind == "bytes":
        return BYTES.map(lambda b: b.decode("latin-1")) if json_form else BYTES
    if kind == "enum":
        named[schema["name"]] = schema
        return st.sampled_from(schema["symbols"])
    if kind == "record":
        named[schema["name"]] = schema
        if "namespace" in schema:
            named[f"{schema['namespace']}.{schema['name']}"] = schema
        fields = {f["name"]: avro_values(f["type"], named, json_form) for f in schema["fields"]}
        return st.fixed_dictionaries(fields)
    if kind == "array":
        return st.lists(avro_values(schema["items"], named, json_form), max_size=4)
    if kind == "map":
        return st.dictionaries(TEXT, avro_values(schema["values"], named, json_form), max_size=4)
    if kind in named:
        return st.deferred(lambda: avro_values(named[kind], named, json_form))
    raise AssertionError(f"no strategy for Avro type {kind!r}: extend avro_values")


def payload_values(schema: dict):
    """A request record as a user writes it: plain JSON, fields with a default may be left out."""
    required = {f["name"]: avro_values(f["type"], json_form=True) for f in schema["fields"] if "default" not in f}
    optional = {f["name"]: avro_values(f["type"], json_form=True) for f in schema["fields"] if "default" in f}
    return st.fixed_dictionaries(required, optional=optional)


def with_defaults(schema: dict, value: dict) -> dict:
    """`value` with every left-out field set to its default, in schema order (plain JSON)."""
    return {f["name"]: value[f["name"]] if f["name"] in value else f["default"] for f in schema["fields"]}


def json_form(schema, value):
    """A Python Avro value in Avro's JSON form (bytes -> one character per byte), by our own walk."""
    kind = _kind(schema)
    if isinstance(kind, (dict, list)):
        return json_form(kind, value)
    if kind == "union":  # the branch a value takes: bytes only where no string branch can take it
        return value.decode("latin-1") if isinstance(value, bytes) else value
    if kind == "bytes":
        return value.decode("latin-1")
    if kind == "record":
        return {f["name"]: json_form(f["type"], value[f["name"]]) for f in schema["fields"]}
    if kind == "array":
        return [json_form(schema["items"], item) for item in value]
    if kind == "map":
        return {key: json_form(schema["values"], item) for key, item in value.items()}
    return value


def fastavro_bytes(schema: dict, value) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), value)
    return out.getvalue()


def extreme_value(schema, items: int = 2):
    """One value of `schema` at the edges: min/max longs and ints, all 256 byte values, non-ASCII."""
    kind = _kind(schema)
    if isinstance(kind, (dict, list)):
        return extreme_value(kind, items)
    edges = {
        "long": [LONG_MIN, LONG_MAX, -1, 0, 2**62],
        "int": [INT_MIN, INT_MAX, -1, 0],
        "string": ["\x00é€😀 ключ", "", "x" * 300],
        "bytes": [bytes(range(256)), b"", b"\x80\xff" * 100],
        "boolean": [True, False],
    }
    if kind in edges:
        return edges[kind][0]
    if kind == "union":
        return extreme_value(schema[0], items)
    if kind == "record":
        return {f["name"]: extreme_value(f["type"], items) for f in schema["fields"]}
    if kind == "array":
        item_kind = _kind(schema["items"])
        pool = edges.get(item_kind) or [extreme_value(schema["items"], items)]
        return [pool[i % len(pool)] for i in range(items)]
    if kind == "map":
        pool = edges.get(_kind(schema["values"])) or [extreme_value(schema["values"], items)]
        return {f"k{i}-é": pool[i % len(pool)] for i in range(items)}
    raise AssertionError(f"no extreme value for Avro type {kind!r}")


# ---------------------------------------------------------------------------------------
# The registry


# kjob's own calls (its own Avro code), and endpoints users run as jobs (fastavro), one with a union.
ENDPOINTS = [*schemas.OWN_ENDPOINTS, "/execute/sql", "/alter/table", "/update/records"]


def _registry():
    found = [("gpudb_response", schemas.wrapper())]
    for path in ENDPOINTS:
        entry = schemas.endpoint(path)
        found += [(f"{path} request", entry.request), (f"{path} response", entry.response)]
    return found


REGISTRY = _registry()
REGISTRY_IDS = [label for label, _ in REGISTRY]


def test_registry_holds_every_endpoint_of_the_protocol():
    """Guards the parametrizations below against an empty or shrunken registry."""
    expected = {
        "/create/job", "/get/job", "/admin/show/jobs", "/admin/alter/jobs",
        "/show/system/status", "/show/system/properties", "/execute/sql", "/alter/table",
    }
    assert expected <= set(schemas.known_endpoints())
    assert len(schemas.known_endpoints()) == 221
    assert schemas.wrapper().field_names == ["status", "message", "data_type", "data", "data_str"]
    assert len(REGISTRY) == 1 + 2 * len(ENDPOINTS)


# ---------------------------------------------------------------------------------------
# Avro binary: byte for byte against fastavro, and round trips in every encoding


@pytest.mark.parametrize(("label", "schema"), REGISTRY, ids=REGISTRY_IDS)
@PROPERTY
@given(data=st.data())
def test_binary_is_fastavro_byte_for_byte_and_every_encoding_round_trips(label, schema, data):
    record = data.draw(avro_values(schema.schema), label="record")
    expected = fastavro_bytes(schema.schema, record)
    assert schema.encode(record) == expected
    assert schema.decode(expected) == record

    for encoding in ENCODINGS:
        body = codec.encode_record(schema, record, encoding)
        assert codec.decode_record(schema, body, encoding) == record
        if encoding == "binary":
            assert body == expected
        elif encoding == "snappy":
            assert snappy.decompress(body) == expected
        else:
            parsed = json.loads(body.decode("utf-8"))
            assert parsed == json_form(schema.schema, record)
            assert list(parsed) == schema.field_names  # fields in schema order, as the server expects


@pytest.mark.parametrize(("label", "schema"), REGISTRY, ids=REGISTRY_IDS)
@pytest.mark.parametrize("items", [0, 2, 200])
def test_extreme_values_are_fastavro_byte_for_byte(label, schema, items):
    """min/max long and int, all 256 byte values, and arrays/maps long enough for 2-byte counts."""
    record = extreme_value(schema.schema, items)
    expected = fastavro_bytes(schema.schema, record)
    assert schema.encode(record) == expected
    assert schema.decode(expected) == record
    for encoding in ENCODINGS:
        assert codec.decode_record(schema, codec.encode_record(schema, record, encoding), encoding) == record


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@PROPERTY
@given(data=st.data())
def test_response_round_trip(endpoint, data):
    response_schema = schemas.endpoint(endpoint).response
    record = data.draw(avro_values(response_schema.schema), label="response")
    for encoding in ENCODINGS:
        body = codec.encode_response(endpoint, record, encoding)
        assert codec.decode_response(endpoint, body, encoding) == record

        wrapped = codec.decode_wrapper(body, encoding)
        assert (wrapped["status"], wrapped["message"], wrapped["data_type"]) == ("OK", "", response_schema.name)
        if encoding == "json":
            assert wrapped["data"] == b""
            assert json.loads(wrapped["data_str"]) == json_form(response_schema.schema, record)
        else:  # binary and snappy: the wrapper is Avro binary, never compressed
            assert wrapped == {
                "status": "OK", "message": "", "data_type": response_schema.name,
                "data": fastavro_bytes(response_schema.schema, record), "data_str": "",
            }
            assert body == fastavro_bytes(schemas.wrapper().schema, wrapped)


MESSAGES = st.one_of(
    st.text(CHARS, max_size=200),
    st.sampled_from([
        "Job 424242 not found",
        "",
        "é" * 20_000,
        "Kinetica is offline; ошибка 日本語 😀\n\ttab \"quoted\" \\ back",
        "x" * 100_000 + "€",
    ]),
)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@FEW
@given(message=MESSAGES)
def test_error_wrapper_raises_server_refused_with_the_whole_message(endpoint, message):
    for encoding in ENCODINGS:
        body = codec.encode_error(message, encoding)
        with pytest.raises(ServerRefused) as caught:
            codec.decode_response(endpoint, body, encoding)
        assert caught.value.server_message == message
        assert caught.value.endpoint == endpoint
        assert caught.value.exit_code == 8
        assert caught.value.format_message().endswith(message)
        wrapped = codec.decode_wrapper(body, encoding)
        assert (wrapped["status"], wrapped["data_type"], wrapped["data"], wrapped["data_str"]) == ("ERROR", "none", b"", "")


# ---------------------------------------------------------------------------------------
# JSON wrapper: data_str as a string holding JSON, or as an embedded object


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@PROPERTY
@given(data=st.data(), ensure_ascii=st.booleans())
def test_json_wrapper_accepts_data_str_as_string_or_object(endpoint, data, ensure_ascii):
    """Bodies built by hand, with non-ASCII escaped (\\uXXXX) or sent as UTF-8."""
    response_schema = schemas.endpoint(endpoint).response
    record = data.draw(avro_values(response_schema.schema), label="response")
    plain = json_form(response_schema.schema, record)
    head = {"status": "OK", "message": "", "data_type": response_schema.name, "data": ""}

    as_string = json.dumps({**head, "data_str": json.dumps(plain, ensure_ascii=ensure_ascii)}, ensure_ascii=ensure_ascii)
    as_object = json.dumps({**head, "data_str": plain}, ensure_ascii=ensure_ascii)
    for text in (as_string, as_object):
        assert codec.decode_response(endpoint, text.encode("utf-8"), "json") == record

    assert isinstance(codec.decode_wrapper(as_string.encode("utf-8"), "json")["data_str"], str)
    assert codec.decode_wrapper(as_object.encode("utf-8"), "json")["data_str"] == plain  # kept as sent


def test_json_wrapper_with_embedded_object_checks_the_record():
    head = {"status": "OK", "message": "", "data_type": "create_job_response", "data": ""}
    for data_str in ({"job_id": "7", "info": {}}, {"info": {}}, [1, 2], {"job_id": 7, "info": []}):
        body = json.dumps({**head, "data_str": data_str}).encode()
        with pytest.raises(ProtocolError):
            codec.decode_response("/create/job", body, "json")


# ---------------------------------------------------------------------------------------
# Malformed input: only ProtocolError (or ServerRefused for an ERROR wrapper)


def _decode_or_protocol_error(decode, *args):
    """Run a decoder on hostile input: success or ProtocolError/ServerRefused, nothing else."""
    try:
        result = decode(*args)
    except (ProtocolError, ServerRefused):
        return None
    assert isinstance(result, dict)
    return result


@pytest.mark.parametrize(("label", "schema"), REGISTRY, ids=REGISTRY_IDS)
@FEW
@given(data=st.data())
def test_every_prefix_of_a_record_is_a_protocol_error(label, schema, data):
    record = data.draw(avro_values(schema.schema), label="record")
    for encoding in ENCODINGS:
        body = codec.encode_record(schema, record, encoding)
        assert _accepted_prefixes(lambda prefix, encoding=encoding: codec.decode_record(schema, prefix, encoding), body) == []


def _accepted_prefixes(decode, body: bytes) -> list[int]:
    """The sizes of the strict prefixes of `body` that `decode` did not refuse with a ProtocolError."""
    accepted = []
    for size in range(len(body)):
        try:
            decode(body[:size])
        except ProtocolError:
            continue
        accepted.append(size)
    return accepted


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_prefix_of_a_response_is_a_protocol_error(endpoint, encoding):
    record = extreme_value(schemas.endpoint(endpoint).response.schema)
    for body in (codec.encode_response(endpoint, record, encoding), codec.encode_error("Job 1 not found: é", encoding)):
        assert _accepted_prefixes(lambda prefix: codec.decode_response(endpoint, prefix, encoding), body) == []


@pytest.mark.parametrize(("label", "schema"), REGISTRY, ids=REGISTRY_IDS)
@FEW
@given(data=st.data(), extra=st.binary(min_size=1, max_size=16))
def test_trailing_bytes_are_a_protocol_error(label, schema, data, extra):
    record = data.draw(avro_values(schema.schema), label="record")
    binary = schema.encode(record)
    with pytest.raises(ProtocolError, match="unexpected bytes"):
        schema.decode(binary + extra)
    with pytest.raises(ProtocolError):
        codec.decode_record(schema, binary + extra, "binary")
    with pytest.raises(ProtocolError):  # trailing bytes inside the snappy frame
        codec.decode_record(schema, snappy.compress(binary + extra), "snappy")
    with pytest.raises(ProtocolError):  # trailing bytes after the snappy frame
        codec.decode_record(schema, snappy.compress(binary) + extra, "snappy")
    text = codec.encode_record(schema, record, "json")
    with pytest.raises(ProtocolError):
        codec.decode_record(schema, text + b"x" + extra, "json")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@FEW
@given(extra=st.binary(min_size=1, max_size=16))
def test_trailing_bytes_after_a_response_are_a_protocol_error(endpoint, extra):
    record = extreme_value(schemas.endpoint(endpoint).response.schema)
    for encoding in ENCODINGS:
        body = codec.encode_response(endpoint, record, encoding)
        tail = b"}" + extra if encoding == "json" else extra  # trailing whitespace would be valid JSON
        with pytest.raises(ProtocolError):
            codec.decode_response(endpoint, body + tail, encoding)


@pytest.mark.parametrize(("label", "schema"), REGISTRY, ids=REGISTRY_IDS)
@PROPERTY
@given(blob=st.binary(max_size=200))
def test_random_bytes_decode_or_raise_protocol_error(label, schema, blob):
    for encoding in ENCODINGS:
        result = _decode_or_protocol_error(codec.decode_record, schema, blob, encoding)
        if result is not None:
            assert list(result) == schema.field_names


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@PROPERTY
@given(blob=st.binary(max_size=200))
def test_random_response_bodies_decode_or_raise_protocol_error(endpoint, blob):
    for encoding in ENCODINGS:
        _decode_or_protocol_error(codec.decode_wrapper, blob, encoding)
        _decode_or_protocol_error(codec.decode_response, endpoint, blob, encoding)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(CHARS, max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(CHARS, max_size=8), inner, max_size=4),
    max_leaves=12,
)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@FEW
@given(data=st.data())
def test_near_miss_json_wrappers_decode_or_raise_protocol_error(endpoint, data):
    """Wrappers with the right field names and arbitrary JSON values, data_str included."""
    response_schema = schemas.endpoint(endpoint).response
    fields = {name: JSON_VALUES for name in schemas.wrapper().field_names}
    fields["data_type"] = st.sampled_from([response_schema.name, "none", "other_response"]) | JSON_VALUES
    fields["status"] = st.sampled_from(["OK", "ERROR"]) | JSON_VALUES
    near_response = st.fixed_dictionaries({f: JSON_VALUES for f in response_schema.field_names})
    fields["data_str"] = JSON_VALUES | near_response | near_response.map(json.dumps)
    wrapper = data.draw(st.fixed_dictionaries({}, optional=fields), label="wrapper")
    body = json.dumps(wrapper).encode("utf-8")
    _decode_or_protocol_error(codec.decode_wrapper, body, "json")
    _decode_or_protocol_error(codec.decode_response, endpoint, body, "json")
    _decode_or_protocol_error(codec.decode_request, endpoint, json.dumps(wrapper.get("data_str")).encode(), "json")


def _mutate(body: bytes, data) -> bytes:
    mutation = data.draw(st.sampled_from(["replace", "delete", "insert"]), label="mutation")
    at = data.draw(st.integers(0, len(body) - 1), label="at")
    if mutation == "replace":
        return body[:at] + bytes([data.draw(st.integers(0, 255), label="byte")]) + body[at + 1 :]
    if mutation == "delete":
        size = data.draw(st.integers(1, len(body) - at), label="size")
        return body[:at] + body[at + size :]
    return body[:at] + data.draw(st.binary(min_size=1, max_size=8), label="inserted") + body[at:]


@pytest.mark.parametrize(("label", "schema"), REGISTRY, ids=REGISTRY_IDS)
@FEW
@given(data=st.data())
def test_mutated_records_decode_or_raise_protocol_error(label, schema, data):
    record = data.draw(avro_values(schema.schema), label="record")
    for encoding in ENCODINGS:
        body = codec.encode_record(schema, record, encoding)
        _decode_or_protocol_error(codec.decode_record, schema, _mutate(body, data), encoding)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@FEW
@given(data=st.data())
def test_mutated_responses_decode_or_raise_protocol_error(endpoint, data):
    record = data.draw(avro_values(schemas.endpoint(endpoint).response.schema), label="response")
    for encoding in ENCODINGS:
        body = _mutate(codec.encode_response(endpoint, record, encoding), data)
        _decode_or_protocol_error(codec.decode_response, endpoint, body, encoding)


PAIRS = [(a, b) for a in REGISTRY for b in REGISTRY if a[0] != b[0]]


@pytest.mark.parametrize("encoding", ENCODINGS)
@PROPERTY
@given(data=st.data())
def test_bodies_of_the_wrong_schema_decode_or_raise_protocol_error(encoding, data):
    (_, written), (_, read) = data.draw(st.sampled_from(PAIRS), label="schemas")
    body = codec.encode_record(written, data.draw(avro_values(written.schema), label="record"), encoding)
    result = _decode_or_protocol_error(codec.decode_record, read, body, encoding)
    if encoding == "json" and set(written.field_names) != set(read.field_names):
        assert result is None or set(read.field_names) <= set(written.field_names)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_responses_of_another_endpoint_are_a_protocol_error(encoding):
    status = codec.encode_response("/show/system/status", {"status_map": {}, "info": {}}, encoding)
    with pytest.raises(ProtocolError, match="data_type"):
        codec.decode_response("/get/job", status, encoding)
    job = extreme_value(schemas.endpoint("/get/job").response.schema)
    with pytest.raises(ProtocolError):  # Avro bytes of a get_job_response are not a create_job_response
        codec.decode_record(schemas.endpoint("/create/job").response, schemas.endpoint("/get/job").response.encode(job), "binary")


INVALID_JSON = [
    b"", b" ", b"{", b'{"status": "OK"', b"nul", b"\xff\xfe\x00", b"\x80", b'{"a": 1}}', b"[]", b"null",
    b'"gpudb_response"', b"1", b"{'status': 'OK'}", b'{"status": "OK", "message": "", "data_type": "x"}',
    b'{"status": 1, "message": "", "data_type": "x", "data": "", "data_str": ""}',
    b'{"status": "OK", "message": "", "data_type": "x", "data": "\\u0100", "data_str": ""}',
    b'{"status": "OK", "message": "", "data_type": "x", "data": 5, "data_str": ""}',
    b"\xef\xbb\xbf{",  # a BOM, then nothing
    "{\"status\": \"é".encode("utf-16"),
]


@pytest.mark.parametrize("body", INVALID_JSON)
def test_invalid_json_is_a_protocol_error(body):
    with pytest.raises(ProtocolError):
        codec.decode_wrapper(body, "json")
    with pytest.raises(ProtocolError):
        codec.decode_response("/get/job", body, "json")
    with pytest.raises(ProtocolError):
        codec.decode_request("/create/job", body, "json")


INVALID_SNAPPY = [b"", b"\xff\xff\xff\xff\x0f", b"\x05\x10abc", b"\xff" * 40, b"\x0a\x00\x00\x00"]


@pytest.mark.parametrize("body", INVALID_SNAPPY)
def test_invalid_snappy_is_a_protocol_error(body):
    with pytest.raises(ProtocolError, match="snappy"):
        codec.decode_request("/get/job", body, "snappy")
    with pytest.raises(ProtocolError):
        encodings.snappy_decompress(body)


def test_valid_snappy_of_nothing_is_a_truncated_record():
    assert encodings.snappy_decompress(b"\x00") == b""
    with pytest.raises(ProtocolError, match="get_job_request"):
        codec.decode_request("/get/job", b"\x00", "snappy")


@PROPERTY
@given(blob=st.binary(max_size=100))
def test_random_snappy_decompresses_or_raises_protocol_error(blob):
    with contextlib.suppress(ProtocolError):
        encodings.snappy_decompress(blob)


# ---------------------------------------------------------------------------------------
# Defects found by these properties (fixed in 02ef95a; kept as regressions)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"1" * 5000, id="int-with-5000-digits"),
        pytest.param(b'{"status": ' + b"9" * 5000 + b"}", id="wrapper-with-huge-int"),
        pytest.param(b"[" * 100_000, id="nesting-100000-deep"),
    ],
)
def test_pathological_json_is_a_protocol_error(body):
    """json.loads raises a plain ValueError over 4300 digits and RecursionError when deeply nested."""
    with pytest.raises(ProtocolError):
        codec.decode_wrapper(body, "json")


@pytest.mark.parametrize("varint", [b"\xff" * 9 + b"\x7f", b"\xfe" * 9 + b"\x03"], ids=["negative", "positive"])
def test_a_long_outside_64_bits_is_a_protocol_error(varint):
    """A 10-byte varint can hold 70 bits; fastavro wraps it, kjob must refuse it."""
    schema = schemas.endpoint("/create/job").response
    with pytest.raises(ProtocolError):
        schema.decode(varint + b"\x00")


@pytest.mark.parametrize(("endpoint", "field", "value"), [("/get/job", "progress", 2**40), ("/create/job", "job_id", 2**70)])
def test_json_ints_and_longs_out_of_range_are_a_protocol_error(endpoint, field, value):
    """In JSON an int or long is any integer; the schema's range still applies."""
    response_schema = schemas.endpoint(endpoint).response
    record = json_form(response_schema.schema, extreme_value(response_schema.schema))
    record[field] = value
    body = json.dumps({"status": "OK", "message": "", "data_type": response_schema.name, "data": "", "data_str": record})
    with pytest.raises(ProtocolError):
        codec.decode_response(endpoint, body.encode(), "json")


_GOOD_CREATE_JOB = {"endpoint": "/x", "request_encoding": "binary", "data": b"", "data_str": "", "options": {}}
BAD_RECORDS = {
    "missing-field": {k: v for k, v in _GOOD_CREATE_JOB.items() if k != "data"},
    "bytes-given-int": {**_GOOD_CREATE_JOB, "data": 5},
    "string-given-int": {**_GOOD_CREATE_JOB, "endpoint": 5},
    "lone-surrogate": {**_GOOD_CREATE_JOB, "endpoint": "\udcff"},
    "map-value-int": {**_GOOD_CREATE_JOB, "options": {"job_tag": 1}},
}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("record", list(BAD_RECORDS.values()), ids=list(BAD_RECORDS))
def test_encoding_a_bad_record_is_a_protocol_error(record, encoding):
    """The JSON encoder checks types as the binary writer does, and wraps its failures."""
    with pytest.raises(ProtocolError):
        codec.encode_record(schemas.endpoint("/create/job").request, record, encoding)


# ---------------------------------------------------------------------------------------
# payload.Schema: plain JSON in, Avro out, and back


REQUEST_SCHEMAS = [(path, schemas.endpoint(path).request.schema) for path in ENDPOINTS]
REQUEST_IDS = [path for path, _ in REQUEST_SCHEMAS]


@pytest.mark.parametrize(("endpoint", "schema"), REQUEST_SCHEMAS, ids=REQUEST_IDS)
@PROPERTY
@given(data=st.data())
def test_payload_conform_encode_decode_round_trip(endpoint, schema, data):
    value = data.draw(payload_values(schema), label="payload")
    user_schema = payload.Schema(schema)
    conformed = user_schema.conform(value)
    assert payload.to_json_value(conformed) == with_defaults(schema, value)
    encoded = user_schema.encode(conformed)
    assert encoded == schemas.endpoint(endpoint).request.encode(conformed)  # the two Avro engines agree
    assert user_schema.decode(encoded) == conformed
    for request_encoding in REQUEST_ENCODINGS:
        data_bytes, data_str = payload.encode_payload(user_schema, value, request_encoding)
        if request_encoding == "json":
            assert data_bytes == b""
            assert json.loads(data_str) == with_defaults(schema, value)
        else:
            assert data_str == ""
            assert (snappy.decompress(data_bytes) if request_encoding == "snappy" else data_bytes) == encoded
        decoded = payload.decode_payload(user_schema, data_bytes, data_str, request_encoding)
        assert payload.to_json_value(decoded) == with_defaults(schema, value)


def _wrong_type_value(field_schema):
    return {"string": 5, "long": "5", "int": "5", "bytes": 5, "boolean": "true", "map": [], "array": {}}[_kind(field_schema)]


def _valid_request(schema):
    return payload.to_json_value(extreme_value(schema))


FIELD_CASES = [
    pytest.param(path, schema, field, id=f"{path}:{field['name']}")
    for path, schema in REQUEST_SCHEMAS
    for field in schema["fields"]
]


def _assert_mismatch_names(caught, *fragments):
    error = caught.value
    assert isinstance(error, payload.PayloadMismatch)
    assert isinstance(error, ProtocolError)
    assert error.exit_code == 2
    for fragment in fragments:
        assert fragment in error.format_message()


@pytest.mark.parametrize(("endpoint", "schema", "field"), FIELD_CASES)
def test_conform_names_a_field_of_the_wrong_type(endpoint, schema, field):
    value = _valid_request(schema)
    value[field["name"]] = _wrong_type_value(field["type"])
    with pytest.raises(payload.PayloadMismatch) as caught:
        payload.Schema(schema).conform(value)
    _assert_mismatch_names(caught, field["name"])


@pytest.mark.parametrize(("endpoint", "schema", "field"), [c for c in FIELD_CASES if "default" not in c.values[2]])
def test_conform_names_a_missing_required_field(endpoint, schema, field):
    value = _valid_request(schema)
    del value[field["name"]]
    with pytest.raises(payload.PayloadMismatch) as caught:
        payload.Schema(schema).conform(value)
    _assert_mismatch_names(caught, field["name"], "missing")


@pytest.mark.parametrize(("endpoint", "schema"), REQUEST_SCHEMAS, ids=REQUEST_IDS)
def test_conform_names_an_unknown_field(endpoint, schema):
    value = {**_valid_request(schema), "no_such_field": 1}
    with pytest.raises(payload.PayloadMismatch) as caught:
        payload.Schema(schema).conform(value)
    _assert_mismatch_names(caught, "no_such_field")


@pytest.mark.parametrize(
    ("endpoint", "field", "bad", "named"),
    [
        ("/get/job", "job_id", 2**63, "job_id"),
        ("/get/job", "job_id", -(2**63) - 1, "job_id"),
        ("/execute/sql", "limit", 2**64, "limit"),
        ("/admin/alter/jobs", "job_ids", [1, 2**63], "job_ids[1]"),
        ("/create/job", "data", "ok\u0100", "data"),
        ("/create/job", "data", "€", "data"),
        ("/execute/sql", "data", ["fine", "日本"], "data[1]"),
        ("/create/job", "options", {"job_tag": [7]}, "options.job_tag"),
    ],
)
def test_conform_names_the_field_out_of_range(endpoint, field, bad, named):
    schema = schemas.endpoint(endpoint).request.schema
    value = {**_valid_request(schema), field: bad}
    with pytest.raises(payload.PayloadMismatch) as caught:
        payload.Schema(schema).conform(value)
    _assert_mismatch_names(caught, named)


def test_conform_keeps_the_edges_of_the_ranges():
    schema = payload.Schema(schemas.endpoint("/admin/alter/jobs").request.schema)
    value = {"job_ids": [LONG_MIN, LONG_MAX], "action": "cancel"}
    assert schema.decode(schema.encode(schema.conform(value))) == {**value, "options": {}}
    data = payload.Schema(schemas.endpoint("/create/job").request.schema).conform(
        {"endpoint": "/x", "data": "".join(map(chr, range(256))), "data_str": ""}
    )
    assert data["data"] == bytes(range(256))


USER_SCHEMA = {
    "type": "record",
    "name": "order",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "qty", "type": "int", "default": 1},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "color", "type": {"type": "enum", "name": "color", "symbols": ["RED", "GREEN", "BLUE"]}},
        {
            "name": "ship_to",
            "type": {
                "type": "record",
                "name": "address",
                "fields": [
                    {"name": "city", "type": "string"},
                    {"name": "zip", "type": ["null", "string"], "default": None},
                    {"name": "raw", "type": "bytes", "default": ""},
                ],
            },
        },
        {"name": "bill_to", "type": "address"},
        {"name": "alt_color", "type": ["null", "shop.color"], "default": None},
        {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []},
    ],
}


def _user_values():
    address = st.fixed_dictionaries(
        {"city": TEXT},
        optional={"zip": st.none() | TEXT, "raw": BYTES.map(lambda b: b.decode("latin-1"))},
    )
    return st.fixed_dictionaries(
        {"id": st.integers(LONG_MIN, LONG_MAX), "color": st.sampled_from(["RED", "GREEN", "BLUE"]),
         "ship_to": address, "bill_to": address},
        optional={
            "qty": st.integers(INT_MIN, INT_MAX),
            "note": st.none() | TEXT,
            "alt_color": st.none() | st.sampled_from(["RED", "GREEN", "BLUE"]),
            "tags": st.lists(TEXT, max_size=3),
        },
    )


def _user_expected(value):
    address_defaults = {"zip": None, "raw": ""}
    full = {**{"qty": 1, "note": None, "alt_color": None, "tags": []}, **value}
    for key in ("ship_to", "bill_to"):
        full[key] = {**address_defaults, **value[key]}
    return full


@PROPERTY
@given(value=_user_values())
def test_user_schema_with_union_enum_nested_record_and_reference_round_trips(value):
    user_schema = payload.Schema(USER_SCHEMA)
    conformed = user_schema.conform(value)
    encoded = user_schema.encode(conformed)
    assert encoded == fastavro_bytes(USER_SCHEMA, conformed)
    decoded = user_schema.decode(encoded)
    assert decoded == conformed
    assert payload.to_json_value(decoded) == _user_expected(value)
    for request_encoding in REQUEST_ENCODINGS:
        data_bytes, data_str = payload.encode_payload(user_schema, value, request_encoding)
        back = payload.decode_payload(user_schema, data_bytes, data_str, request_encoding)
        assert payload.to_json_value(back) == _user_expected(value)


_USER_OK = {"id": 1, "color": "RED", "ship_to": {"city": "Zürich"}, "bill_to": {"city": "Oslo", "zip": "0150"}}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"note": 5}, "note"),
        ({"note": ["x"]}, "note"),
        ({"color": "PURPLE"}, "color"),
        ({"alt_color": "PURPLE"}, "alt_color"),
        ({"qty": 2**31}, "qty"),
        ({"qty": -(2**31) - 1}, "qty"),
        ({"qty": True}, "qty"),
        ({"id": 1.5}, "id"),
        ({"ship_to": {"zip": "1"}}, "ship_to.city"),
        ({"bill_to": {"city": "x", "street": "y"}}, "street"),
        ({"bill_to": {"city": 3}}, "bill_to.city"),
        ({"ship_to": {"city": "x", "raw": "\u20ac"}}, "ship_to.raw"),
        ({"tags": ["a", 2]}, "tags[1]"),
        ({"tags": "a"}, "tags"),
        ({"bill_to": None}, "bill_to"),
    ],
)
def test_user_schema_mismatch_names_the_field(change, named):
    with pytest.raises(payload.PayloadMismatch) as caught:
        payload.Schema(USER_SCHEMA).conform({**_USER_OK, **change})
    _assert_mismatch_names(caught, named)


def test_user_schema_missing_required_top_field():
    value = {k: v for k, v in _USER_OK.items() if k != "bill_to"}
    with pytest.raises(payload.PayloadMismatch) as caught:
        payload.Schema(USER_SCHEMA).conform(value)
    _assert_mismatch_names(caught, "bill_to", "missing")


def test_union_with_an_object_branch_mismatch_names_the_field():
    """A branch written {"type": "string"} once made the mismatch message an AttributeError (fixed in 02ef95a)."""
    schema = {"type": "record", "name": "r", "fields": [{"name": "note", "type": ["null", {"type": "string"}]}]}
    assert payload.Schema(schema).conform({"note": "ok"}) == {"note": "ok"}
    with pytest.raises(payload.PayloadMismatch) as caught:
        payload.Schema(schema).conform({"note": 5})
    _assert_mismatch_names(caught, "note")


# ---------------------------------------------------------------------------------------
# read_job_response (the response as plain JSON: bytes as one character per byte)


def _done_job(endpoint, response_encoding, job_response=b"", job_response_str=""):
    return {
        "endpoint": endpoint, "job_status": "DONE", "running": False, "progress": 100, "successful": True,
        "response_encoding": response_encoding, "job_response": job_response,
        "job_response_str": job_response_str, "status_map": {}, "info": {},
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@FEW
@given(data=st.data())
def test_read_job_response_binary_and_json(endpoint, data):
    response_schema = schemas.endpoint(endpoint).response
    record = data.draw(avro_values(response_schema.schema), label="response")
    plain = json_form(response_schema.schema, record)

    binary_job = _done_job(endpoint, "binary", job_response=fastavro_bytes(response_schema.schema, record))
    assert payload.to_json_value(payload.read_job_response(binary_job)) == plain

    json_job = _done_job(endpoint, "json", job_response_str=json.dumps(plain, ensure_ascii=False))
    assert payload.to_json_value(payload.read_job_response(json_job)) == plain

    # The job record itself travels in a get_job_response: through the codec and back unchanged.
    body = codec.encode_response("/get/job", binary_job, "binary")
    assert payload.to_json_value(payload.read_job_response(codec.decode_response("/get/job", body, "binary"))) == plain


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_read_job_response_rejects_broken_responses(endpoint):
    response_schema = schemas.endpoint(endpoint).response
    good = fastavro_bytes(response_schema.schema, extreme_value(response_schema.schema))
    with pytest.raises(ProtocolError):
        payload.read_job_response(_done_job(endpoint, "binary", job_response=good[:-1]))
    with pytest.raises(ProtocolError):
        payload.read_job_response(_done_job(endpoint, "binary", job_response=good + b"\x00"))
    with pytest.raises(ProtocolError):
        payload.read_job_response(_done_job(endpoint, "json", job_response_str='{"count": '))


def test_read_job_response_for_an_unknown_endpoint():
    with pytest.raises(ProtocolError, match="/no/such/endpoint"):
        payload.read_job_response(_done_job("/no/such/endpoint", "binary", job_response=b"\x00"))
    assert payload.read_job_response(_done_job("/no/such/endpoint", "json", job_response_str='{"a": [1]}')) == {"a": [1]}
