"""The discriminated unions and the functions that parse and dump them.

Membership is derived, not listed: every `Message` subclass defined in a
module of this package takes part, by the suffix of its ``type`` literal
(``*_request``: `Request`; ``*_reply``: `Reply`; ``event``). So adding a request
type is its two models in a message module (``foo_request`` and ``foo_reply``),
nothing here. Each request type must have its reply type (checked at import).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import BaseModel, Field, TypeAdapter

import batos_core.protocol.messages as _package
from batos_core.protocol.messages.base import Message


class MissingReplyModel(TypeError):
    """A ``*_request`` model has no ``*_reply`` model beside it (a programming error)."""


def _message_models() -> list[type[Message]]:
    """Every concrete message model of this package, modules in name order, models
    in definition order (so the unions, and anything generated from them, are stable)."""
    for info in sorted(pkgutil.iter_modules(_package.__path__), key=lambda m: m.name):
        importlib.import_module(f"{_package.__name__}.{info.name}")
    found: list[type[Message]] = []
    pending = list(Message.__subclasses__())
    while pending:
        model = pending.pop(0)
        pending.extend(model.__subclasses__())
        if model.__module__.startswith(f"{_package.__name__}.") and "type" in model.model_fields:
            found.append(model)
    # __subclasses__ lists in definition order; the sort is stable.
    return sorted(found, key=lambda m: m.__module__)


def message_type(model: type[BaseModel]) -> str:
    """The ``type`` literal of a message model."""
    return str(model.model_fields["type"].default)


MESSAGE_MODELS = _message_models()
REQUEST_MODELS = tuple(m for m in MESSAGE_MODELS if message_type(m).endswith("_request"))
REPLY_MODELS = tuple(m for m in MESSAGE_MODELS if message_type(m).endswith("_reply"))
EVENT_MODELS = tuple(m for m in MESSAGE_MODELS if message_type(m) == "event")


def _reply_types() -> dict[str, str]:
    replies = {message_type(m) for m in REPLY_MODELS}
    table = {}
    for model in REQUEST_MODELS:
        request_type = message_type(model)
        reply_type = request_type.removesuffix("_request") + "_reply"
        if reply_type not in replies:
            raise MissingReplyModel(f"{request_type} has no {reply_type} model")
        table[request_type] = reply_type
    return table


#: Request type -> the type of its successful reply (failures are ``error_reply``).
REPLY_TYPE: dict[str, str] = _reply_types()

if TYPE_CHECKING:
    # The unions are built at run time; to the type checker a parsed message is
    # a model whose fields it does not know.
    Request = Any
    Reply = Any
    DaemonMessage = Any
else:
    Request = Annotated[Union[REQUEST_MODELS], Field(discriminator="type")]  # noqa: UP007
    Reply = Annotated[Union[REPLY_MODELS], Field(discriminator="type")]  # noqa: UP007
    #: Anything the daemon sends to a client: a reply, an error reply or an event.
    DaemonMessage = Annotated[Union[(*REPLY_MODELS, *EVENT_MODELS)], Field(discriminator="type")]

_REQUEST: TypeAdapter[Any] = TypeAdapter(Request)
_DAEMON_MESSAGE: TypeAdapter[Any] = TypeAdapter(DaemonMessage)


def parse_request(data: Mapping[str, Any]) -> Any:
    """Validate a decoded body as a request (one of `REQUEST_MODELS`).

    Raises ``pydantic.ValidationError`` (answer it with an ``error_reply`` of
    code ``bad_request``, or ``unknown_type`` when ``type`` is not a request).
    """
    return _REQUEST.validate_python(data)


def parse_daemon_message(data: Mapping[str, Any]) -> Any:
    """Validate a decoded body as a reply, error reply or event.

    Raises ``pydantic.ValidationError``.
    """
    return _DAEMON_MESSAGE.validate_python(data)


def dump_message(message: BaseModel) -> dict[str, Any]:
    """The plain dict to hand to :meth:`batos_core.protocol.wire.Signer.sign`.

    Every field is present (defaults included), so a model and the equivalent
    client builder dict encode to the same bytes.
    """
    return message.model_dump(mode="python")
