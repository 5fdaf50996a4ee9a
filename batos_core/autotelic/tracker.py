"""Keeps an `ImageSummary` in step with a live image: one full scan, then only what changed.

The tracker has its own Session (never writes) and its own MVCC storage
instance, which ZODB hands the oids of every commit from any connection (the
same invalidations that keep connection caches fresh). A refresh polls those
oids, reloads just those objects, and reads change-log records newer than the
last one seen. So `batos cem` on an image of 100,000 objects costs the work of
the objects changed since the last reading, not a walk of the image.

Objects are every stored UvmObject record (on storages that cannot list their
records, e.g. ``memory://``, the UvmObjects reachable from the lobby, plus any
committed later). Thread-safe: one lock.

Across restarts (FileStorage images): `close()` saves the summary beside the
image (``image.fs.cem``, like FileStorage's own ``.index``) with the last
transaction id it reflects; the next tracker loads it and reads only the
transactions committed since (the storage's iterator), so even the first
reading after a restart costs the changes, not the image. A missing, foreign
or unreadable file just means one full scan.
"""

from __future__ import annotations

import importlib
import io
import logging
import os
import pickle
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from persistent.list import PersistentList
from persistent.mapping import PersistentMapping
from ZODB._compat import PersistentUnpickler
from ZODB.POSException import POSKeyError

from batos_core.autotelic.summary import MAX_CORPUS, ImageSummary
from batos_core.image import Session
from batos_core.image.meta import META_KEY
from batos_core.methods.changelog import LOG_KEY, ChangeLog
from batos_core.objects import Method, UvmObject, slot_items
from batos_core.objects.primordials import PRIMORDIAL_SOURCES

log = logging.getLogger(__name__)

_MAX_VALUE_DEPTH = 8
CACHE_FORMAT = 1


class ImageTracker:
    """The image side of the CEM. `refresh()` before reading `summary`."""

    def __init__(self, db: Any, *, recent_installs: int = 20, cache_path: Path | None = None) -> None:
        self._db = db
        self._cache_path = cache_path
        self.loaded_from_cache = False
        self._lock = threading.Lock()
        self._session: Session | None = None
        self._watch: Any = None
        self._last_seq = 0
        self.summary = ImageSummary(recent_installs=recent_installs)
        self.scan_seconds = 0.0
        self.scans = 0

    def refresh(self) -> ImageSummary:
        """Bring the summary up to date (a full scan the first time); returns it.

        ZODB errors propagate; the summary is then left as it was before
        the failing object and the next refresh retries from the same oids
        only if ZODB reports them again, so a failed refresh triggers a full
        rescan next time.
        """
        with self._lock:
            try:
                if self._watch is None:
                    self._full_scan()
                else:
                    self._incremental()
            except BaseException:
                self._forget()
                raise
            return self.summary

    def close(self) -> None:
        """Save the summary (if it has a cache path and is current), release the session
        and the storage instance. Never raises."""
        with self._lock:
            if self._watch is not None and self._cache_path is not None:
                try:
                    tid = self._db.storage.lastTransaction()
                    self._incremental()
                    self._save(tid)
                except Exception:  # the next daemon scans once instead; nothing is lost
                    log.warning("could not save the CEM summary to %s", self._cache_path, exc_info=True)
            self._forget()

    # -- internals ---------------------------------------------------------

    def _forget(self) -> None:
        if self._watch is not None:
            try:
                self._watch.release()
            except Exception:  # closing a storage instance of a closed DB: nothing left to free
                log.debug("releasing the CEM storage instance failed", exc_info=True)
            self._watch = None
        if self._session is not None:
            try:
                self._session.close()
            except Exception:
                log.debug("closing the CEM session failed", exc_info=True)
            self._session = None

    def _full_scan(self) -> None:
        started = time.perf_counter()
        # Watch first, scan second: a commit in between is both scanned and
        # polled later, and re-reading an object is idempotent.
        self._watch = self._db._mvcc_storage.new_instance()
        self._watch.poll_invalidations()
        self._session = Session(self._db)
        session = self._session
        session.transaction_manager.begin()
        try:
            if self._load(session):
                return
            self.summary.reset_objects()
            self._scan_change_log(session, full=True)
            for source in PRIMORDIAL_SOURCES.values():
                self.summary.know_method(source)
            storage = self._db.storage
            if hasattr(storage, "record_iternext"):
                self._scan_records(storage)
            else:
                for obj in _reachable(session.lobby):
                    self._count(obj)
        finally:
            session.abort()
            session.connection.cacheMinimize()
        self.scans += 1
        self.scan_seconds = time.perf_counter() - started
        log.info(
            "CEM scan: %d objects, %d slots in %.2f s",
            self.summary.objects,
            self.summary.slots,
            self.scan_seconds,
        )

    def _load(self, session: Session) -> bool:
        """Take the saved summary and read the transactions since; False (nothing changed) if unusable."""
        path = self._cache_path
        if path is None or not path.is_file():
            return False
        started = time.perf_counter()
        storage = self._db.storage
        try:
            with path.open("rb") as fh:
                saved = pickle.load(fh)
            meta = session.root.get(META_KEY)
            usable = (
                isinstance(saved, dict)
                and saved.get("format") == CACHE_FORMAT
                and meta is not None
                and saved.get("created") == meta.created
                and saved.get("tid", b"\xff" * 8) <= storage.lastTransaction()
                and saved.get("inode") == _inode(path)  # a pack writes a new file: rescan
                and hasattr(storage, "iterator")
            )
            if not usable:
                log.info("CEM summary %s does not match this image; scanning it", path)
                return False
            summary = saved["summary"]
            summary.recent_installs = self.summary.recent_installs
            start = (int.from_bytes(saved["tid"], "big") + 1).to_bytes(8, "big")
            changed = self._replay(storage, start, summary)
        except Exception:  # a damaged cache is only a slower start
            log.warning("could not use the CEM summary %s; scanning the image", path, exc_info=True)
            return False
        self.summary = summary
        self._last_seq = int(saved.get("last_seq", 0))
        self._scan_change_log(session, full=False)
        self.loaded_from_cache = True
        self.scan_seconds = time.perf_counter() - started
        log.info("CEM summary loaded, %d records since it applied in %.2f s", changed, self.scan_seconds)
        return True

    def _replay(self, storage: Any, start: bytes, summary: ImageSummary) -> int:
        """Apply every record committed at or after `start` to `summary`; returns how many."""
        count = 0
        iterator = storage.iterator(start)
        try:
            for transaction in iterator:
                for record in transaction:
                    count += 1
                    self._apply_record(summary, record.oid, record.data)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        return count

    def _save(self, tid: bytes) -> None:
        assert self._cache_path is not None and self._session is not None
        meta = self._session.root.get(META_KEY)
        data = {
            "format": CACHE_FORMAT,
            "created": getattr(meta, "created", None),
            "tid": tid,
            "last_seq": self._last_seq,
            "inode": _inode(self._cache_path),
            "summary": self.summary,
        }
        self._session.abort()
        tmp = self._cache_path.with_name(self._cache_path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self._cache_path)

    def _scan_records(self, storage: Any) -> None:
        """Read every current record's pickle without building objects (~20x faster than loading them)."""
        for oid, data in _current_records(storage):
            self._apply_record(self.summary, oid, data)

    @staticmethod
    def _apply_record(summary: ImageSummary, oid: bytes, data: bytes | None) -> None:
        key = int.from_bytes(oid, "big")
        decoded = _decode(data) if data else None
        if decoded is None:
            if key in summary.counts:
                summary.drop_object(key)
            return
        klass, state = decoded
        if klass is UvmObject:
            slots = state.get("_slots", {}) if isinstance(state, dict) else {}
            methods = sum(1 for v in slots.values() if isinstance(v, _Ref) and v.klass is Method)
            summary.set_object(key, len(slots), methods)
        elif klass is Method and isinstance(state, dict):
            summary.know_method(str(state.get("source", "")))

    def _incremental(self) -> None:
        assert self._session is not None
        oids = self._watch.poll_invalidations()
        if oids is None:  # the storage lost track (e.g. a ZEO reconnect): start over
            self._forget()
            self._full_scan()
            return
        session = self._session
        session.transaction_manager.begin()  # see every commit the poll reported, and newer
        try:
            connection = session.connection
            for oid in oids:
                self._update(connection, oid)
            self._scan_change_log(session, full=False)
        finally:
            session.abort()
            session.connection.cacheGC()

    def _update(self, connection: Any, oid: bytes) -> None:
        key = int.from_bytes(oid, "big")
        try:
            obj = connection.get(oid)
            obj._p_activate()
        except (POSKeyError, KeyError):
            self.summary.drop_object(key)
            return
        if isinstance(obj, UvmObject):
            self._count(obj)
        elif key in self.summary.counts:
            self.summary.drop_object(key)

    def _count(self, obj: UvmObject) -> None:
        items = slot_items(obj)
        methods = 0
        for _, value in items:
            if isinstance(value, Method):
                methods += 1
                self.summary.know_method(value.source)
        self.summary.set_object(int.from_bytes(obj._p_oid, "big"), len(items), methods)

    def _scan_change_log(self, session: Session, *, full: bool) -> None:
        changes = session.root.get(LOG_KEY)
        if not isinstance(changes, ChangeLog):
            return
        if full:
            keys = list(changes.records.keys())
            # Only the newest sources can matter: the corpus is bounded.
            keys = keys[-(MAX_CORPUS + self.summary.recent_installs) :]
        else:
            keys = list(changes.records.keys(min=self._last_seq + 1))
        records = [(seq, changes.records[seq]) for seq in keys]
        installs = [seq for seq, record in records if record.get("action") == "install"]
        # On a full scan only the last K installs are "recent"; older ones are corpus.
        recent = set(installs[-self.summary.recent_installs :]) if full else set(installs)
        for seq, record in records:
            source = str(record.get("source", ""))
            action = record.get("action")
            if action == "install" and seq in recent:
                self.summary.record_install(source)
            elif action in ("install", "revert", "replay") and source:
                self.summary.know_method(source)
            self._last_seq = max(self._last_seq, int(seq))


def _reachable(root: UvmObject) -> Iterator[UvmObject]:
    """Every UvmObject reachable from `root` through slots (and containers in slots), once."""
    seen: set[bytes] = set()
    stack: list[Any] = [root]
    while stack:
        obj = stack.pop()
        oid = obj._p_oid
        if oid is None or oid in seen:
            continue
        seen.add(oid)
        yield obj
        for _, value in slot_items(obj):
            stack.extend(_objects_in(value, 0))


def _objects_in(value: Any, depth: int) -> Iterator[UvmObject]:
    if isinstance(value, UvmObject):
        yield value
    elif depth < _MAX_VALUE_DEPTH:
        if isinstance(value, (PersistentList, list, tuple)):
            for item in value:
                yield from _objects_in(item, depth + 1)
        elif isinstance(value, (PersistentMapping, dict)):
            for item in value.values():
                yield from _objects_in(item, depth + 1)


class _Ref:
    """A persistent reference met while decoding a raw record: its class when the pickle names it."""

    __slots__ = ("klass",)

    def __init__(self, ref: Any) -> None:
        # ZODB writes (oid, class) for most references, a bare oid or a list form otherwise.
        self.klass = ref[1] if isinstance(ref, tuple) and len(ref) == 2 else None


class _Unknown:
    """Stands in for a class that cannot be imported (the record is skipped)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass


_class_cache: dict[tuple[str, str], Any] = {}


def _find_global(module: str, name: str) -> Any:
    key = (module, name)
    klass = _class_cache.get(key)
    if klass is None:
        try:
            klass = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            klass = _Unknown
        _class_cache[key] = klass
    return klass


# Records worth decoding past their class pickle.
_WANTED = (UvmObject, Method)


def _decode(data: bytes) -> tuple[Any, Any] | None:
    """(class, state) of a raw ZODB record if it is a UvmObject or a Method, else None."""
    unpickler = PersistentUnpickler(_find_global, _Ref, io.BytesIO(data))
    try:
        klass = unpickler.load()
        if isinstance(klass, tuple):
            klass = klass[0]
        if klass not in _WANTED:
            return None
        return klass, unpickler.load()
    except Exception:  # a record this code cannot read is not counted; the metric is approximate there
        log.debug("CEM scan: unreadable record", exc_info=True)
        return None


def _current_records(storage: Any) -> Iterator[tuple[bytes, bytes]]:
    """(oid, pickle) of every current record, via IStorageCurrentRecordIteration."""
    cursor = None
    while True:
        oid, _tid, data, cursor = storage.record_iternext(cursor)
        yield oid, data
        if cursor is None:
            return


def _inode(cache_path: Path) -> int | None:
    """The inode of the image file the cache belongs to (``image.fs`` for ``image.fs.cem``)."""
    try:
        return cache_path.with_suffix("").stat().st_ino
    except OSError:
        return None
