from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, TypeVar

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from phaseout.audit.models import Outcome
from phaseout.audit.record import record
from phaseout.crypto.masking import mask_name, mask_phone
from phaseout.orgs import scope
from phaseout.orgs.models import Person, Role
from phaseout.registry import importer
from phaseout.registry.models import Enterprise, ImportBatch, Licence, Measurement, ProductionLine
from phaseout.rules.rulebook import library


def territories_allowed(person: Person | None) -> set[str] | None:
    """The territories a person may import enterprises into (None: all)."""
    if person is None or person.role != Role.DISTRICT:
        return None
    return set(scope.territories(person).values_list("code", flat=True))


# Personal values the audit entry names masked: the trail says that a number changed, not what it is.
_MASKED = {"contact_name": mask_name, "contact_phone": mask_phone}


def _changes(obj: Any, data: dict[str, Any]) -> dict[str, list[str]]:
    return {
        k: [_MASKED.get(k, str)(str(getattr(obj, k))), _MASKED.get(k, str)(str(v))]
        for k, v in data.items()
        if getattr(obj, k) != v
    }


@transaction.atomic
def create_enterprise(*, data: dict[str, Any], by: User) -> Enterprise:
    enterprise = Enterprise(**data)
    enterprise.full_clean()
    enterprise.save()
    record(actor=by, action="enterprise.create", obj=enterprise)
    return enterprise


@transaction.atomic
def update_enterprise(*, enterprise: Enterprise, data: dict[str, Any], by: User) -> Enterprise:
    enterprise = Enterprise.objects.select_for_update().get(pk=enterprise.pk)
    changes = _changes(enterprise, data)
    for key, value in data.items():
        setattr(enterprise, key, value)
    enterprise.full_clean()
    enterprise.save()
    record(actor=by, action="enterprise.update", obj=enterprise, data={"changes": changes})
    return enterprise


Part = TypeVar("Part", ProductionLine, Licence)


@transaction.atomic
def save_enterprise_part(*, part: Part, by: User) -> Part:
    """Create or update one of an enterprise's production lines or licences, with its audit row."""
    creating = part.pk is None
    part.full_clean()
    if (
        isinstance(part, Licence)
        and part.kind == Licence.Kind.PRODUCTION
        and part.status == Licence.Status.VALID
    ):
        eliminated = elimination_class_lines(part.enterprise)
        if eliminated:
            raise ValidationError(
                _(
                    "A production licence is refused: the enterprise has elimination-class equipment "
                    "(%(lines)s)."
                )
                % {"lines": "、".join(eliminated)}
            )
    part.save()
    kind = "line" if isinstance(part, ProductionLine) else "licence"
    record(actor=by, action=f"{kind}.{'create' if creating else 'update'}", obj=part)
    return part


@transaction.atomic
def preview_import(*, upload: UploadedFile, register: importer.Register | None, by: User) -> ImportBatch:
    """Keep the uploaded register with what its check found; without `register` (the check runs off the
    request, REGISTER_PREVIEW_IN_BACKGROUND) the batch waits in CHECKING and the check is queued."""
    upload.seek(0)
    digest = hashlib.sha256(upload.read()).hexdigest()
    upload.seek(0)
    batch = ImportBatch.objects.create(
        file=upload,
        original_name=upload.name or "register.xlsx",
        sha256=digest,
        uploaded_by=by,
        status=ImportBatch.Status.PREVIEW if register is not None else ImportBatch.Status.CHECKING,
        total_rows=register.total if register is not None else 0,
        valid_rows=len(register.rows) if register is not None else 0,
        errors=[e.as_dict() for e in register.errors] if register is not None else [],
    )
    if register is None:
        from phaseout.registry.tasks import check_import

        record(actor=by, action="import.upload", obj=batch, data={"checked": "background"})
        transaction.on_commit(lambda: check_import.delay(batch.pk))
        return batch
    record(
        actor=by,
        action="import.preview",
        obj=batch,
        data={"rows": register.total, "bad": len(register.errors)},
    )
    return batch


def check_import_batch(batch_id: int) -> ImportBatch:
    """The preview of a batch uploaded for a check off the request: parse and check every row, then
    wait for acceptance; a file that cannot be read fails the batch with the reason. Safe to run twice
    (only a batch still CHECKING is checked)."""
    batch = ImportBatch.objects.get(pk=batch_id)
    if batch.status != ImportBatch.Status.CHECKING:
        return batch
    allowed = territories_allowed(Person.objects.filter(user_id=batch.uploaded_by_id).first())
    try:
        with batch.file.open("rb") as fh:
            register = importer.read_register(fh, territories_allowed=allowed)
        if not register.total:
            raise importer.RegisterFileError(_("The register has no rows."))
    except importer.RegisterFileError as exc:
        with transaction.atomic():
            failed = ImportBatch.objects.filter(pk=batch_id, status=ImportBatch.Status.CHECKING).update(
                status=ImportBatch.Status.FAILED, failure=str(exc)[:2000]
            )
            if failed:  # a second delivery of the task, after the first checked the file, records nothing
                record(
                    actor=batch.uploaded_by,
                    action="import.preview",
                    obj=batch,
                    reason=str(exc)[:200],
                    outcome=Outcome.FAILURE,
                )
        batch.refresh_from_db()
        return batch
    with transaction.atomic():
        checked = ImportBatch.objects.filter(pk=batch_id, status=ImportBatch.Status.CHECKING).update(
            status=ImportBatch.Status.PREVIEW,
            total_rows=register.total,
            valid_rows=len(register.rows),
            errors=[e.as_dict() for e in register.errors],
        )
        if checked:
            record(
                actor=batch.uploaded_by,
                action="import.preview",
                obj=batch,
                data={"rows": register.total, "bad": len(register.errors)},
            )
    batch.refresh_from_db()
    return batch


def accept_import(*, batch: ImportBatch, by: User) -> ImportBatch:
    """Mark the batch as running (once) and queue the import after commit."""
    from phaseout.registry.tasks import run_import

    with transaction.atomic():
        claimed = ImportBatch.objects.filter(pk=batch.pk, status=ImportBatch.Status.PREVIEW).update(
            status=ImportBatch.Status.RUNNING
        )
        if claimed:
            record(actor=by, action="import.accept", obj=batch)
            transaction.on_commit(lambda: run_import.delay(batch.pk))
    batch.refresh_from_db()
    return batch


@contextmanager
def _lease(batch_id: int) -> Iterator[bool]:
    """Whether this process may run the batch, held while it does. With the task acknowledged only when
    done (CELERY_TASK_ACKS_LATE), the broker hands a task out again when its worker seems gone, or has run
    it longer than the visibility timeout: a second run finds the batch leased and leaves it to the first.
    On PostgreSQL the lease is a session advisory lock, which a worker that dies lets go of with its
    connection, so the task handed out again after a kill runs. The embedded database runs tasks in the
    request (no broker, no second delivery): nothing to hold."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = "SELECT %s(hashtext('phaseout.import_batch'), %s)"
    with connection.cursor() as cursor:
        cursor.execute(key % ("pg_try_advisory_lock", "%s"), [batch_id])
        (held,) = cursor.fetchone()
    try:
        yield bool(held)
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute(key % ("pg_advisory_unlock", "%s"), [batch_id])


def run_import_batch(batch_id: int) -> ImportBatch:
    """Import an accepted batch. Safe to run again after a run that died half-way (rows are matched by
    USCC: those written are found unchanged) and while another run holds it (left alone, `_lease`)."""
    with _lease(batch_id) as mine:
        if not mine:
            return ImportBatch.objects.get(pk=batch_id)
        return _run_import_batch(batch_id)


def _run_import_batch(batch_id: int) -> ImportBatch:
    batch = ImportBatch.objects.get(pk=batch_id)
    if batch.status != ImportBatch.Status.RUNNING:
        return batch
    try:
        allowed = territories_allowed(Person.objects.filter(user_id=batch.uploaded_by_id).first())

        def progress(done: int) -> None:
            ImportBatch.objects.filter(pk=batch_id).update(processed_rows=done)

        with batch.file.open("rb") as fh:
            _, result = importer.import_register(fh, territories_allowed=allowed, progress=progress)
    except Exception as exc:
        ImportBatch.objects.filter(pk=batch_id).update(
            status=ImportBatch.Status.FAILED, failure=str(exc)[:2000]
        )
        raise
    with transaction.atomic():  # the batch is done together with its audit row, or neither
        ImportBatch.objects.filter(pk=batch_id, status=ImportBatch.Status.RUNNING).update(
            status=ImportBatch.Status.DONE,
            created_count=result.created,
            updated_count=result.updated,
            unchanged_count=result.unchanged,
            processed_rows=result.written,
            finished_at=timezone.now(),
        )
        batch.refresh_from_db()
        record(
            actor=batch.uploaded_by,
            action="import.done",
            obj=batch,
            data={"created": result.created, "updated": result.updated, "unchanged": result.unchanged},
        )
    return batch


@transaction.atomic
def record_measurement(
    *,
    line: ProductionLine,
    indicator: str,
    value: Decimal,
    measured_on: dt.date,
    source: str,
    by: User,
    note: str = "",
    today: dt.date | None = None,
) -> Measurement:
    """Record a measured value in the indicator's own unit; the next evaluation reads it."""
    known = library().vocabulary.measurements.get(indicator)
    if known is None:
        raise ValidationError(_("Unknown indicator."))
    if measured_on > (today or timezone.localdate()):
        raise ValidationError(_("The measurement date cannot be in the future."))
    measurement = Measurement.objects.create(
        line=line,
        indicator=indicator,
        value=value,
        unit=known.unit,
        measured_on=measured_on,
        source=source,
        note=note,
        recorded_by=by,
    )
    record(
        actor=by,
        action="measurement.record",
        obj=measurement,
        data={"line": line.pk, "indicator": indicator, "value": str(value), "unit": known.unit},
    )
    return measurement


def elimination_class_lines(enterprise: Enterprise) -> list[str]:
    """Names of the enterprise's operating lines that today's rules put in the elimination class."""
    from phaseout.registry.facts import line_facts
    from phaseout.rules import engine, rulebook

    lib = rulebook.library()
    today = timezone.localdate()
    found = []
    for line in enterprise.lines.exclude(status__in=["exited", "dismantled"]).select_related("enterprise"):
        try:
            outcomes = engine.evaluate(lib, line_facts(line), today)
        except engine.FactsError:
            continue
        if any(o.breach and o.rule.comparison is rulebook.Comparison.ELIMINATED for o in outcomes):
            found.append(line.name)
    return found
