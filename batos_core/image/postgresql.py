"""A world in PostgreSQL: RelStorage (history-preserving) on the psycopg2 driver.

``postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE`` names a database that
must exist; the password may also come from ``PGPASSWORD`` or ``~/.pgpass``
(libpq's own rules), which keeps it out of command lines and logs. The
password is never part of `StorageSpec.uri`.

Order of checks in `open_postgresql`, each refusal one line that names the
storage and the fix, before RelStorage is created (so nothing is written):

1. RelStorage and psycopg2 are importable (`StorageRefused`: the extra to install);
2. the server answers (`StorageUnreachable`), accepts the user and password,
   and has the database (`StorageRefused`, with the ``createdb`` to run);
3. the database holds a complete RelStorage world, or no tables at all. A new
   world's schema is created on its first open, as a FileStorage is created
   where no file exists; refused instead (`StorageRefused`) are: an empty
   database opened read-only (it has no world to read, and a read-only open
   writes nothing), a database with other tables (RelStorage's are not added
   beside them), a history-free RelStorage schema (batos keeps history:
   `batos history`, reverts) and an incomplete RelStorage schema.

Several daemons may open a new database at once. RelStorage creates its
schema in one transaction but checks for it outside that transaction, and ZODB
writes the root object of an empty storage without retrying a conflict; two
racing opens therefore failed half-way (a duplicate table, a ConflictError on
oid 0). So a world is created, schema and root object, while holding a
PostgreSQL advisory lock (`OPEN_LOCK_KEY`, local to the database), and an open
that finds no finished world waits for that lock and looks again. An open of a
finished world (schema and root object present) takes no lock.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from batos_core.image.errors import StorageRefused, StorageUnreachable

if TYPE_CHECKING:
    from batos_core.image.storage import StorageSpec

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
#: How long an open waits for another process creating the same world.
CREATE_WAIT_S = 60
#: pg_advisory_lock key held while a world is created ("batos" in ASCII, then 1).
OPEN_LOCK_KEY = 0x626174_6F7301
#: Tables of RelStorage's history-preserving PostgreSQL schema (`transaction` and
#: `current_object` only exist there; `object_state` in both kinds).
_HISTORY_TABLES = frozenset(
    {
        "commit_row_lock",
        "transaction",
        "object_state",
        "blob_chunk",
        "current_object",
        "object_ref",
        "object_refs_added",
        "pack_object",
        "pack_state",
        "pack_state_tid",
    }
)
#: SQLSTATE of a lock wait that ran past lock_timeout.
_LOCK_NOT_AVAILABLE = "55P03"
_INSTALL_HINT = "pip install 'batos[world]'"


def dsn_of(spec: StorageSpec) -> str:
    """The libpq connection string for `spec` (values quoted as libpq wants)."""
    parts = {
        "host": spec.host,
        "port": str(spec.port),
        "dbname": spec.name,
        "user": spec.user,
        "password": spec.password,
        "connect_timeout": str(CONNECT_TIMEOUT_S),
        "application_name": "batos",
    }
    return " ".join(f"{key}={_quote(value)}" for key, value in parts.items() if value)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def open_postgresql(spec: StorageSpec) -> Any:
    """A RelStorage on the database `spec` names, creating the world (schema and root
    object) if the database is empty. Raises StorageUnreachable or StorageRefused (see the
    module docstring); writes nothing on error. Waits at most CREATE_WAIT_S for another
    process that is creating the same world (StorageRefused after that)."""
    try:
        import psycopg2
        from relstorage.adapters.postgresql import PostgreSQLAdapter
        from relstorage.options import Options
        from relstorage.storage import RelStorage
    except ImportError as exc:
        raise StorageRefused(
            f"{spec.uri} needs RelStorage and psycopg2 ({exc.name} is missing): {_INSTALL_HINT}"
        ) from None
    dsn = dsn_of(spec)

    def relstorage(*, create: bool, read_only: bool) -> Any:
        options = Options(keep_history=True, create_schema=create, driver="psycopg2", read_only=read_only)
        return RelStorage(PostgreSQLAdapter(dsn=dsn, options=options), options=options)

    try:
        conn = psycopg2.connect(dsn)
    except psycopg2.OperationalError as exc:
        raise _refusal(spec, str(exc)) from None
    try:
        conn.autocommit = True
        if not _finished_world(conn, spec):
            _wait_for_creators(psycopg2, conn, spec)
            if not _finished_world(conn, spec):  # nobody made it meanwhile: this open does
                _create_world(conn, spec, relstorage)
        # The storage opened while the lock (if taken) is still held: never a half-made world.
        return relstorage(create=False, read_only=spec.read_only)
    finally:
        conn.close()  # ends the session, and with it the advisory lock


def _tables(conn: Any) -> frozenset[str]:
    """The table (and view) names of the database's current schema."""
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        return frozenset(str(row[0]) for row in cursor.fetchall())


def _finished_world(conn: Any, spec: StorageSpec) -> bool:
    """True if the database holds RelStorage's schema and a root object; False if it is
    empty or the root object is still being written. Raises StorageRefused for tables
    batos must leave alone (see the module docstring)."""
    tables = _tables(conn)
    if not tables:
        return False
    if "object_state" in tables and not {"transaction", "current_object"} & tables:
        raise StorageRefused(
            f"{spec.uri} holds a history-free RelStorage schema; batos keeps history: "
            "use another database (zodbconvert can copy the world into it)"
        )
    if not tables & _HISTORY_TABLES:
        raise StorageRefused(
            f"{spec.uri} has tables that are not a RelStorage world: use an empty database "
            f"(createdb {_createdb_args(spec)})"
        )
    missing = sorted(_HISTORY_TABLES - tables)
    if missing:
        raise StorageRefused(
            f"{spec.uri} holds an incomplete RelStorage schema (no {', '.join(missing)}): "
            f"restore the database from a backup, or use an empty one (createdb {_createdb_args(spec)})"
        )
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM current_object WHERE zoid = 0")
        return cursor.fetchone() is not None


def _wait_for_creators(psycopg2: Any, conn: Any, spec: StorageSpec) -> None:
    """Take the creation lock on `conn`'s session (held until `conn` closes)."""
    with conn.cursor() as cursor:
        cursor.execute(f"SET lock_timeout = '{CREATE_WAIT_S}s'")
        try:
            cursor.execute("SELECT pg_advisory_lock(%s)", (OPEN_LOCK_KEY,))
        except psycopg2.OperationalError as exc:
            if exc.pgcode != _LOCK_NOT_AVAILABLE:
                raise _refusal(spec, str(exc)) from None
            raise StorageRefused(
                f"{spec.uri}: another process has been creating this world for {CREATE_WAIT_S} s: "
                "stop it if it is stuck, then retry"
            ) from None


def _create_world(conn: Any, spec: StorageSpec, relstorage: Any) -> None:
    """RelStorage's schema and ZODB's root object, as ZODB.DB writes it for an empty
    storage; the caller holds the creation lock."""
    import ZODB

    if spec.read_only:
        raise StorageRefused(
            f"{spec.uri} holds no batos world yet (no RelStorage schema) and was opened read-only: "
            f"open it once read-write to create one (batos --image {spec.uri} daemon start)"
        )
    if not _tables(conn):
        log.info("creating RelStorage's history-preserving schema in %s", spec.uri)
    ZODB.DB(relstorage(create=True, read_only=False)).close()  # writes the root object


def _refusal(spec: StorageSpec, message: str) -> Exception:
    """The one-line error for libpq's connection failure `message`."""
    first = message.strip().splitlines()[0] if message.strip() else "no reason given"
    if "password authentication failed" in message or "no password supplied" in message:
        return StorageRefused(
            f"{spec.uri}: PostgreSQL refused the password of user {spec.user!r}: "
            "give the right one in PGPASSWORD or ~/.pgpass"
        )
    if "does not exist" in message and "database" in message:
        return StorageRefused(
            f"{spec.uri}: no database {spec.name!r}: create it: createdb {_createdb_args(spec)}"
        )
    if "role" in message and "does not exist" in message:
        return StorageRefused(f"{spec.uri}: PostgreSQL has no user {spec.user!r}: createuser {spec.user}")
    if any(text in message for text in ("Connection refused", "timeout expired", "could not translate host")):
        return StorageUnreachable(
            f"no PostgreSQL server answers at {spec.host}:{spec.port} for {spec.uri}: "
            "start it, or fix the URI"
        )
    return StorageRefused(f"{spec.uri}: PostgreSQL refused the connection: {first}")


def _createdb_args(spec: StorageSpec) -> str:
    user = f" -U {spec.user}" if spec.user else ""
    return f"-h {spec.host} -p {spec.port}{user} {spec.name}"
