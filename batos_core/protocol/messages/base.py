"""Shared pieces of the pydantic message models."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType

#: A wire value (see :mod:`batos_core.protocol.values`) as a pydantic type.
WireValue = TypeAliasType(
    "WireValue",
    "bool | int | float | str | bytes | list[WireValue] | dict[str, WireValue] | None",
)
WireMap = dict[str, WireValue]

#: Client-chosen request id (e.g. ``uuid4().hex``); retries reuse it.
RequestId = Annotated[str, Field(min_length=1, max_length=128)]
#: An object reference as text: a lobby name (``genesis``) or an oid (``0x1a``).
ObjectRef = Annotated[str, Field(min_length=1, max_length=256)]
#: A selector in Python form (``setSlot_value_``) or Self form (``setSlot:value:``).
Selector = Annotated[str, Field(min_length=1, max_length=256)]
Version = Annotated[int, Field(ge=1)]

__all__ = ["Message", "ObjectRef", "RequestId", "Selector", "Version", "WireMap", "WireValue"]


class Message(BaseModel):
    """Base of every message: unknown fields are refused, types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Record(BaseModel):
    """Base of nested records inside messages (same rules as :class:`Message`)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
