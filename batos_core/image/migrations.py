"""Numbered migrations, run in order on open; the first one is the bootstrap.

A migration is a function of the root mapping. The image's `format_version` is
the number of the last migration applied; an image whose version is higher
than this batos knows is refused rather than misread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from typing import Any

from batos_core.image.meta import LOBBY_KEY, META_KEY, ImageMeta

Migration = Callable[[MutableMapping[str, Any]], None]


def bootstrap(root: MutableMapping[str, Any]) -> None:
    """Create `traits` (with the primordials), `genesis` and the `lobby`."""
    from batos_core.objects import UvmObject, set_slot
    from batos_core.objects.primordials import install_primordials

    traits = UvmObject()
    install_primordials(traits)
    genesis = UvmObject(**{"parent*": traits})
    lobby = UvmObject(**{"parent*": traits})
    set_slot(lobby, "traits", traits)
    set_slot(lobby, "genesis", genesis)
    set_slot(lobby, "lobby", lobby)
    root[LOBBY_KEY] = lobby


def add_reply_table(root: MutableMapping[str, Any]) -> None:
    """The daemon's exactly-once reply table."""
    from batos_core.daemon.reply_table import create_table

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
    from batos_core.daemon.reply_table import repack_table

    repack_table(root)


def add_standard_protocol(root: MutableMapping[str, Any]) -> None:
    """The standard protocol (numbers, strings, lists, booleans, nil, blocks), mostly
    written in Self, in the per-type traits; the ``block`` traits object if missing."""
    from batos_core.selfsyntax.protocol import install_standard_protocol

    install_standard_protocol(root[LOBBY_KEY])


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "bootstrap lobby, traits and genesis", bootstrap),
    (2, "exactly-once reply table", add_reply_table),
    (3, "method change log", add_change_log),
    (4, "per-type traits for numbers, strings, lists, nil and booleans", add_type_traits),
    (5, "autotelic record of self-improvement acts", add_autotelic_state),
    (6, "reply table in small nodes with packed entries", repack_reply_table),
    (7, "standard protocol of numbers, strings, lists, booleans, nil and blocks", add_standard_protocol),
]

FORMAT_VERSION = MIGRATIONS[-1][0]


def pending(meta: ImageMeta) -> list[tuple[int, str, Migration]]:
    """Migrations not yet applied to an image at `meta.format_version`."""
    return [m for m in MIGRATIONS if m[0] > meta.format_version]


def apply(root: MutableMapping[str, Any], meta: ImageMeta) -> list[int]:
    """Run the pending migrations (the caller commits); returns their numbers."""
    done = []
    for number, title, migrate in pending(meta):
        migrate(root)
        meta.format_version = number
        meta.migrations.append({"number": number, "title": title, "applied": time.time()})
        done.append(number)
    return done


def ensure_meta(root: MutableMapping[str, Any]) -> ImageMeta:
    """The root's ImageMeta, created (uncommitted) if the image is new."""
    meta = root.get(META_KEY)
    if meta is None:
        meta = ImageMeta()
        root[META_KEY] = meta
    assert isinstance(meta, ImageMeta)
    return meta
