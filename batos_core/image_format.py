"""The format of a batos image: every numbered migration of this batos, in order.

The image runs migrations but knows none of the features they serve
(``image.migrations`` owns the machinery and the bootstrap). This module,
above the image and beside the daemon's composition root, puts the features
together over an image: it lists each step with the feature that owns its
records: the world's exactly-once reply table, the change log of methods,
the Self syntax's type traits and standard protocol, the autotelic record. Whoever
opens an image passes ``MIGRATIONS`` to ``open_image``: the daemon's server,
``batos upgrade``'s verifier, the image tool (``batos image pack``) and the
tests. The numbers and titles are recorded in each image
(``ImageMeta.migrations``): a step is never renumbered or removed, only
appended.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from batos_core.image.meta import LOBBY_KEY
from batos_core.image.migrations import BOOTSTRAP, MigrationStep, format_version
from batos_core.selfsyntax.runtime import provide_runtime

# Methods written in Self (migration 7's standard protocol, and every one the
# REPL installs) compile against the Self runtime, ``batos.selflang``. Every
# process that opens an image opens it with these steps, so every such
# process (a daemon, a verifier, the image tool, a test's probe) has it.
provide_runtime()


def add_reply_table(root: MutableMapping[str, Any]) -> None:
    """The exactly-once reply table (shared by every daemon of a world)."""
    from batos_core.world.reply_table import create_table

    create_table(root)


def add_change_log(root: MutableMapping[str, Any]) -> None:
    """The change log of method installs, reverts, replays and rejections."""
    from batos_core.methods.changelog import create_log

    create_log(root)


def add_type_traits(root: MutableMapping[str, Any]) -> None:
    """Per-type traits (number, string, list, nil, boolean) under `traits`, committed
    up front so a miss on a value always names a stored object."""
    from batos_core.selfsyntax.type_traits import ensure_type_traits

    ensure_type_traits(root[LOBBY_KEY])


def add_autotelic_state(root: MutableMapping[str, Any]) -> None:
    """The autotelic record of self-improvement acts."""
    from batos_core.autotelic.state import create_state

    create_state(root)


def repack_reply_table(root: MutableMapping[str, Any]) -> None:
    """The reply table in small nodes with one bytes value per entry (cheaper commits)."""
    from batos_core.world.reply_table import repack_table

    repack_table(root)


def spread_reply_table(root: MutableMapping[str, Any]) -> None:
    """The reply table in fixed hashed buckets: no BTree nodes for concurrent commits to
    lock (RelStorage on PostgreSQL deadlocked on them; see `batos_core.world.reply_table`)."""
    from batos_core.world.reply_table import spread_table

    spread_table(root)


def add_standard_protocol(root: MutableMapping[str, Any]) -> None:
    """The standard protocol (numbers, strings, lists, booleans, nil, blocks), mostly
    written in Self, in the per-type traits; the ``block`` traits object if missing."""
    from batos_core.selfsyntax.protocol import install_standard_protocol

    install_standard_protocol(root[LOBBY_KEY])


MIGRATIONS: list[MigrationStep] = [
    BOOTSTRAP,
    (2, "exactly-once reply table", add_reply_table),
    (3, "method change log", add_change_log),
    (4, "per-type traits for numbers, strings, lists, nil and booleans", add_type_traits),
    (5, "autotelic record of self-improvement acts", add_autotelic_state),
    (6, "reply table in small nodes with packed entries", repack_reply_table),
    (7, "standard protocol of numbers, strings, lists, booleans, nil and blocks", add_standard_protocol),
    (8, "reply table in fixed hashed buckets", spread_reply_table),
]

FORMAT_VERSION = format_version(MIGRATIONS)
