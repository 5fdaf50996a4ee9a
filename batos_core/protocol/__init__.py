"""The batos wire protocol: messages, wire values, signing, connection file, client.

This package is imported by the CLI, so importing it must stay cheap: it does
not import pydantic. The pydantic models live in
:mod:`batos_core.protocol.messages` and are imported explicitly by the daemon;
clients build plain dicts with :mod:`batos_core.protocol.builders` and talk to
the daemon through :mod:`batos_core.protocol.client`.

The wire format is specified in ``docs/protocol.md``.
"""

from batos_core.protocol.constants import (
    DEFAULT_MAX_FRAME_BYTES,
    MAGIC,
    PROTOCOL_VERSION,
)

__all__ = ["DEFAULT_MAX_FRAME_BYTES", "MAGIC", "PROTOCOL_VERSION"]
