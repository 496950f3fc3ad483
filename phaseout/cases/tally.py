"""The case tally (ADR 23): the cases counted by (territory, industry, dimension, state, local year
opened), kept exact by the database in the same transaction as every change to a case.

Triggers on the case table append to `cases_casetally` one row per group a statement changed, +n for the
cases it put into the group and -n for those it took out; nothing is ever updated in place, so writers
never wait for one another on a counter row (two sweeps at once, an official's step during a sweep) and
cannot deadlock on one. A group's count is the sum of its rows. Every writer is counted, whatever it is:
an action, the set-based sweep, a COPY, the admin, a migration.

- PostgreSQL: statement-level triggers with transition tables (one grouped INSERT per statement: the
  sweep's UPDATE of a thousand cases appends a few rows, a COPY of a million a few thousand); a TRUNCATE
  of the cases empties the tally.
- SQLite: row-level triggers (the UPDATE one only when a counted column changes).

The local year is the year of `opened_at` in the platform's time zone (settings.TIME_ZONE), as
`opened_at__year` reads it. `fold` (the periodic job) replaces each group's rows by their sum, in one
statement on PostgreSQL (a DELETE … RETURNING feeding the INSERT: rows committed meanwhile are neither
lost nor counted twice); `rebuild` recounts from the cases (the migration, a repair).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet, Sum
from django.utils.translation import gettext_lazy

from phaseout.cases.models import CaseTally

TALLY = "cases_casetally"
CASE = "cases_case"
KEY = "territory, industry, dimension, state, year"


def _pg_year(row: str) -> str:
    zone = settings.TIME_ZONE.replace("'", "")
    return f"EXTRACT(YEAR FROM {row}opened_at AT TIME ZONE '{zone}')::integer"


def _sqlite_offset() -> str:
    """The zone's offset as an SQLite date modifier; a zone with daylight saving has no fixed one."""
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    offsets = {dt.datetime(2026, month, 1, tzinfo=zone).utcoffset() for month in (1, 7)}
    if len(offsets) != 1:
        raise RuntimeError(f"the case tally on SQLite needs a zone without daylight saving: {zone}")
    minutes = int(offsets.pop().total_seconds() // 60)  # type: ignore[union-attr]
    return f"{minutes:+d} minutes"


def _sqlite_year(row: str) -> str:
    return f"CAST(strftime('%Y', {row}.opened_at, '{_sqlite_offset()}') AS INTEGER)"


def postgresql_install() -> list[str]:
    columns = f"territory_id, industry_id, dimension, state, {_pg_year('')}"
    return [
        f"""CREATE OR REPLACE FUNCTION cases_case_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO {TALLY} ({KEY}, n)
      SELECT {columns}, COUNT(*) FROM new_rows GROUP BY 1, 2, 3, 4, 5;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO {TALLY} ({KEY}, n)
      SELECT {columns}, -COUNT(*) FROM old_rows GROUP BY 1, 2, 3, 4, 5;
  ELSE
    INSERT INTO {TALLY} ({KEY}, n)
      SELECT t, i, d, s, y, SUM(n) FROM (
        SELECT {columns}, 1 FROM new_rows
        UNION ALL SELECT {columns}, -1 FROM old_rows
      ) AS changed (t, i, d, s, y, n)
      GROUP BY 1, 2, 3, 4, 5 HAVING SUM(n) <> 0;
  END IF;
  RETURN NULL;
END $$""",
        f"""CREATE OR REPLACE FUNCTION cases_case_tally_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM {TALLY};
  RETURN NULL;
END $$""",
        f"""CREATE TRIGGER cases_case_tally_insert AFTER INSERT ON {CASE}
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cases_case_tally()""",
        f"""CREATE TRIGGER cases_case_tally_update AFTER UPDATE ON {CASE}
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION cases_case_tally()""",
        f"""CREATE TRIGGER cases_case_tally_delete AFTER DELETE ON {CASE}
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cases_case_tally()""",
        f"""CREATE TRIGGER cases_case_tally_truncate AFTER TRUNCATE ON {CASE}
FOR EACH STATEMENT EXECUTE FUNCTION cases_case_tally_truncate()""",
    ]


POSTGRESQL_UNINSTALL = [
    *(f"DROP TRIGGER IF EXISTS cases_case_tally_{op} ON {CASE}" for op in ("insert", "update", "delete")),
    f"DROP TRIGGER IF EXISTS cases_case_tally_truncate ON {CASE}",
    "DROP FUNCTION IF EXISTS cases_case_tally()",
    "DROP FUNCTION IF EXISTS cases_case_tally_truncate()",
]


def _sqlite_row(row: str, n: int) -> str:
    return (
        f"INSERT INTO {TALLY} ({KEY}, n) VALUES ({row}.territory_id, {row}.industry_id, {row}.dimension,"
        f" {row}.state, {_sqlite_year(row)}, {n});"
    )


COUNTED = ("territory_id", "industry_id", "dimension", "state", "opened_at")


def sqlite_install() -> list[str]:
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in COUNTED)
    return [
        f"CREATE TRIGGER cases_case_tally_insert AFTER INSERT ON {CASE} BEGIN {_sqlite_row('NEW', 1)} END",
        f"CREATE TRIGGER cases_case_tally_delete AFTER DELETE ON {CASE} BEGIN {_sqlite_row('OLD', -1)} END",
        f"CREATE TRIGGER cases_case_tally_update AFTER UPDATE OF {', '.join(COUNTED)} ON {CASE}"
        f" WHEN {changed} BEGIN {_sqlite_row('OLD', -1)} {_sqlite_row('NEW', 1)} END",
    ]


SQLITE_UNINSTALL = [f"DROP TRIGGER IF EXISTS cases_case_tally_{op}" for op in ("insert", "update", "delete")]


def run(conn: BaseDatabaseWrapper, statements: list[str]) -> None:
    """Execute fixed statements (no parameters) in order: a tally's triggers installed or dropped."""
    with conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def install(conn: BaseDatabaseWrapper) -> None:
    run(conn, postgresql_install() if conn.vendor == "postgresql" else sqlite_install())


def uninstall(conn: BaseDatabaseWrapper) -> None:
    run(conn, POSTGRESQL_UNINSTALL if conn.vendor == "postgresql" else SQLITE_UNINSTALL)


def _year_of_case(conn: BaseDatabaseWrapper) -> str:
    return _pg_year("") if conn.vendor == "postgresql" else _sqlite_year(CASE)


def rebuild(conn: BaseDatabaseWrapper | None = None) -> int:
    """Recount the tally from the cases (one grouped pass); returns the number of groups."""
    conn = conn or connection
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {CASE} IN SHARE MODE")  # no case changes while it is recounted
        cursor.execute(f"DELETE FROM {TALLY}")
        cursor.execute(
            f"INSERT INTO {TALLY} ({KEY}, n) SELECT territory_id, industry_id, dimension, state,"
            f" {_year_of_case(conn)}, COUNT(*) FROM {CASE} GROUP BY 1, 2, 3, 4, 5"
        )
        return int(cursor.rowcount)


def fold(conn: BaseDatabaseWrapper | None = None) -> int:
    """Replace each group's rows by one row of their sum (none when it is zero); returns the number of
    rows folded away."""
    conn = conn or connection
    key = [c.strip() for c in KEY.split(",")]
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            joined = " AND ".join(f"t.{c} = m.{c}" for c in key)
            cursor.execute(
                f"WITH many AS (SELECT {KEY} FROM {TALLY} GROUP BY {KEY} HAVING COUNT(*) > 1),"
                f" gone AS (DELETE FROM {TALLY} t USING many m WHERE {joined}"
                f" RETURNING {', '.join('t.' + c for c in key)}, t.n),"
                f" kept AS (INSERT INTO {TALLY} ({KEY}, n) SELECT {KEY}, SUM(n) FROM gone GROUP BY {KEY}"
                f" HAVING SUM(n) <> 0 RETURNING 1)"
                f" SELECT (SELECT COUNT(*) FROM gone) - (SELECT COUNT(*) FROM kept)"
            )
            return int(cursor.fetchone()[0])
        # SQLite: writers are serialised (IMMEDIATE transactions): nothing changes between the statements.
        cursor.execute(f"SELECT {KEY}, SUM(n), COUNT(*) FROM {TALLY} GROUP BY {KEY} HAVING COUNT(*) > 1")
        groups = cursor.fetchall()
        folded = 0
        for *values, total, rows in groups:
            where = " AND ".join(f"{c} = %s" for c in key)
            cursor.execute(f"DELETE FROM {TALLY} WHERE {where}", values)
            if total:
                cursor.execute(
                    f"INSERT INTO {TALLY} ({KEY}, n) VALUES (%s, %s, %s, %s, %s, %s)", [*values, total]
                )
            folded += rows - (1 if total else 0)
        return folded


SUMMARY = gettext_lazy("Case tally: %(folded)d rows folded.")


def job(*, now: dt.datetime, today: dt.date) -> Mapping[str, int]:
    """The periodic fold (phaseout.jobs): the figures are exact without it; it keeps the tally short."""
    return {"folded": fold()}


def grouped(tallies: QuerySet[CaseTally], *columns: str) -> list[tuple[Any, ...]]:
    """The tally's counts by `columns` (each row: the columns' values, then the count); groups that
    count no case are left out."""
    summed = tallies.values_list(*columns).annotate(total=Sum("n")).exclude(total=0).order_by()
    return list(summed)
