"""Protocol-wide constants (no imports beyond the standard library)."""

from typing import Final

#: Version of the message set and framing. Bumped on any incompatible change.
PROTOCOL_VERSION: Final = 1

#: First frame of every message; it names the protocol version so that a peer
#: speaking another version is rejected before anything else is parsed.
MAGIC: Final = b"batos/%d" % PROTOCOL_VERSION

#: Default cap on the size of each frame, checked before any decoding.
DEFAULT_MAX_FRAME_BYTES: Final = 1 << 20

#: Replay window: an envelope more than this far from the receiver's clock is stale.
DEFAULT_WINDOW_NS: Final = 300 * 1_000_000_000

#: Clock skew tolerated between peers when comparing with the guard's start time.
DEFAULT_SKEW_NS: Final = 5 * 1_000_000_000
