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
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

import numpy as np
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from phaseout.audit.record import record
from phaseout.orgs.models import Territory
from phaseout.registry.facts import read_attributes
from phaseout.registry.models import Enterprise, LineStatus, Measurement, ProductionLine
from phaseout.rules.batch import BatchResult, Codes, Columns, evaluate_columns
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


class Line(NamedTuple):
    """A line as the evaluation reads it, with the newest measurement of each indicator:
    {indicator: (value, unit, measurement id)}."""

    id: int
    enterprise_id: int
    industry_id: str
    territory_id: str
    equipment_type: str
    size_value: Any
    size_unit: str
    process: str
    attributes: Any
    measured: dict[str, tuple[Any, str, int]]


def _decimal(value: float) -> Decimal | None:
    return None if math.isnan(value) else Decimal(str(round(float(value), 4)))


def _basis(rule: Rule, line: Line, measurement_id: int | None) -> str:
    if rule.comparison is Comparison.ELIMINATED:
        return f"size:{line.equipment_type}:{line.size_value}:{line.process}"[:80]
    return f"measurement:{measurement_id}"


def _as_decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _lines_sql(
    *, on: dt.date, territory_codes: list[str] | None, indicators: list[str]
) -> tuple[str, list[Any]]:
    """One query: every evaluated line, with its enterprise's industry and territory and one row per
    indicator it has a measurement of (the newest on or before `on`), in line order."""
    lines = ProductionLine._meta.db_table
    enterprises = Enterprise._meta.db_table
    measurements = Measurement._meta.db_table
    params: list[Any] = []
    wanted = ", ".join(["%s"] * len(indicators)) or "NULL"
    if connection.vendor == "postgresql":
        latest = (
            # Table names from the models and placeholders only: nothing from input is spliced in.
            f"SELECT DISTINCT ON (line_id, indicator) line_id, indicator, value, unit, id FROM {measurements}"  # noqa: S608
            f" WHERE measured_on <= %s AND indicator IN ({wanted})"
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
    sql = (
        "SELECT l.id, l.enterprise_id, e.industry_id, e.territory_id, l.equipment_type, l.size_value,"  # noqa: S608
        " l.size_unit, l.process, l.attributes, m.indicator, m.value, m.unit, m.id"
        f" FROM {lines} l JOIN {enterprises} e ON e.id = l.enterprise_id"
        f" LEFT JOIN ({latest}) m ON m.line_id = l.id"
        f" WHERE {where} ORDER BY l.id"
    )
    return sql, params


def stream_lines(
    *,
    on: dt.date,
    territory: Territory | None,
    vocabulary_indicators: Iterable[str],
    block: int = BLOCK_LINES,
) -> Iterator[list[Line]]:
    """The evaluated lines in blocks of `block`, read with one streamed query (a server-side cursor on
    PostgreSQL): no list of ids, and never more than a block and a fetch held."""
    sql, params = _lines_sql(
        on=on,
        territory_codes=territory.subtree_codes() if territory is not None else None,
        indicators=sorted(vocabulary_indicators),
    )
    connection.ensure_connection()
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        current: Line | None = None
        lines: list[Line] = []
        while True:
            rows = cursor.fetchmany(FETCH_ROWS)
            if not rows:
                break
            for row in rows:
                if current is None or row[0] != current.id:
                    if current is not None:
                        lines.append(current)
                        if len(lines) >= block:
                            yield lines
                            lines = []
                    attributes = row[8]
                    if isinstance(attributes, str):
                        attributes = json.loads(attributes) if attributes not in ("{}", "") else None
                    current = Line(
                        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], attributes, {}
                    )
                if row[9] is not None:
                    current.measured[row[9]] = (row[10], row[11], row[12])
        if current is not None:
            lines.append(current)
        if lines:
            yield lines


@dataclass
class Block:
    """A block of lines turned into columns: the lines the rules can read (`kept`, in column order),
    how many they refused, and the breaches found."""

    kept: list[Line]
    refused: int
    result: BatchResult


def evaluate_block(lib: Library, lines: Sequence[Line], on: dt.date) -> Block:
    """Evaluate a block of lines column-wise. The facts of each line are read and checked as
    `registry.facts.read_attributes` and `rules.engine.check_facts` do (a line they refuse is counted and
    left out), straight into columns, without a LineFacts object per line."""
    vocabulary = lib.vocabulary
    units = {code: indicator.unit for code, indicator in vocabulary.measurements.items()}
    processes = vocabulary.processes
    categorical = {code: a.categorical for code, a in vocabulary.attributes.items()}
    codes = Codes()
    code = codes.code
    nan = math.nan
    size: list[float] = []
    industry: list[int] = []
    equipment_type: list[int] = []
    process: list[int] = []
    product: list[int] = []
    attribute_at: dict[str, tuple[list[int], list[float | int]]] = {}
    measured_at: dict[str, tuple[list[int], list[float]]] = {}
    kept: list[Line] = []
    refused = 0
    for line in lines:
        size_value = line.size_value
        if size_value is not None:
            expected = SIZE_UNITS.get(line.equipment_type)
            if size_value <= 0 or expected is None or line.size_unit != expected:
                refused += 1
                continue
        if any(unit != units[indicator] for indicator, (_value, unit, _pk) in line.measured.items()):
            refused += 1
            continue
        position = len(kept)
        kept.append(line)
        size.append(float(size_value) if size_value is not None else nan)
        industry.append(code("industry", line.industry_id))
        equipment_type.append(code("equipment_type", line.equipment_type))
        process.append(code("process", line.process if line.process in processes else ""))
        if line.attributes:
            product_code, attributes = read_attributes(line.attributes, vocabulary)
            product.append(code("product", product_code))
            for name, value in attributes.items():
                where, values = attribute_at.setdefault(name, ([], []))
                where.append(position)
                values.append(code(name, str(value)) if categorical[name] else float(value))
        else:
            product.append(-1)
        for indicator, (value, _unit, _pk) in line.measured.items():
            where_m, values_m = measured_at.setdefault(indicator, ([], []))
            where_m.append(position)
            values_m.append(float(value))
    count = len(kept)
    attribute_columns: dict[str, Any] = {}
    for name, (where, values) in attribute_at.items():
        if categorical[name]:
            column: Any = np.full(count, -1, dtype=np.int64)
        else:
            column = np.full(count, np.nan, dtype=np.float64)
        column[where] = values
        attribute_columns[name] = column
    measurement_columns = {}
    for indicator, (where_m, values_m) in measured_at.items():
        measured_column = np.full(count, np.nan, dtype=np.float64)
        measured_column[where_m] = values_m
        measurement_columns[indicator] = measured_column
    columns = Columns(
        size=np.asarray(size, dtype=np.float64),
        industry=np.asarray(industry, dtype=np.int64),
        equipment_type=np.asarray(equipment_type, dtype=np.int64),
        process=np.asarray(process, dtype=np.int64),
        product=np.asarray(product, dtype=np.int64),
        attributes=attribute_columns,
        measurements=measurement_columns,
        codes=codes,
    )
    return Block(kept=kept, refused=refused, result=evaluate_columns(lib, columns, on))


class Breach(NamedTuple):
    line: Line
    rule: Rule
    measured: float
    limit: float

    @property
    def measurement(self) -> tuple[Any, str, int] | None:
        return self.line.measured.get(self.rule.indicator) if self.rule.indicator else None

    @property
    def basis(self) -> str:
        measurement = self.measurement
        return _basis(self.rule, self.line, measurement[2] if measurement else None)


def breaches(block: Block) -> Iterator[Breach]:
    result = block.result
    for index, rule_index, measured, limit in zip(
        result.line.tolist(),
        result.rule.tolist(),
        result.measured.tolist(),
        result.limit.tolist(),
        strict=True,
    ):
        yield Breach(block.kept[index], result.rules[rule_index], measured, limit)


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
    for lines in stream_lines(
        on=on, territory=territory, vocabulary_indicators=lib.vocabulary.measurements, block=block
    ):
        evaluated = evaluate_block(lib, lines, on)
        preview.lines_evaluated += len(evaluated.kept)
        preview.lines_refused += evaluated.refused
        preview.breaches += len(evaluated.result)
        for breach in breaches(evaluated):
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
        status=EvaluationRun.Status.RUNNING
    )
    run.refresh_from_db()
    if not claimed:
        return run
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
        for lines in stream_lines(
            on=on, territory=run.territory, vocabulary_indicators=lib.vocabulary.measurements, block=block
        ):
            evaluated = evaluate_block(lib, lines, on)
            found = list(breaches(evaluated))
            known: dict[tuple[int, str, str], int | None] = {}
            if known_findings is not None and found:
                known = known_findings([(b.line.id, b.rule.id, b.basis) for b in found])
            rows = []
            for breach in found:
                line, rule = breach.line, breach.rule
                finding_id = None
                if opener is not None:
                    key = (line.id, rule.id, breach.basis)
                    if key in known:
                        finding_id = known[key]
                        run.already_known += 1
                    else:
                        measurement = breach.measurement
                        finding, is_new = opener(
                            rule=rule,
                            row={
                                "id": line.id,
                                "enterprise_id": line.enterprise_id,
                                "enterprise__territory_id": line.territory_id,
                            },
                            on=on,
                            by=by,
                            run=run,
                            basis=breach.basis,
                            measured_value=_as_decimal(measurement[0]) if measurement else None,
                        )
                        finding_id = finding.pk if finding is not None else None
                        run.findings_opened += is_new
                        run.already_known += not is_new
                rows.append(
                    (
                        line.id,
                        line.enterprise_id,
                        line.territory_id,
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
            run.lines_evaluated += len(evaluated.kept)
            run.lines_refused += evaluated.refused
            run.breaches += len(found)
            run.lines_done = run.lines_evaluated + run.lines_refused
            EvaluationRun.objects.filter(pk=run.pk).update(
                lines_done=run.lines_done,
                lines_evaluated=run.lines_evaluated,
                lines_refused=run.lines_refused,
                breaches=run.breaches,
                findings_opened=run.findings_opened,
                already_known=run.already_known,
            )
            say(
                _("Read %(done)d of %(total)d lines, %(breaches)d breaches so far.")
                % {"done": run.lines_done, "total": run.lines_total, "breaches": run.breaches}
            )
        run.status = EvaluationRun.Status.DONE
    except Exception as exc:
        run.status = EvaluationRun.Status.FAILED
        run.failure = str(exc)
        raise
    finally:
        run.finished_at = timezone.now()
        with transaction.atomic():
            run.save()
            record(
                actor=by,
                action="evaluation.finish",
                obj=run,
                data={"status": run.status, "breaches": run.breaches, "opened": run.findings_opened},
            )
    return run
