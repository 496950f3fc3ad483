"""Evaluate the registry against the rulebooks and open findings and cases for what breaks.

The registry is read with one streamed query (each line with the newest measurement of each indicator,
in line order; a server-side cursor on PostgreSQL), evaluated in blocks of lines column by column
(phaseout.rules.batch), and the results of each block are written set-based (COPY on PostgreSQL). The
memory held is one block, whatever the size of the registry. A preview (the `--dry-run` of the command)
reads and evaluates the same way and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import repeat
from operator import is_, itemgetter
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.contrib.auth.models import User
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from phaseout.audit.record import record
from phaseout.orgs.models import Territory
from phaseout.registry.facts import read_attributes
from phaseout.registry.models import Enterprise, LineStatus, Measurement, ProductionLine
from phaseout.rules.batch import Codes, Columns, evaluate_columns
from phaseout.rules.equipment import SIZE_UNITS
from phaseout.rules.rulebook import Comparison, Library, Rule, library
from phaseout.standards.models import EvaluationResult, EvaluationRun

Progress = Callable[[str], None]
EVALUATED_STATUSES = (LineStatus.OPERATING, LineStatus.RECTIFYING)
BLOCK_LINES = 20_000  # lines evaluated at once: the memory held is about one block
FETCH_ROWS = 10_000  # rows fetched from the cursor at a time


class FindingOpener(Protocol):
    """Opens the finding (and its case) for one breach: (the finding, or None; whether it is new)."""

    def __call__(
        self,
        *,
        rule: Rule,
        row: dict[str, Any],
        on: dt.date,
        by: User,
        run: EvaluationRun,
        basis: str,
        measured_value: Decimal | None,
    ) -> tuple[Any, bool]: ...


class KnownFindings(Protocol):
    """The findings already on record for breaches given as (line id, rule id, basis): the finding id
    (or None for an active case without one) of each breach that the opener would not open again."""

    def __call__(
        self, breaches: Sequence[tuple[int, str, str]]
    ) -> dict[tuple[int, str, str], int | None]: ...


# Findings and cases belong to the cases app, which sits above standards: it gives its opener (and the
# look-up of findings already on record) in CasesConfig.ready() (phaseout.cases.evaluation).
_opener: dict[str, Any] = {}


def set_finding_opener(opener: FindingOpener, known: KnownFindings | None = None) -> None:
    _opener["finding"] = opener
    if known is not None:
        _opener["known"] = known


def _decimal(value: float) -> Decimal | None:
    return None if math.isnan(value) else Decimal(str(round(float(value), 4)))


SIZE_PLACES = ProductionLine._meta.get_field("size_value").decimal_places
VALUE_PLACES = Measurement._meta.get_field("value").decimal_places


def _lines_sql(
    *, on: dt.date, territory_codes: list[str] | None, indicators: list[str]
) -> tuple[str, list[Any]]:
    """One query: every evaluated line, with its enterprise's industry and territory and one row per
    indicator it has a measurement of (the newest on or before `on`), in line order. Sizes and values
    come as floats (they are compared as floats; their decimal text is rebuilt from the field's places,
    which a double holds exactly)."""
    lines = ProductionLine._meta.db_table
    enterprises = Enterprise._meta.db_table
    measurements = Measurement._meta.db_table
    params: list[Any] = []
    wanted = ", ".join(["%s"] * len(indicators)) or "NULL"
    if connection.vendor == "postgresql":
        latest = (
            # Table names from the models and placeholders only: nothing from input is spliced in.
            "SELECT DISTINCT ON (line_id, indicator) line_id, indicator, value, unit, id"  # noqa: S608
            f" FROM {measurements} WHERE measured_on <= %s AND indicator IN ({wanted})"
            " ORDER BY line_id, indicator, measured_on DESC, id DESC"
        )
    else:
        latest = (
            "SELECT line_id, indicator, value, unit, id FROM (SELECT line_id, indicator, value, unit, id,"  # noqa: S608
            " ROW_NUMBER() OVER (PARTITION BY line_id, indicator ORDER BY measured_on DESC, id DESC) AS n"
            f" FROM {measurements} WHERE measured_on <= %s AND indicator IN ({wanted})) AS ranked"
            " WHERE n = 1"
        )
    params += [on, *indicators]
    where = "l.status IN (%s, %s)"
    params += [LineStatus.OPERATING.value, LineStatus.RECTIFYING.value]
    if territory_codes is not None:
        where += f" AND e.territory_id IN ({', '.join(['%s'] * len(territory_codes))})"
        params += territory_codes
    # Empty attributes (most lines) come as NULL: nothing to read.
    no_attributes = "'{}'::jsonb" if connection.vendor == "postgresql" else "'{}'"
    sql = (
        "SELECT l.id, l.enterprise_id, e.industry_id, e.territory_id, l.equipment_type,"  # noqa: S608
        " CAST(l.size_value AS DOUBLE PRECISION), l.size_unit, l.process,"
        f" NULLIF(l.attributes, {no_attributes}), m.indicator,"
        " CAST(m.value AS DOUBLE PRECISION), m.unit, m.id"
        f" FROM {lines} l JOIN {enterprises} e ON e.id = l.enterprise_id"
        f" LEFT JOIN ({latest}) m ON m.line_id = l.id"
        f" WHERE {where} ORDER BY l.id"
    )
    return sql, params


# The columns of a row of that query.
ID, ENTERPRISE, INDUSTRY, TERRITORY, TYPE, SIZE, SIZE_UNIT, PROCESS, ATTRIBUTES = range(9)
INDICATOR, VALUE, UNIT, MEASUREMENT = range(9, 13)


@contextmanager
def _reading_cursor() -> Iterator[Any]:
    """A cursor that streams the query while the run writes. On PostgreSQL in autocommit (a command, a
    worker) a connection of its own, in a read-only snapshot transaction: its server-side cursor is not
    WITH HOLD, so rows come as the database produces them (fast-start plan from the indexes, no result
    materialised first) and the run's writes, on the default connection, commit block by block and show
    as progress. Inside a transaction (a test) or on SQLite, the default connection's cursor."""
    if connection.vendor != "postgresql" or not connection.get_autocommit():
        connection.ensure_connection()
        with connection.chunked_cursor() as cursor:
            yield cursor
        return
    reader = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        reader.set_autocommit(False)
        with reader.cursor() as setup:
            setup.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            setup.execute("SET LOCAL work_mem = '64MB'")
        with reader.chunked_cursor() as cursor:
            yield cursor
    finally:
        reader.rollback()
        reader.close()


def stream_rows(
    *, on: dt.date, territory: Territory | None, indicators: Iterable[str], block: int = BLOCK_LINES
) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of the evaluated lines in blocks of about `block` rows, each holding whole lines (all the
    rows of a line are in one block), read with one streamed query (a server-side cursor on PostgreSQL):
    no list of ids, and never more than a block held."""
    sql, params = _lines_sql(
        on=on,
        territory_codes=territory.subtree_codes() if territory is not None else None,
        indicators=sorted(indicators),
    )
    with _reading_cursor() as cursor:
        cursor.execute(sql, params)
        carried: list[tuple[Any, ...]] = []
        while True:
            rows = cursor.fetchmany(max(block, FETCH_ROWS))
            if not rows:
                break
            rows = carried + rows if carried else rows
            # The last line's rows may go on in the next fetch: it waits for them.
            last = rows[-1][ID]
            cut = len(rows) - 1
            while cut > 0 and rows[cut - 1][ID] == last:
                cut -= 1
            carried = rows[cut:]
            start = 0
            while start < cut:
                end = min(start + block, cut)
                while end < cut and rows[end][ID] == rows[end - 1][ID]:
                    end += 1  # a block ends at the end of a line
                yield rows[start:end]
                start = end
        if carried:
            yield carried


class Breach(NamedTuple):
    rule: Rule
    line_id: int
    enterprise_id: int
    territory_id: str
    basis: str
    measured_value: Decimal | None  # the measurement the rule compared, as recorded
    measured: float
    limit: float


@dataclass
class Block:
    """A block of lines evaluated: how many the rules read, how many they refused, what breaks."""

    evaluated: int
    refused: int
    breaches: list[Breach]


def _codes(codes: Codes, column: str, values: Sequence[str]) -> npt.NDArray[np.int64]:
    table = {value: codes.code(column, value) for value in set(values)}
    return np.fromiter(map(table.__getitem__, values), dtype=np.int64, count=len(values))


def evaluate_rows(lib: Library, rows: Sequence[tuple[Any, ...]], on: dt.date) -> Block:
    """Evaluate a block of lines (the rows of stream_rows) column-wise. The facts of each line are read
    and checked as `registry.facts.read_attributes` and `rules.engine.check_facts` do (a line they refuse
    is counted and left out), straight into columns: only lines with attributes are looked at one by one."""
    if not rows:
        return Block(0, 0, [])
    vocabulary = lib.vocabulary

    def of_rows(number: int) -> list[Any]:
        return list(map(itemgetter(number), rows))

    ids = np.fromiter(map(itemgetter(ID), rows), dtype=np.int64, count=len(rows))
    first = np.ones(len(rows), dtype=bool)
    first[1:] = ids[1:] != ids[:-1]
    starts = np.flatnonzero(first)
    line_of_row = np.cumsum(first) - 1
    n = len(starts)
    pick = starts.tolist()

    def per_line(number: int) -> list[Any]:
        return [rows[i][number] for i in pick]

    equipment = per_line(TYPE)
    size = np.array(per_line(SIZE), dtype=np.float64)  # None becomes NaN
    size_unit = per_line(SIZE_UNIT)
    process = per_line(PROCESS)
    raw_attributes = per_line(ATTRIBUTES)
    # Refused: a size that is not positive, of a kind without one, or in another unit; a measurement in
    # another unit than its indicator's.
    expected = list(map(SIZE_UNITS.get, equipment))
    no_size = np.fromiter(map(is_, expected, repeat(None)), dtype=bool, count=n)  # a kind without a size
    has_size = ~np.isnan(size)
    wrong_size = no_size | (np.array(size_unit, dtype=object) != np.array(expected, dtype=object))
    refused = has_size & ((size <= 0) | wrong_size)
    indicators = of_rows(INDICATOR)
    present = sorted(set(indicators) - {None})
    table = {name: number for number, name in enumerate(present)}
    row_code = np.fromiter(map(table.get, indicators, repeat(-1)), dtype=np.int64, count=len(rows))
    units = np.array([vocabulary.measurements[name].unit for name in present] + [None], dtype=object)
    wrong_unit = np.array(of_rows(UNIT), dtype=object) != units[row_code]  # a row without one: None, None
    refused[line_of_row[wrong_unit]] = True
    kept = np.flatnonzero(~refused)
    count = len(kept)

    codes = Codes()
    processes = vocabulary.processes
    product = np.full(n, -1, dtype=np.int64)
    attribute_columns: dict[str, Any] = {}
    read: dict[str, tuple[str, dict[str, Decimal | str]]] = {}  # the same attributes read once a block
    for spot in np.flatnonzero(
        ~refused & np.fromiter(map(bool, raw_attributes), dtype=bool, count=n)
    ).tolist():
        raw = raw_attributes[spot]
        if isinstance(raw, str):
            if raw not in read:
                read[raw] = read_attributes(json.loads(raw) or {}, vocabulary)
            product_code, attributes = read[raw]
        else:
            product_code, attributes = read_attributes(raw, vocabulary)
        product[spot] = codes.code("product", product_code)
        for name, value in attributes.items():
            column = attribute_columns.get(name)
            categorical = vocabulary.attributes[name].categorical
            if column is None:
                column = attribute_columns[name] = np.full(n, -1 if categorical else np.nan)
            column[spot] = codes.code(name, str(value)) if categorical else float(value)
    raw_values = of_rows(VALUE)
    values = np.array(raw_values, dtype=np.float64)  # None becomes NaN
    measurement_ids = of_rows(MEASUREMENT)
    measured: dict[str, npt.NDArray[np.float64]] = {}
    measured_row: dict[str, npt.NDArray[np.int64]] = {}  # the row of each line's measurement, or -1
    for name, number in table.items():
        at = np.flatnonzero(row_code == number)
        column = np.full(n, np.nan)
        column[line_of_row[at]] = values[at]
        measured[name] = column[kept]
        where = np.full(n, -1, dtype=np.int64)
        where[line_of_row[at]] = at
        measured_row[name] = where
    frame = Columns(
        size=size[kept],
        industry=_codes(codes, "industry", per_line(INDUSTRY))[kept],
        equipment_type=_codes(codes, "equipment_type", equipment)[kept],
        process=_codes(codes, "process", [p if p in processes else "" for p in process])[kept],
        product=product[kept],
        attributes={
            name: (column.astype(np.int64) if vocabulary.attributes[name].categorical else column)[kept]
            for name, column in attribute_columns.items()
        },
        measurements=measured,
        codes=codes,
    )
    if not count:
        return Block(0, int(refused.sum()), [])
    result = evaluate_columns(lib, frame, on)
    found = []
    for index, rule_index, value, limit in zip(
        result.line.tolist(),
        result.rule.tolist(),
        result.measured.tolist(),
        result.limit.tolist(),
        strict=True,
    ):
        position = int(kept[index])
        row = pick[position]
        rule = result.rules[rule_index]
        measurement_row = (
            int(measured_row[rule.indicator][position]) if rule.indicator in measured_row else -1
        )
        if rule.comparison is Comparison.ELIMINATED:
            size_text = "None" if math.isnan(size[position]) else f"{size[position]:.{SIZE_PLACES}f}"
            basis = f"size:{equipment[position]}:{size_text}:{process[position]}"[:80]
        else:
            basis = f"measurement:{measurement_ids[measurement_row] if measurement_row >= 0 else None}"
        found.append(
            Breach(
                rule=rule,
                line_id=int(ids[row]),
                enterprise_id=rows[row][ENTERPRISE],
                territory_id=rows[row][TERRITORY],
                basis=basis,
                measured_value=(
                    Decimal(f"{raw_values[measurement_row]:.{VALUE_PLACES}f}")
                    if measurement_row >= 0
                    else None
                ),
                measured=value,
                limit=limit,
            )
        )
    return Block(count, int(refused.sum()), found)


@dataclass
class Preview:
    """What an evaluation would find, written nowhere (the command's --dry-run)."""

    lines_evaluated: int = 0
    lines_refused: int = 0
    breaches: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)  # rule key -> breaches
    titles: dict[str, str] = field(default_factory=dict)  # rule key -> title


def preview_evaluation(
    *,
    on: dt.date,
    territory: Territory | None = None,
    progress: Progress | None = None,
    block: int = BLOCK_LINES,
) -> Preview:
    """Evaluate the registry as run_evaluation does and count what it finds; write nothing at all."""
    say = progress or (lambda message: None)
    lib = library()
    preview = Preview()
    for rows in stream_rows(on=on, territory=territory, indicators=lib.vocabulary.measurements, block=block):
        evaluated = evaluate_rows(lib, rows, on)
        preview.lines_evaluated += evaluated.evaluated
        preview.lines_refused += evaluated.refused
        preview.breaches += len(evaluated.breaches)
        for breach in evaluated.breaches:
            key = breach.rule.key
            preview.by_rule[key] = preview.by_rule.get(key, 0) + 1
            preview.titles[key] = breach.rule.title
        say(
            _("Read %(done)d lines, %(breaches)d breaches so far.")
            % {"done": preview.lines_evaluated + preview.lines_refused, "breaches": preview.breaches}
        )
    return preview


def _lines_to_read(territory: Territory | None) -> int:
    lines = ProductionLine.objects.filter(status__in=EVALUATED_STATUSES)
    if territory is not None:
        lines = lines.filter(enterprise__territory__in=territory.subtree_codes())
    return lines.count()


@transaction.atomic
def start_evaluation(*, on: dt.date, by: User, territory: Territory | None = None) -> EvaluationRun:
    """Queue an evaluation run (carried out by carry_out_evaluation, on the worker when there is one)."""
    run = EvaluationRun.objects.create(
        on=on, territory=territory, started_by=by, status=EvaluationRun.Status.QUEUED
    )
    record(actor=by, action="evaluation.start", obj=run, data={"on": on.isoformat()})
    return run


def run_evaluation(
    *,
    on: dt.date,
    by: User,
    territory: Territory | None = None,
    open_cases: bool = True,
    progress: Progress | None = None,
    block: int = BLOCK_LINES,
) -> EvaluationRun:
    """Start an evaluation run and carry it out at once (the command, the tests)."""
    run = start_evaluation(on=on, by=by, territory=territory)
    return carry_out_evaluation(run=run, open_cases=open_cases, progress=progress, block=block)


RESULT_FIELDS = [
    "line_id",
    "enterprise_id",
    "territory_id",
    "rule_id",
    "rule_version",
    "rule_title",
    "dimension",
    "consequence",
    "verification",
    "measured",
    "limit",
    "unit",
    "finding_id",
]


def _write_results(run: EvaluationRun, rows: list[tuple[Any, ...]]) -> None:
    """The results of a block, set-based: COPY on PostgreSQL, bulk_create elsewhere."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        table = EvaluationResult._meta.db_table
        with (
            connection.cursor() as cursor,
            cursor.copy(
                f"COPY {table} (run_id, line_id, enterprise_id, territory_id, rule_id, rule_version,"
                ' rule_title, dimension, consequence, verification, measured, "limit", unit, finding_id)'
                " FROM STDIN"
            ) as copy,
        ):
            for row in rows:
                copy.write_row((run.pk, *row))
        return
    names = RESULT_FIELDS
    EvaluationResult.objects.bulk_create(
        [EvaluationResult(run=run, **dict(zip(names, row, strict=True))) for row in rows], batch_size=2000
    )


def carry_out_evaluation(
    *,
    run: EvaluationRun,
    open_cases: bool = True,
    progress: Progress | None = None,
    block: int = BLOCK_LINES,
) -> EvaluationRun:
    """Evaluate every operating line; record the breaches; open a finding (and its case) for each
    breach that has none yet. Running it again opens nothing twice. Only a queued run is carried out
    (claimed with a compare-and-set, so a task delivered twice runs it once); its progress is kept on
    the run as each block is written."""
    if open_cases and "finding" not in _opener:
        raise RuntimeError("No finding opener: phaseout.cases gives it when its app is ready.")
    claimed = EvaluationRun.objects.filter(pk=run.pk, status=EvaluationRun.Status.QUEUED).update(
        status=EvaluationRun.Status.RUNNING, heartbeat_at=timezone.now()
    )
    run.refresh_from_db()
    if not claimed:
        return run
    lost = False
    say = progress or (lambda message: None)
    by = run.started_by
    on = run.on
    lib = library()
    opener: FindingOpener | None = _opener.get("finding") if open_cases else None
    known_findings: KnownFindings | None = _opener.get("known") if open_cases else None
    try:
        run.lines_total = _lines_to_read(run.territory)
        EvaluationRun.objects.filter(pk=run.pk).update(lines_total=run.lines_total)
        say(_("%(count)d production lines to evaluate.") % {"count": run.lines_total})
        for block_rows in stream_rows(
            on=on, territory=run.territory, indicators=lib.vocabulary.measurements, block=block
        ):
            evaluated = evaluate_rows(lib, block_rows, on)
            found = evaluated.breaches
            known: dict[tuple[int, str, str], int | None] = {}
            if known_findings is not None and found:
                known = known_findings([(b.line_id, b.rule.id, b.basis) for b in found])
            rows = []
            for breach in found:
                rule = breach.rule
                finding_id = None
                if opener is not None:
                    key = (breach.line_id, rule.id, breach.basis)
                    if key in known:
                        finding_id = known[key]
                        run.already_known += 1
                    else:
                        finding, is_new = opener(
                            rule=rule,
                            row={
                                "id": breach.line_id,
                                "enterprise_id": breach.enterprise_id,
                                "enterprise__territory_id": breach.territory_id,
                            },
                            on=on,
                            by=by,
                            run=run,
                            basis=breach.basis,
                            measured_value=breach.measured_value,
                        )
                        finding_id = finding.pk if finding is not None else None
                        run.findings_opened += is_new
                        run.already_known += not is_new
                rows.append(
                    (
                        breach.line_id,
                        breach.enterprise_id,
                        breach.territory_id,
                        rule.id,
                        rule.version,
                        rule.title,
                        rule.dimension.value,
                        rule.consequence.value,
                        rule.verification.value,
                        _decimal(breach.measured),
                        _decimal(breach.limit),
                        rule.unit or (rule.size.unit if rule.size else ""),
                        finding_id,
                    )
                )
            _write_results(run, rows)
            run.lines_evaluated += evaluated.evaluated
            run.lines_refused += evaluated.refused
            run.breaches += len(found)
            run.lines_done = run.lines_evaluated + run.lines_refused
            alive = EvaluationRun.objects.filter(pk=run.pk, status=EvaluationRun.Status.RUNNING).update(
                heartbeat_at=timezone.now(), **_counts(run)
            )
            if not alive:  # given up as lost while this block ran (longer than the lease)
                raise RunLost(run.pk)
            say(
                _("Read %(done)d of %(total)d lines, %(breaches)d breaches so far.")
                % {"done": run.lines_done, "total": run.lines_total, "breaches": run.breaches}
            )
        run.status = EvaluationRun.Status.DONE
    except RunLost:
        # The sweep marked it failed, with its audit entry; this late run leaves the verdict, and takes
        # back the block it wrote meanwhile (a failed run lists nothing).
        lost = True
        EvaluationResult.objects.filter(run=run).delete()
        run.refresh_from_db()
    except Exception as exc:
        # A failed run lists nothing: the results of the blocks written before the failure go (the
        # findings opened stay, as each was opened by its own action).
        EvaluationResult.objects.filter(run=run).delete()
        run.status = EvaluationRun.Status.FAILED
        run.failure = str(exc)
        raise
    finally:
        if not lost:
            run.finished_at = timezone.now()
            with transaction.atomic():
                finished = EvaluationRun.objects.filter(pk=run.pk, status=EvaluationRun.Status.RUNNING)
                if finished.update(
                    status=run.status,
                    finished_at=run.finished_at,
                    failure=run.failure,
                    heartbeat_at=run.finished_at,
                    **_counts(run),
                ):
                    record(
                        actor=by,
                        action="evaluation.finish",
                        obj=run,
                        data={"status": run.status, "breaches": run.breaches, "opened": run.findings_opened},
                    )
                else:  # given up as lost after its last block: the sweep's verdict stands
                    run.refresh_from_db()
    return run


def _counts(run: EvaluationRun) -> dict[str, int]:
    """The run's counts as they stand, for the updates that keep its progress."""
    return {
        name: getattr(run, name)
        for name in (
            "lines_done",
            "lines_evaluated",
            "lines_refused",
            "breaches",
            "findings_opened",
            "already_known",
        )
    }


class RunLost(Exception):
    """The run was given up as lost (its worker silent too long) while this worker still ran it."""


LOST_SUMMARY = gettext_lazy("Evaluation runs whose worker stopped, marked failed: %(failed)d.")


def give_up_lost_runs(*, now: dt.datetime, today: dt.date | None = None) -> dict[str, int]:
    """The sweep's job: a run still `running` with no sign of life for EVALUATION_LEASE_SECONDS lost its
    worker (killed mid-run, the machine down; Celery hands the task out again, but the run is no longer
    queued, so nobody resumes it). Each is marked failed — compare-and-set on its last heartbeat, so a
    worker that beats meanwhile keeps it — its partial results removed (the findings it opened stay, as
    each was opened by its own action, and a new run opens none twice), with an audit entry. The office
    starts a new run."""
    limit = now - dt.timedelta(seconds=settings.EVALUATION_LEASE_SECONDS)
    silent = EvaluationRun.objects.filter(status=EvaluationRun.Status.RUNNING).filter(
        Q(heartbeat_at__lt=limit) | Q(heartbeat_at__isnull=True, started_at__lt=limit)
    )
    failed = 0
    for run in silent.order_by("pk"):
        with transaction.atomic():
            last = run.heartbeat_at or run.started_at
            reason = _(
                "The worker carrying out this evaluation stopped: no sign of life since %(at)s. "
                "The run was marked failed; start a new run."
            ) % {"at": timezone.localtime(last).strftime("%Y-%m-%d %H:%M")}
            taken = EvaluationRun.objects.filter(
                pk=run.pk, status=EvaluationRun.Status.RUNNING, heartbeat_at=run.heartbeat_at
            ).update(status=EvaluationRun.Status.FAILED, finished_at=now, failure=reason)
            if not taken:
                continue
            EvaluationResult.objects.filter(run=run).delete()
            record(
                actor=None,
                action="evaluation.lost",
                obj=run,
                reason=reason,
                data={
                    "heartbeat_at": last.isoformat(),
                    "lease_seconds": settings.EVALUATION_LEASE_SECONDS,
                    "lines_done": run.lines_done,
                },
            )
            failed += 1
    return {"failed": failed}
