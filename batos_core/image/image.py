"""`open_image`: a ZODB database holding the lobby, with per-worker sessions.

An `Image` owns the `ZODB.DB`. Every unit of work (a daemon worker, a test, a
script) opens its own `Session`: a Connection with its own TransactionManager,
so one session's commit never persists another's half-done write (seed
defect 3: `transaction.manager` is thread-local and shared by coroutines).
A file image commits in groups (`group_commit`): a Session's transaction
ends only once its data is on disk.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import transaction
import ZODB
from ZODB.POSException import POSKeyError

from batos_core.image.class_moves import find_class
from batos_core.image.errors import ImageError, ImageFormatTooNew, ObjectNotFound
from batos_core.image.group_commit import DurableReplies, GroupCommitFileStorage
from batos_core.image.meta import LOBBY_KEY, META_KEY, ImageMeta
from batos_core.image.migrations import MigrationStep, apply, check_steps, ensure_meta, format_version
from batos_core.image.refs import Ref, oid_bytes, parse_ref
from batos_core.image.storage import StorageSpec, open_storage, parse_image_uri

log = logging.getLogger(__name__)


class Session:
    """One Connection + its own TransactionManager. Not thread-safe: one per thread.

    On a group-commit FileStorage, each transaction's end (commit or abort)
    waits until what it wrote or could have read is on disk.
    """

    def __init__(self, db: ZODB.DB) -> None:
        self.transaction_manager = transaction.TransactionManager(explicit=False)
        if isinstance(db.storage, GroupCommitFileStorage):
            # Held here: the manager keeps synchronizers in a WeakSet.
            self._durable = DurableReplies(db.storage)
            self.transaction_manager.registerSynch(self._durable)
        self.connection = db.open(self.transaction_manager)

    @property
    def root(self) -> Any:
        return self.connection.root()

    @property
    def lobby(self) -> Any:
        return self.root[LOBBY_KEY]

    @property
    def traits(self) -> Any:
        return self.lobby.traits

    @property
    def genesis(self) -> Any:
        return self.lobby.genesis

    @property
    def meta(self) -> ImageMeta:
        meta = self.root[META_KEY]
        assert isinstance(meta, ImageMeta)
        return meta

    def get(self, oid: int) -> Any:
        """The object with integer `oid`; ObjectNotFound if the image has none."""
        try:
            obj = self.connection.get(oid_bytes(oid))
            obj._p_activate()
        except (POSKeyError, KeyError):
            raise ObjectNotFound(f"no object with oid {oid:#x} in this image") from None
        return obj

    def resolve(self, ref: str | Ref) -> Any:
        """A lobby name or an oid reference to the object it names."""
        from batos_core.objects import UvmObject, has_slot

        parsed = parse_ref(ref) if isinstance(ref, str) else ref
        if parsed.name is not None and has_slot(self.lobby, parsed.name):
            return getattr(self.lobby, parsed.name)
        if parsed.oid is not None:
            obj = self.get(parsed.oid)
            if not isinstance(obj, UvmObject):
                raise ObjectNotFound(f"{parsed.oid:#x} is a {type(obj).__name__}, not a UvmObject")
            return obj
        raise ObjectNotFound(f"the lobby has no slot named {parsed.name!r}")

    def commit(self) -> None:
        self.transaction_manager.commit()

    def abort(self) -> None:
        self.transaction_manager.abort()

    def close(self) -> None:
        self.transaction_manager.abort()
        self.connection.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Image:
    """A live image: the database plus the bootstrap guarantee."""

    def __init__(self, db: ZODB.DB, spec: StorageSpec) -> None:
        self.db = db
        self.spec = spec
        self._default: Session | None = None

    @property
    def uri(self) -> str:
        return self.spec.uri

    @property
    def path(self) -> Path | None:
        return self.spec.path

    def session(self) -> Session:
        """A new Session (Connection + TransactionManager); close it when done."""
        return Session(self.db)

    # Convenience for scripts and tests: one default session.
    @property
    def default_session(self) -> Session:
        if self._default is None:
            self._default = self.session()
        return self._default

    @property
    def lobby(self) -> Any:
        return self.default_session.lobby

    @property
    def traits(self) -> Any:
        return self.default_session.traits

    @property
    def genesis(self) -> Any:
        return self.default_session.genesis

    def close(self) -> None:
        if self._default is not None:
            self._default.close()
            self._default = None
        self.db.close()

    def __enter__(self) -> Image:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_image(
    uri: str | Path,
    *,
    migrations: Sequence[MigrationStep],
    read_only: bool = False,
    cache_size: int = 100_000,
    pool_size: int = 7,
) -> Image:
    """Open (and on first open, bootstrap) the image at `uri`, brought up to `migrations`.

    `uri` is a path, ``file://PATH``, ``memory://`` or ``zeo://HOST:PORT``.
    `migrations` are every step of this batos (``batos_core.image_format``),
    passed in by whoever opens the image: the image knows no feature.
    Pending steps run in one transaction; an image already up to date is
    opened without writing anything. Raises ValueError for steps that do not
    start with the bootstrap or skip a number, and ImageError subclasses with
    a one-line message (unknown scheme, locked, not a FileStorage, too new).
    `pool_size` is how many sessions are expected open at once (ZODB logs a
    warning past it, and a critical message past twice it).
    """
    check_steps(migrations)
    spec = parse_image_uri(uri, read_only=read_only)
    storage = open_storage(spec)
    try:
        db = ZODB.DB(storage, cache_size=cache_size, pool_size=pool_size, class_factory=find_class)
    except Exception:
        storage.close()
        raise
    try:
        _migrate(db, spec, migrations)
    except Exception:
        db.close()
        raise
    return Image(db, spec)


def _migrate(db: ZODB.DB, spec: StorageSpec, steps: Sequence[MigrationStep]) -> None:
    current = format_version(steps)
    with Session(db) as session:
        root = session.root
        meta = root.get(META_KEY)
        version = 0 if meta is None else meta.format_version
        if version > current:
            raise ImageFormatTooNew(
                f"image format {version} is newer than this batos understands ({current})"
            )
        if version == current:
            return
        if spec.read_only:
            # Older, not newer: ImageFormatTooNew would point the user at the wrong fix.
            raise ImageError(f"image needs migrations {version + 1}..; opened read-only")
        for attempt in session.transaction_manager.attempts():
            with attempt:
                meta = ensure_meta(session.root)
                applied = apply(session.root, meta, steps)
        log.info("image %s: applied migrations %s", spec.uri, applied)
