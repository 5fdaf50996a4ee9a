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
3. the database holds a RelStorage world, or no tables at all. A new world's
   schema is created on its first open, as a FileStorage is created where no
   file exists; a database with other tables is refused rather than have
   RelStorage's tables added beside them, and so is a history-free RelStorage
   schema (batos keeps history: `batos history`, reverts).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from batos_core.image.errors import StorageRefused, StorageUnreachable

if TYPE_CHECKING:
    from batos_core.image.storage import StorageSpec

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
#: Tables of RelStorage's history-preserving PostgreSQL schema (`transaction` only exists there).
_HISTORY_TABLES = frozenset({"object_state", "current_object", "transaction"})
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
    """A RelStorage on the database `spec` names. Raises StorageUnreachable or
    StorageRefused (see the module docstring); writes nothing on error."""
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
    tables = _tables(psycopg2, dsn, spec)
    if tables and not _HISTORY_TABLES <= tables:
        if "object_state" in tables:
            raise StorageRefused(
                f"{spec.uri} holds a history-free RelStorage schema; batos keeps history: "
                "use another database (zodbconvert can copy the world into it)"
            )
        raise StorageRefused(
            f"{spec.uri} has tables that are not a RelStorage world: use an empty database "
            f"(createdb {_createdb_args(spec)})"
        )
    if not tables:
        log.info("creating RelStorage's history-preserving schema in %s", spec.uri)
    options = Options(
        keep_history=True, create_schema=not tables, driver="psycopg2", read_only=spec.read_only
    )
    adapter = PostgreSQLAdapter(dsn=dsn, options=options)
    return RelStorage(adapter, options=options)


def _tables(psycopg2: Any, dsn: str, spec: StorageSpec) -> frozenset[str]:
    """The table names of the database's current schema; raises the module's errors."""
    try:
        conn = psycopg2.connect(dsn)
    except psycopg2.OperationalError as exc:
        raise _refusal(spec, str(exc)) from None
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            )
            return frozenset(str(row[0]) for row in cursor.fetchall())
    finally:
        conn.close()


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
