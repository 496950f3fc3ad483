"""The exit tally (ADR 25): the exited lines rolled up by what the exit ledger's pages group and filter by,
kept exact by the database in the same transaction as every change, with the enterprises counted exactly.

A ledger figure is per (group value, capacity unit): lines, capacity and *enterprises* (distinct). The
count of enterprises is not additive across years, exit cases' dimensions, methods or departments (one
enterprise may have lines in several), so two tables keep it:

- `cases_exitenterprise` (per enterprise): one row per enterprise and cell — (territory, industry, unit,
  exit year, dimension, exit method, department of the latest exit case) — with its lines and capacity,
  and `multi`: the enterprise has lines in more than one cell of that unit.
- `cases_exittally` (per cell): the lines and capacity of the cell and `solo`, the enterprises whose only
  cell of that unit it is. Append-only (+/- rows, as the case tally), folded by the periodic job.

The enterprises of a (group value, unit) under any filter of the cells are then the `solo` of the selected
cells summed, plus the distinct `multi` enterprises with a selected row (a partial index: in practice few
enterprises exit lines of one unit in more than one year, dimension or method). Exact, whatever the filter.

The line's cell reads: the line's own territory, industry (kept from its enterprise), capacity unit and
exit year; its latest exit case's (the highest id in an exited state) dimension and exit plan; the
department of that case's finding's inspection. The empty string (department 0) where there is none.

Kept by triggers, for every writer (actions, COPY, the admin, a migration): a change to an exited line,
an exit case, a finding's inspection or an inspection's department refreshes its enterprises: their rows
of `cases_exitenterprise` are recomputed from the lines and cases, and the difference appended to the
tally. On PostgreSQL statement-level triggers with transition tables (one set-based refresh per
statement), the refreshed enterprises' rows locked first (`FOR NO KEY UPDATE`, in id order), so two
writers refreshing one enterprise run one after the other; on SQLite row-level triggers (writers are
serialised there). Nothing else (an operating line, a case not in an exited state) touches the tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.translation import gettext_lazy

from phaseout.cases.tally import run

TALLY = "cases_exittally"
ROWS = "cases_exitenterprise"
LINE = "registry_productionline"
CASE = "cases_case"
FINDING = "cases_finding"
INSPECTION = "cases_inspection"
ENTERPRISE = "registry_enterprise"
CELL = "territory, industry, unit, year, dimension, method, department"
EXIT_STATES = ("exited", "accepted", "archived")
_STATES = ", ".join(f"'{s}'" for s in EXIT_STATES)


def _computed(postgres: bool, where: str) -> str:
    """The `cases_exitenterprise` rows of the exited lines that `where` (on l) selects, computed from the
    lines and their latest exit cases: (enterprise_id, cell…, lines, centi, multi)."""
    if postgres:
        year = "EXTRACT(YEAR FROM l.exited_on)::integer"
        centi = "ROUND(l.capacity * 100)::bigint"
        latest = (
            f"LEFT JOIN LATERAL (SELECT x.dimension, x.exit_plan, x.finding_id FROM {CASE} x"
            f" WHERE x.line_id = l.id AND x.state IN ({_STATES}) ORDER BY x.id DESC LIMIT 1) c ON true"
        )
    else:
        year = "CAST(strftime('%Y', l.exited_on) AS INTEGER)"
        centi = "CAST(ROUND(l.capacity * 100) AS INTEGER)"
        latest = (
            f"LEFT JOIN {CASE} c ON c.id = (SELECT MAX(x.id) FROM {CASE} x"
            f" WHERE x.line_id = l.id AND x.state IN ({_STATES}))"
        )
    return (
        f"SELECT enterprise_id, {CELL}, lines, centi,"
        f" COUNT(*) OVER (PARTITION BY enterprise_id, unit) > 1 AS multi FROM ("
        f"SELECT l.enterprise_id, COALESCE(l.territory_id, '') AS territory,"
        f" COALESCE(l.industry_id, '') AS industry, l.capacity_unit AS unit, {year} AS year,"
        f" COALESCE(c.dimension, '') AS dimension, COALESCE(c.exit_plan, '') AS method,"
        f" COALESCE(i.department_id, 0) AS department, COUNT(*) AS lines, SUM({centi}) AS centi"
        f" FROM {LINE} l {latest}"
        f" LEFT JOIN {FINDING} f ON f.id = c.finding_id LEFT JOIN {INSPECTION} i ON i.id = f.inspection_id"
        f" WHERE l.status = 'exited' AND {where}"
        f" GROUP BY l.enterprise_id, 2, 3, 4, 5, 6, 7, 8) cells"
    )


_COLUMNS = f"enterprise_id, {CELL}, lines, centi, multi"
_SOLO = "CASE WHEN multi THEN 0 ELSE 1 END"


# ── PostgreSQL ───────────────────────────────────────────────────────────────────────────────────────


def _pg_function() -> str:
    return f"""CREATE OR REPLACE FUNCTION cases_exit_tally_refresh(affected bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF affected IS NULL OR cardinality(affected) = 0 THEN
    RETURN;
  END IF;
  -- One writer at a time per enterprise; the statement below then sees what the other committed.
  PERFORM 1 FROM {ENTERPRISE} WHERE id = ANY(affected) ORDER BY id FOR NO KEY UPDATE;
  WITH gone AS (DELETE FROM {ROWS} WHERE enterprise_id = ANY(affected) RETURNING {_COLUMNS}),
  made AS (INSERT INTO {ROWS} ({_COLUMNS}) {_computed(True, "l.enterprise_id = ANY(affected)")}
           RETURNING {_COLUMNS})
  INSERT INTO {TALLY} ({CELL}, lines, centi, solo)
    SELECT {CELL}, SUM(lines), SUM(centi), SUM(solo) FROM (
      SELECT {CELL}, -lines AS lines, -centi AS centi, -({_SOLO}) AS solo FROM gone
      UNION ALL SELECT {CELL}, lines, centi, {_SOLO} FROM made
    ) AS changed
    GROUP BY {CELL} HAVING SUM(lines) <> 0 OR SUM(centi) <> 0 OR SUM(solo) <> 0;
END $$"""


_PG_LINES = """CREATE OR REPLACE FUNCTION cases_exit_tally_lines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM cases_exit_tally_refresh(ARRAY(
      SELECT DISTINCT enterprise_id FROM new_rows WHERE status = 'exited'));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM cases_exit_tally_refresh(ARRAY(
      SELECT DISTINCT enterprise_id FROM old_rows WHERE status = 'exited'));
  ELSE
    PERFORM cases_exit_tally_refresh(ARRAY(
      SELECT DISTINCT e FROM old_rows o JOIN new_rows n ON n.id = o.id,
        LATERAL (VALUES (o.enterprise_id), (n.enterprise_id)) AS both_sides (e)
      WHERE (o.status = 'exited' OR n.status = 'exited')
        AND (o.status, o.exited_on, o.capacity, o.capacity_unit, o.territory_id, o.industry_id,
             o.enterprise_id)
            IS DISTINCT FROM
            (n.status, n.exited_on, n.capacity, n.capacity_unit, n.territory_id, n.industry_id,
             n.enterprise_id)));
  END IF;
  RETURN NULL;
END $$"""

_PG_CASES = f"""CREATE OR REPLACE FUNCTION cases_exit_tally_cases() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM cases_exit_tally_refresh(ARRAY(
      SELECT DISTINCT l.enterprise_id FROM new_rows c JOIN {LINE} l ON l.id = c.line_id
      WHERE c.state IN ({_STATES})));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM cases_exit_tally_refresh(ARRAY(
      SELECT DISTINCT l.enterprise_id FROM old_rows c JOIN {LINE} l ON l.id = c.line_id
      WHERE c.state IN ({_STATES})));
  ELSE
    PERFORM cases_exit_tally_refresh(ARRAY(
      SELECT DISTINCT l.enterprise_id FROM old_rows o JOIN new_rows n ON n.id = o.id
        JOIN {LINE} l ON l.id IN (o.line_id, n.line_id)
      WHERE (o.state IN ({_STATES}) OR n.state IN ({_STATES}))
        AND (o.state, o.line_id, o.dimension, o.exit_plan, o.finding_id)
            IS DISTINCT FROM (n.state, n.line_id, n.dimension, n.exit_plan, n.finding_id)));
  END IF;
  RETURN NULL;
END $$"""

_PG_FINDINGS = f"""CREATE OR REPLACE FUNCTION cases_exit_tally_findings() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM cases_exit_tally_refresh(ARRAY(
    SELECT DISTINCT l.enterprise_id FROM old_rows o JOIN new_rows n ON n.id = o.id
      JOIN {CASE} c ON c.finding_id = n.id JOIN {LINE} l ON l.id = c.line_id
    WHERE o.inspection_id IS DISTINCT FROM n.inspection_id AND c.state IN ({_STATES})));
  RETURN NULL;
END $$"""

_PG_INSPECTIONS = f"""CREATE OR REPLACE FUNCTION cases_exit_tally_inspections() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM cases_exit_tally_refresh(ARRAY(
    SELECT DISTINCT l.enterprise_id FROM old_rows o JOIN new_rows n ON n.id = o.id
      JOIN {FINDING} f ON f.inspection_id = n.id JOIN {CASE} c ON c.finding_id = f.id
      JOIN {LINE} l ON l.id = c.line_id
    WHERE o.department_id IS DISTINCT FROM n.department_id AND c.state IN ({_STATES})));
  RETURN NULL;
END $$"""

_PG_TRUNCATE = f"""CREATE OR REPLACE FUNCTION cases_exit_tally_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM {ROWS};
  DELETE FROM {TALLY};
  IF TG_TABLE_NAME = '{CASE}' THEN  -- the lines stay, now without a case
    INSERT INTO {ROWS} ({_COLUMNS}) {_computed(True, "true")};
    INSERT INTO {TALLY} ({CELL}, lines, centi, solo)
      SELECT {CELL}, SUM(lines), SUM(centi), SUM({_SOLO}) FROM {ROWS} GROUP BY {CELL};
  END IF;
  RETURN NULL;
END $$"""


def _pg_triggers(table: str, function: str, ops: tuple[str, ...]) -> list[str]:
    made = []
    for op in ops:
        referencing = {
            "insert": "REFERENCING NEW TABLE AS new_rows",
            "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
            "delete": "REFERENCING OLD TABLE AS old_rows",
        }[op]
        made.append(
            f"CREATE TRIGGER {table}_exit_tally_{op} AFTER {op.upper()} ON {table} {referencing}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    return made


_PG_TABLES = (
    (LINE, "cases_exit_tally_lines", ("insert", "update", "delete")),
    (CASE, "cases_exit_tally_cases", ("insert", "update", "delete")),
    (FINDING, "cases_exit_tally_findings", ("update",)),
    (INSPECTION, "cases_exit_tally_inspections", ("update",)),
)


def postgresql_install() -> list[str]:
    statements = [_pg_function(), _PG_LINES, _PG_CASES, _PG_FINDINGS, _PG_INSPECTIONS, _PG_TRUNCATE]
    for table, function, ops in _PG_TABLES:
        statements += _pg_triggers(table, function, ops)
    for table in (LINE, CASE):
        statements.append(
            f"CREATE TRIGGER {table}_exit_tally_truncate AFTER TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION cases_exit_tally_truncate()"
        )
    return statements


def postgresql_uninstall() -> list[str]:
    statements = [
        f"DROP TRIGGER IF EXISTS {table}_exit_tally_{op} ON {table}"
        for table, _function, ops in _PG_TABLES
        for op in ops
    ]
    statements += [f"DROP TRIGGER IF EXISTS {table}_exit_tally_truncate ON {table}" for table in (LINE, CASE)]
    functions = ("refresh(bigint[])", "lines()", "cases()", "findings()", "inspections()", "truncate()")
    statements += [f"DROP FUNCTION IF EXISTS cases_exit_tally_{f}" for f in functions]
    return statements


# ── SQLite ───────────────────────────────────────────────────────────────────────────────────────────


def _sqlite_refresh(enterprises: str) -> str:
    """The trigger body's statements that refresh the enterprises `enterprises` (an SQL set: a
    sub-query or a list of values) selects."""
    mine = f"enterprise_id IN ({enterprises})"
    return (
        f"INSERT INTO {TALLY} ({CELL}, lines, centi, solo)"
        f" SELECT {CELL}, -lines, -centi, -({_SOLO}) FROM {ROWS} WHERE {mine};"
        f" DELETE FROM {ROWS} WHERE {mine};"
        f" INSERT INTO {ROWS} ({_COLUMNS}) {_computed(False, 'l.' + mine)};"
        f" INSERT INTO {TALLY} ({CELL}, lines, centi, solo)"
        f" SELECT {CELL}, lines, centi, {_SOLO} FROM {ROWS} WHERE {mine};"
    )


_LINE_COLUMNS = (
    "status",
    "exited_on",
    "capacity",
    "capacity_unit",
    "territory_id",
    "industry_id",
    "enterprise_id",
)
_CASE_COLUMNS = ("state", "line_id", "dimension", "exit_plan", "finding_id")


def _changed(columns: tuple[str, ...]) -> str:
    return "(" + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns) + ")"


def _exit(row: str) -> str:
    return f"({row}.state IN ({_STATES}) AND {row}.line_id IS NOT NULL)"


def _enterprise_of_line(row: str) -> str:
    return f"SELECT enterprise_id FROM {LINE} WHERE id = {row}.line_id"


def _case_enterprises(where: str) -> str:
    return (
        f"SELECT l.enterprise_id FROM {CASE} c JOIN {LINE} l ON l.id = c.line_id"
        f" WHERE c.state IN ({_STATES}) AND {where}"
    )


def sqlite_install() -> list[str]:
    line_when = f"(OLD.status = 'exited' OR NEW.status = 'exited') AND {_changed(_LINE_COLUMNS)}"
    case_when = f"({_exit('OLD')} OR {_exit('NEW')}) AND {_changed(_CASE_COLUMNS)}"
    triggers = {
        "line_insert": (f"INSERT ON {LINE} WHEN NEW.status = 'exited'", "NEW.enterprise_id"),
        "line_delete": (f"DELETE ON {LINE} WHEN OLD.status = 'exited'", "OLD.enterprise_id"),
        "line_update": (
            f"UPDATE OF {', '.join(_LINE_COLUMNS)} ON {LINE} WHEN {line_when}",
            "OLD.enterprise_id, NEW.enterprise_id",
        ),
        "case_insert": (f"INSERT ON {CASE} WHEN {_exit('NEW')}", _enterprise_of_line("NEW")),
        "case_delete": (f"DELETE ON {CASE} WHEN {_exit('OLD')}", _enterprise_of_line("OLD")),
        "case_update": (
            f"UPDATE OF {', '.join(_CASE_COLUMNS)} ON {CASE} WHEN {case_when}",
            f"{_enterprise_of_line('OLD')} UNION {_enterprise_of_line('NEW')}",
        ),
        "finding_update": (
            f"UPDATE OF inspection_id ON {FINDING} WHEN OLD.inspection_id IS NOT NEW.inspection_id",
            _case_enterprises("c.finding_id = NEW.id"),
        ),
        "inspection_update": (
            f"UPDATE OF department_id ON {INSPECTION} WHEN OLD.department_id IS NOT NEW.department_id",
            _case_enterprises(f"c.finding_id IN (SELECT id FROM {FINDING} WHERE inspection_id = NEW.id)"),
        ),
    }
    return [
        f"CREATE TRIGGER exit_tally_{name} AFTER {event} BEGIN {_sqlite_refresh(enterprises)} END"
        for name, (event, enterprises) in triggers.items()
    ]


SQLITE_TRIGGERS = (
    "line_insert",
    "line_delete",
    "line_update",
    "case_insert",
    "case_delete",
    "case_update",
    "finding_update",
    "inspection_update",
)


# ── Keeping it ───────────────────────────────────────────────────────────────────────────────────────


def install(conn: BaseDatabaseWrapper) -> None:
    run(conn, postgresql_install() if conn.vendor == "postgresql" else sqlite_install())


def uninstall(conn: BaseDatabaseWrapper) -> None:
    if conn.vendor == "postgresql":
        run(conn, postgresql_uninstall())
    else:
        run(conn, [f"DROP TRIGGER IF EXISTS exit_tally_{name}" for name in SQLITE_TRIGGERS])


def rebuild(conn: BaseDatabaseWrapper | None = None) -> int:
    """Recompute both tables from the lines and cases (set-based); returns the number of cells."""
    conn = conn or connection
    postgres = conn.vendor == "postgresql"
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        if postgres:  # nothing that the tally reads changes while it is recomputed
            cursor.execute(f"LOCK TABLE {LINE}, {CASE}, {FINDING}, {INSPECTION} IN SHARE MODE")
        cursor.execute(f"DELETE FROM {ROWS}")
        cursor.execute(f"DELETE FROM {TALLY}")
        cursor.execute(f"INSERT INTO {ROWS} ({_COLUMNS}) {_computed(postgres, '1 = 1')}")
        cursor.execute(
            f"INSERT INTO {TALLY} ({CELL}, lines, centi, solo)"
            f" SELECT {CELL}, SUM(lines), SUM(centi), SUM({_SOLO}) FROM {ROWS} GROUP BY {CELL}"
        )
        return int(cursor.rowcount)


_FIGURES = ("lines", "centi", "solo")


def fold(conn: BaseDatabaseWrapper | None = None) -> int:
    """Replace each cell's rows of the tally by one row of their sums (none when all are zero); returns the
    number of rows folded away."""
    conn = conn or connection
    key = [c.strip() for c in CELL.split(",")]
    sums = ", ".join(f"SUM({f})" for f in _FIGURES)
    nonzero = " OR ".join(f"SUM({f}) <> 0" for f in _FIGURES)
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            joined = " AND ".join(f"t.{c} = m.{c}" for c in key)
            cursor.execute(
                f"WITH many AS (SELECT {CELL} FROM {TALLY} GROUP BY {CELL} HAVING COUNT(*) > 1),"
                f" gone AS (DELETE FROM {TALLY} t USING many m WHERE {joined}"
                f" RETURNING {', '.join('t.' + c for c in key)}, t.lines, t.centi, t.solo),"
                f" kept AS (INSERT INTO {TALLY} ({CELL}, lines, centi, solo) SELECT {CELL}, {sums}"
                f" FROM gone GROUP BY {CELL} HAVING {nonzero} RETURNING 1)"
                f" SELECT (SELECT COUNT(*) FROM gone) - (SELECT COUNT(*) FROM kept)"
            )
            return int(cursor.fetchone()[0])
        # SQLite: writers are serialised (IMMEDIATE transactions): nothing changes between the statements.
        cursor.execute(f"SELECT {CELL}, {sums}, COUNT(*) FROM {TALLY} GROUP BY {CELL} HAVING COUNT(*) > 1")
        folded = 0
        where = " AND ".join(f"{c} = %s" for c in key)
        for *values, lines, centi, solo, rows in cursor.fetchall():
            cursor.execute(f"DELETE FROM {TALLY} WHERE {where}", values)
            kept = any((lines, centi, solo))
            if kept:
                cursor.execute(
                    f"INSERT INTO {TALLY} ({CELL}, lines, centi, solo) VALUES ({', '.join(['%s'] * 10)})",
                    [*values, lines, centi, solo],
                )
            folded += rows - (1 if kept else 0)
        return folded


SUMMARY = gettext_lazy("Exit tally: %(folded)d rows folded.")


def job(*, now: dt.datetime, today: dt.date) -> Mapping[str, int]:
    """The periodic fold (phaseout.jobs): the figures are exact without it; it keeps the tally short."""
    return {"folded": fold()}
