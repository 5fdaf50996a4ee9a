"""Numbered migrations, run in order on open: the machinery, and the first one (the bootstrap).

A migration is a function of the root mapping; a step is ``(number, title,
migration)``. The image's `format_version` is the number of the last step
applied; an image whose version is higher than the steps it is opened with
know is refused rather than misread.

The image knows only its own step, the bootstrap (lobby, traits, genesis:
the object model). The steps that add a feature's records (the daemon's
reply table, the change log, the Self protocol, the autotelic record) belong
to those features, above the image: ``batos_core.image_format`` lists every
step of this batos, and whoever opens an image passes them to
``open_image(..., migrations=...)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

from batos_core.image.meta import LOBBY_KEY, META_KEY, ImageMeta

Migration = Callable[[MutableMapping[str, Any]], None]
#: One numbered migration: (number, title, migration), numbers from 1 without gaps.
MigrationStep = tuple[int, str, Migration]


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


#: The image's own step: the first of every image.
BOOTSTRAP: MigrationStep = (1, "bootstrap lobby, traits and genesis", bootstrap)


def format_version(steps: Sequence[MigrationStep]) -> int:
    """The format an image has once `steps` are applied: the last step's number."""
    return steps[-1][0]


def check_steps(steps: Sequence[MigrationStep]) -> None:
    """Raise ValueError unless `steps` start with the bootstrap and are numbered 1, 2, 3..."""
    if not steps or steps[0] != BOOTSTRAP:
        raise ValueError("the migrations must start with the image's bootstrap (migrations.BOOTSTRAP)")
    numbers = [number for number, _, _ in steps]
    if numbers != list(range(1, len(steps) + 1)):
        raise ValueError(f"migration numbers must run 1, 2, 3... without gaps, not {numbers}")


def pending(meta: ImageMeta, steps: Sequence[MigrationStep]) -> list[MigrationStep]:
    """Steps not yet applied to an image at `meta.format_version`."""
    return [step for step in steps if step[0] > meta.format_version]


def apply(root: MutableMapping[str, Any], meta: ImageMeta, steps: Sequence[MigrationStep]) -> list[int]:
    """Run the pending steps (the caller commits); returns their numbers."""
    done = []
    for number, title, migrate in pending(meta, steps):
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
