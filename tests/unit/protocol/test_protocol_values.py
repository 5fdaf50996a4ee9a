"""Wire values: by value, by reference, by repr; bounded on odd input."""

from __future__ import annotations

from collections import UserDict, UserList
from enum import IntEnum, StrEnum

import ormsgpack
import pytest

from batos_core.protocol.values import (
    MalformedValue,
    OpaqueValue,
    RemoteRef,
    decode_value,
    encode_value,
    wire_ref,
)


class Thing:
    """Stands in for a UvmObject: the encoder only knows it through ref_of."""

    def __init__(self, oid: str) -> None:
        self.oid = oid


def ref_of(value: object) -> tuple[str, str] | None:
    return (value.oid, f"<thing {value.oid}>") if isinstance(value, Thing) else None


class Color(StrEnum):
    RED = "red"


class Size(IntEnum):
    BIG = 3


def test_plain_data_travels_by_value() -> None:
    value = {"a": [None, True, 1, -(2**63), 2**64 - 1, 1.5, "s", b"\x00"], "b": {}}
    assert encode_value(value) == value
    assert decode_value(encode_value(value)) == value


def test_containers_and_subclasses_become_base_types() -> None:
    wire = encode_value((UserList([1, 2]), UserDict({"k": Color.RED}), Size.BIG, bytearray(b"x")))
    assert wire == [[1, 2], {"k": "red"}, 3, b"x"]
    assert isinstance(wire, list)
    assert [type(x) for x in wire[1:]] == [dict, int, bytes]
    ormsgpack.packb(wire)  # and msgpack accepts the result


def test_objects_travel_as_references() -> None:
    wire = encode_value({"owner": Thing("0x1a")}, ref_of)
    assert wire == {"owner": {"$ref": "0x1a", "repr": "<thing 0x1a>"}}
    assert decode_value(wire) == {"owner": RemoteRef("0x1a", "<thing 0x1a>")}
    resolved = decode_value(wire, lambda oid: Thing(oid))
    assert isinstance(resolved, dict) and resolved["owner"].oid == "0x1a"


def test_unknown_values_travel_as_repr() -> None:
    thing = Thing("0x1")
    assert encode_value(thing) == {"$repr": repr(thing), "$type": "Thing"}
    assert encode_value({1, 2}) == {"$repr": "{1, 2}", "$type": "set"}
    assert encode_value(2**70) == {"$repr": str(2**70), "$type": "int"}
    assert encode_value({1: "a"}) == {"$repr": "{1: 'a'}", "$type": "dict"}
    assert decode_value({"$repr": "{1, 2}", "$type": "set"}) == OpaqueValue("{1, 2}", "set")


def test_a_failing_repr_does_not_fail_encoding() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    wire = encode_value(Broken())
    assert isinstance(wire, dict) and wire["$type"] == "Broken"
    assert "Broken" in str(wire["$repr"])


def test_dollar_keys_are_escaped_and_restored() -> None:
    value = {"$ref": "not a reference", "x": 1}
    wire = encode_value(value)
    assert wire == {"$dict": value}
    assert decode_value(wire) == value


def test_cycles_terminate() -> None:
    cyclic: list[object] = [1]
    cyclic.append(cyclic)
    wire = encode_value(cyclic)
    assert isinstance(wire, list) and wire[0] == 1
    # The inner occurrence is cut at the cycle and sent as a bounded repr.
    assert wire[1] == {"$repr": "[1, [1, [1, [1, [...]]]]]", "$type": "list"}


def test_depth_and_size_are_bounded() -> None:
    deep: list[object] = []
    node = deep
    for _ in range(1000):
        child: list[object] = []
        node.append(child)
        node = child
    wire = encode_value(deep, max_depth=5)
    for _ in range(5):
        assert isinstance(wire, list)
        wire = wire[0]
    assert isinstance(wire, dict) and wire["$type"] == "list"
    assert encode_value(list(range(10)), max_items=5) == {
        "$repr": "[0, 1, 2, 3, 4, 5, ...]",
        "$type": "list",
    }
    assert encode_value(["x" * 5000]) == ["x" * 5000]  # strings are not cut
    opaque = encode_value({"x" * 5000})
    assert isinstance(opaque, dict) and len(str(opaque["$repr"])) < 300
    assert isinstance(encode_value(range(10**12)), dict)  # a huge Sequence goes by repr


@pytest.mark.parametrize(
    "wire",
    [
        {"$ref": 3},
        {"$ref": "0x1", "extra": 1},
        {"$repr": "x", "$type": 1},
        {"$dict": [1]},
        {"$unknown": 1},
        {1: 2},
        (1, 2),
        {"a": {1, 2}},
    ],
)
def test_malformed_wire_values_are_refused(wire: object) -> None:
    with pytest.raises(MalformedValue):
        decode_value(wire)


def test_decoding_depth_is_bounded() -> None:
    wire: object = 1
    for _ in range(100):
        wire = [wire]
    with pytest.raises(MalformedValue):
        decode_value(wire)


def test_wire_ref_builds_a_reference() -> None:
    assert decode_value(wire_ref("0x1a")) == RemoteRef("0x1a", "")
