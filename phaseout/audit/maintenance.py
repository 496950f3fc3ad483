"""The append-only triggers on audit_auditevent, and the one documented way past them.

The database refuses every UPDATE of an audit entry, always. It refuses DELETE (and, on PostgreSQL,
TRUNCATE) unless the session is in *audit maintenance*, which only two things enter:

- `phaseout audit archive`, after it has written the entries to a write-once archive file (and recorded
  an audit.archive entry in the same transaction);
- the test suite's database flush between tests that commit (tests/conftest.py wraps Django's
  `execute_sql_flush` in `maintenance()`): TransactionTestCase and live-server tests empty every table.

How a session enters it:

- PostgreSQL: the transaction-local setting `phaseout.audit_maintenance = 'on'` (set_config(..., true)),
  honoured only for a role that owns the table (or is a member of its owner). Run the application as a
  role that is granted INSERT and SELECT but does not own the tables, and even the maintenance flag does
  not let it delete entries: only the owner (migrations, the archive job run as the owner) can.
- SQLite (the embedded set-up): the SQL function phaseout_audit_maintenance(), which the application
  registers on each of its own connections and which answers 1 only inside `maintenance()`. A connection
  that is not the application's (the sqlite3 shell) has no such function, so its DELETE fails too.

The database owner can still drop the triggers: that is what the HMAC chain is for (phaseout audit verify).
On SQLite a migration that rebuilds the table drops its triggers: `installed()` tells, verify checks it
and a test fails if a migration leaves the table without them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

FLAG = "phaseout.audit_maintenance"
SQLITE_FUNCTION = "phaseout_audit_maintenance"
TABLE = "audit_auditevent"
# The chain's links (ADR 27) are protected the same way.
LINK_TABLE = "audit_chainlink"
TABLES = (TABLE, LINK_TABLE)

# Constants only (no input reaches them), hence the noqa on the f-strings. The function is shared by both
# tables (its name is the first table's, kept from migration 0006).
POSTGRESQL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_auditevent_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE'
       AND current_setting('{FLAG}', true) = 'on'
       AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        IF TG_LEVEL = 'ROW' THEN
            RETURN OLD;
        END IF;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END
$$"""  # noqa: S608


def _postgresql_install(table: str) -> list[str]:
    return [
        POSTGRESQL_FUNCTION,
        f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION audit_auditevent_append_only()""",
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION audit_auditevent_append_only()""",
    ]


def _postgresql_uninstall(table: str, drop_function: bool) -> list[str]:
    statements = [
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
    ]
    if drop_function:  # only when no table's trigger uses it any more (migration 0006 undone)
        statements.append("DROP FUNCTION IF EXISTS audit_auditevent_append_only()")
    return statements


def _sqlite_install(table: str) -> list[str]:
    return [
        f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
            BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END""",
        f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} WHEN NOT {SQLITE_FUNCTION}()
            BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused'); END""",
    ]


def _sqlite_uninstall(table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {table}_no_update", f"DROP TRIGGER IF EXISTS {table}_no_delete"]


def _triggers(vendor: str, table: str) -> set[str]:
    if vendor == "postgresql":
        return {f"{table}_append_only", f"{table}_no_truncate"}
    return {f"{table}_no_update", f"{table}_no_delete"}


def install(connection: BaseDatabaseWrapper, table: str = TABLE) -> None:
    statements = _postgresql_install(table) if connection.vendor == "postgresql" else _sqlite_install(table)
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def uninstall(connection: BaseDatabaseWrapper, table: str = TABLE, *, drop_function: bool = False) -> None:
    statements = (
        _postgresql_uninstall(table, drop_function)
        if connection.vendor == "postgresql"
        else _sqlite_uninstall(table)
    )
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def installed(connection: BaseDatabaseWrapper, tables: tuple[str, ...] = TABLES) -> bool:
    """Whether every append-only trigger is on the tables (the entries and the chain's links)."""
    for table in tables:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT tgname FROM pg_trigger"
                    " WHERE tgrelid = %s::regclass AND NOT tgisinternal AND tgenabled <> 'D'",
                    [table],
                )
            else:
                cursor.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table]
                )
            names = {row[0] for row in cursor.fetchall()}
        if not _triggers(connection.vendor, table) <= names:
            return False
    return True


def register_sqlite_function(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """connection_created: give each of the application's SQLite connections the maintenance function."""
    if connection.vendor != "sqlite":
        return

    def in_maintenance() -> int:
        return 1 if getattr(connection, "audit_maintenance", False) else 0

    connection.connection.create_function(SQLITE_FUNCTION, 0, in_maintenance)


@contextmanager
def maintenance(using: str = "default") -> Iterator[None]:
    """Let this transaction delete audit entries (never update them). Only inside a transaction, and
    only for the archive command and the test flush (see the module's docstring)."""
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("audit maintenance only inside a transaction")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'on', true)", [FLAG])
    else:
        connection.audit_maintenance = True  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if connection.vendor == "postgresql":
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT set_config(%s, 'off', true)", [FLAG])
            except DatabaseError:
                pass  # the transaction is failing already: its rollback takes the setting with it
        else:
            connection.audit_maintenance = False  # type: ignore[attr-defined]


# ── the application's own role (PostgreSQL) ────────────────────────────────────────────────────────────
# Production runs the web and worker processes as a role that does not own the tables: it reads and
# writes the business tables, but may only SELECT and INSERT audit entries (and move the chain head), so
# neither the application nor anyone holding its credentials can change or delete the trail, maintenance
# flag or not. Migrations and `phaseout audit archive` run as the owner.


class RoleError(Exception):
    pass


def app_role_statements(role: str, connection: BaseDatabaseWrapper) -> list[str]:
    """The grants for `role`, including the default privileges for tables later migrations create."""
    name = connection.ops.quote_name(role)
    return [
        f"GRANT USAGE ON SCHEMA public TO {name}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {name}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {TABLE} FROM {name}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {LINK_TABLE} FROM {name}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {name}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {name}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {name}",
    ]


def grant_app_role(role: str, using: str = "default") -> list[str]:
    """Grant the application's role what it needs and no more (run as the tables' owner); the statements."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        raise RoleError("database roles exist on PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            raise RoleError(
                f"no database role named {role}: create it first (CREATE ROLE ... LOGIN PASSWORD ...)"
            )
        cursor.execute(
            "SELECT pg_has_role(%s, (SELECT relowner FROM pg_class WHERE oid = %s::regclass), 'MEMBER')",
            [role, TABLE],
        )
        if cursor.fetchone()[0]:
            raise RoleError(
                f"{role} owns the audit table (or is a member of its owner): use a role of its own"
            )
        statements = app_role_statements(role, connection)
        for sql in statements:
            cursor.execute(sql)
    return statements


def owns_the_trail(using: str = "default") -> bool:
    """Whether this connection's role may delete archived entries (the owner; always on SQLite)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_has_role(current_user,"
            " (SELECT relowner FROM pg_class WHERE oid = %s::regclass), 'MEMBER')",
            [TABLE],
        )
        return bool(cursor.fetchone()[0])
