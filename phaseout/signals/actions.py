"""Every write of power data, the furnace register and signals.

Each action takes keyword-only arguments and an explicit actor (None for the machine), runs in one
transaction, writes a history event (phaseout.signals.models.Event) and an audit row, and returns what it
changed. Time is a parameter (`now`).

`raise_signal` is the one public way for other apps (online monitoring) to raise a signal: idempotent per
kind, subject and period — the same evidence twice is one signal. A signal is a proposal: only a person of
the competent body confirms it (which asks for a re-inspection, 回头看) or dismisses it with a reason.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from phaseout.audit.record import Entry, record, record_many
from phaseout.cases.models import Case, CaseState
from phaseout.messaging.actions import Notice, notify, notify_many
from phaseout.messaging.models import Kind as MessageKind
from phaseout.orgs.models import Person
from phaseout.orgs.scope import competent_people, office_people, people_of_territory, territory_codes
from phaseout.registry.models import Enterprise, ProductionLine
from phaseout.rules.furnaces import BASIS, judge_use
from phaseout.signals import scope
from phaseout.signals.importer import PowerFile, Row, RowError, read_power_file
from phaseout.signals.models import (
    ElectricityAccount,
    Event,
    FurnaceState,
    InductionFurnace,
    PowerImport,
    PowerReading,
    Signal,
    SignalKind,
    SignalStatus,
)

EVENT_LABELS: dict[str, Any] = {
    "account_match": gettext_lazy("electricity account matched"),
    "power_import": gettext_lazy("power-use data imported"),
    "furnace_register": gettext_lazy("induction furnace registered"),
    "furnace_update": gettext_lazy("induction furnace register entry changed"),
    "furnace_verify": gettext_lazy("induction furnace verified"),
    "furnace_return": gettext_lazy("induction furnace returned for correction"),
    "raise": gettext_lazy("signal raised"),
    "confirm": gettext_lazy("signal confirmed: re-inspection asked"),
    "dismiss": gettext_lazy("signal dismissed"),
}
EXITED_CASE_STATES = (CaseState.EXITED, CaseState.ACCEPTED, CaseState.ARCHIVED)
EVIDENCE_MAX_BYTES = 20_000
REASON_MAX = 2000
INSERT_BATCH = 1000


class SignalsError(ValueError):
    """A refused write; the message says why, in the platform's language."""


def _person(by: User) -> Person:
    try:
        return by.person
    except Person.DoesNotExist:
        raise SignalsError(_("Your account has no place in the organisation.")) from None


def _event(
    *,
    by: User | None,
    now: dt.datetime,
    action: str,
    reason: str = "",
    data: dict[str, Any] | None = None,
    **subject: Any,
) -> Event:
    return Event.objects.create(by=by, at=now, action=action, reason=reason, data=data or {}, **subject)


# ── electricity accounts ──


def match_account(
    *, number: str, enterprise: Enterprise, line: ProductionLine | None = None, by: User, now: dt.datetime
) -> ElectricityAccount:
    """Match a utility account number (户号) to an enterprise of the person's city and, where its meter
    serves one line, to that line; an account matched before is matched again (the history keeps both)."""
    person = _person(by)
    if not scope.may_import_power(person):
        raise SignalsError(
            _("Only the coordination office or an energy department matches electricity accounts.")
        )
    number = (number or "").strip()
    if not number or "\x00" in number:
        raise SignalsError(_("Please give the account number."))
    if enterprise.territory_id not in territory_codes(person):
        raise SignalsError(_("This enterprise is not in your city."))
    if line is not None and line.enterprise_id != enterprise.pk:
        raise SignalsError(_("This line is not one of the enterprise's."))
    with transaction.atomic():
        account = ElectricityAccount.objects.select_for_update().filter(number=number).first()
        before = None
        if account is None:
            account = ElectricityAccount(number=number)
        else:
            if account.territory_id not in territory_codes(person):
                raise SignalsError(_("This account is matched to an enterprise of another city."))
            before = {"enterprise": account.enterprise_id, "line": account.line_id}
        account.enterprise = enterprise
        account.line = line
        account.territory_id = enterprise.territory_id
        account.matched_by = by
        account.matched_at = now
        try:
            account.full_clean()
        except Exception as exc:  # a ValidationError: said in the platform's language
            messages = getattr(exc, "messages", [str(exc)])
            raise SignalsError("；".join(str(m) for m in messages)) from None
        account.save()
        data = {
            "number": number,
            "enterprise": enterprise.pk,
            "line": line.pk if line else None,
            "before": before,
        }
        _event(by=by, now=now, action="account_match", data=data, account=account)
        record(actor=by, action="signals.account_match", obj=account, data=data)
        return account


# ── power-use import ──


def known_accounts(person: Person) -> dict[str, int]:
    """The account numbers a person may import data for (their city's), to their ids."""
    return dict(scope.accounts(person).values_list("number", "id"))


def import_power(*, upload: IO[bytes], name: str, by: User, now: dt.datetime, today: dt.date) -> PowerImport:
    """Check the whole file and write its valid rows at once, without a preview (the demo and commands;
    people go through `preview_power` and `confirm_power`). A file that is not power-use data raises
    PowerFileError (phaseout.signals.importer) and stores nothing."""
    person = _may_import(by)
    content = _bounded(upload.read())
    return _import(content, name=name, person=person, by=by, now=now, today=today)


@dataclass(frozen=True)
class PowerPreview:
    """What confirming an upload would write, computed from the file and the stored readings; nothing of
    it is in the database. `token` (signed) names the kept file for `confirm_power`."""

    token: str
    name: str
    sha256: str
    total: int
    new: int
    unchanged: int
    errors: list[dict[str, Any]]
    sample: list[dict[str, Any]]  # the first PREVIEW_SAMPLE readings that would be written


PREVIEW_SALT = "phaseout.signals.power-preview"
PREVIEW_MAX_AGE = 24 * 3600  # seconds a preview can be confirmed in
PREVIEW_SAMPLE = 200
PREVIEW_DIR = "power-previews"


def _may_import(by: User) -> Person:
    person = _person(by)
    if not scope.may_import_power(person):
        raise SignalsError(_("Only the coordination office or an energy department imports power-use data."))
    return person


def _bounded(content: bytes) -> bytes:
    if len(content) > settings.POWER_IMPORT_MAX_BYTES:
        raise SignalsError(
            _("The file is too large; the limit is %(limit)s.")
            % {"limit": filesizeformat(settings.POWER_IMPORT_MAX_BYTES)}
        )
    return content


def _preview_folder() -> Path:
    return Path(settings.MEDIA_ROOT) / PREVIEW_DIR


def _forget_stale_previews(folder: Path, now: float) -> None:
    """Previews never confirmed are deleted a day later (each upload looks, so the folder stays small).
    A kept file's name starts with the second it was kept in (not its mtime: the clock is a parameter)."""
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(folder):
            kept_at, _sep, _rest = entry.name.partition("-")
            if kept_at.isdigit() and now - int(kept_at) > PREVIEW_MAX_AGE:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)


def preview_power(*, upload: IO[bytes], name: str, by: User, today: dt.date) -> PowerPreview:
    """Read and check the whole file and compare its rows with what is stored: what confirming would
    write, which rows are unchanged, every bad row with its reason. Writes nothing to the database: the
    file is kept (under MEDIA_ROOT, named by a random token) until it is confirmed or a day has passed.
    A file that is not power-use data raises PowerFileError and is not kept."""
    person = _may_import(by)
    content = _bounded(upload.read())
    accounts = known_accounts(person)
    checked = read_power_file(io.BytesIO(content), name=name, known_accounts=accounts, today=today)
    new = unchanged = 0
    sample: list[dict[str, Any]] = []
    for created, same in _compare(checked, accounts):
        new += len(created)
        unchanged += same
        for row in created[: max(0, PREVIEW_SAMPLE - len(sample))]:
            sample.append(
                {
                    "row": row.number, "account": row.account, "granularity": row.granularity,
                    "start": row.start, "end": row.end, "kwh": row.kwh, "valley": row.valley,
                }
            )  # fmt: skip
    kept_at = time.time()
    key = f"{int(kept_at)}-{secrets.token_urlsafe(18)}"
    suffix = ".xlsx" if name.lower().endswith(".xlsx") else ".csv"
    folder = _preview_folder()
    folder.mkdir(parents=True, exist_ok=True)
    _forget_stale_previews(folder, kept_at)
    (folder / f"{key}{suffix}").write_bytes(content)
    digest = hashlib.sha256(content).hexdigest()
    token = signing.dumps({"k": key + suffix, "u": by.pk, "n": name[:200], "s": digest}, salt=PREVIEW_SALT)
    return PowerPreview(
        token=token,
        name=name[:200],
        sha256=digest,
        total=checked.total,
        new=new,
        unchanged=unchanged,
        errors=_sorted_errors(checked),
        sample=sample,
    )


def confirm_power(*, token: str, by: User, now: dt.datetime, today: dt.date) -> PowerImport:
    """Write what a preview showed: the kept file is checked again against the readings stored now (what
    changed since is said in the result) and its valid rows written. Claimed by renaming the kept file, so
    of two confirmations (a double click) one imports and the other is refused; the file is deleted after."""
    person = _may_import(by)
    try:
        payload = signing.loads(token, salt=PREVIEW_SALT, max_age=PREVIEW_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired is one
        payload = None
    if not isinstance(payload, dict) or payload.get("u") != by.pk:
        raise SignalsError(_("This preview has expired or is not valid; please upload the file again."))
    kept = _preview_folder() / str(payload["k"])
    claimed = kept.with_name(kept.name + ".claimed")
    try:
        os.rename(kept, claimed)
    except FileNotFoundError:
        raise SignalsError(
            _("This file has already been imported, or its preview has expired; please upload it again.")
        ) from None
    try:
        content = claimed.read_bytes()
        if hashlib.sha256(content).hexdigest() != payload["s"]:
            raise SignalsError(_("This preview has expired or is not valid; please upload the file again."))
        return _import(content, name=str(payload["n"]), person=person, by=by, now=now, today=today)
    finally:
        with contextlib.suppress(FileNotFoundError):
            claimed.unlink()


def _sorted_errors(checked: PowerFile) -> list[dict[str, Any]]:
    return sorted((e.as_dict() for e in checked.errors), key=lambda e: (e["row"], e["column"]))


def _import(
    content: bytes, *, name: str, person: Person, by: User, now: dt.datetime, today: dt.date
) -> PowerImport:
    """Check the file, then write its valid rows in one transaction: new periods inserted in batches,
    a period already stored with the same figures left alone (the same file twice changes nothing), one
    stored with other figures a row error (a correction is not silently applied). One history event per
    account that received readings, and one audit row for the import."""
    accounts = known_accounts(person)
    checked = read_power_file(io.BytesIO(content), name=name, known_accounts=accounts, today=today)
    with transaction.atomic():
        batch = PowerImport.objects.create(
            original_name=name[:200],
            sha256=hashlib.sha256(content).hexdigest(),
            uploaded_by=by,
            uploaded_at=now,
            total_rows=checked.total,
        )
        created = unchanged = 0
        per_account: dict[int, list[Any]] = {}
        for new, same in _compare(checked, accounts):
            PowerReading.objects.bulk_create(
                [
                    PowerReading(
                        account_id=accounts[r.account], granularity=r.granularity, period_start=r.start,
                        period_end=r.end, kwh=r.kwh, valley_kwh=r.valley, source=batch,
                    )
                    for r in new
                ],
                ignore_conflicts=True,
            )  # fmt: skip
            created += len(new)
            unchanged += same
            for r in new:
                seen = per_account.setdefault(accounts[r.account], [0, r.start, r.end])
                seen[0] += 1
                seen[1] = min(seen[1], r.start)
                seen[2] = max(seen[2], r.end)
        events = [
            Event(
                account_id=account_id, by=by, at=now, action="power_import",
                data={"import": batch.pk, "file": batch.original_name, "readings": count,
                      "from": first.isoformat(), "until": last.isoformat()},
            )
            for account_id, (count, first, last) in sorted(per_account.items())
        ]  # fmt: skip
        Event.objects.bulk_create(events, batch_size=INSERT_BATCH)
        batch.errors = _sorted_errors(checked)
        batch.valid_rows = created + unchanged
        batch.created_count = created
        batch.unchanged_count = unchanged
        batch.save(update_fields=["errors", "valid_rows", "created_count", "unchanged_count"])
        record(
            actor=by,
            action="signals.power_import",
            obj=batch,
            data={
                "file": batch.original_name,
                "sha256": batch.sha256,
                "rows": checked.total,
                "created": created,
                "unchanged": unchanged,
                "errors": len(batch.errors),
                "accounts": len(events),
            },
        )
        return batch


def _compare(checked: PowerFile, accounts: dict[str, int]) -> Iterator[tuple[list[Row], int]]:
    """The file's valid rows, a batch at a time: (the rows not stored yet, how many are stored unchanged).
    A row stored with other figures becomes a row error in `checked`. Stored readings are read per batch
    of the file's rows (bounded by the file), not for every account."""
    rows = checked.rows
    for start in range(0, len(rows), INSERT_BATCH):
        chunk = rows[start : start + INSERT_BATCH]
        ids = {accounts[r.account] for r in chunk}
        first = min(r.start for r in chunk)
        last = max(r.start for r in chunk)
        stored = {
            (a, g, s): (k, v)
            for a, g, s, k, v in PowerReading.objects.filter(
                account__in=ids, period_start__gte=first, period_start__lte=last
            ).values_list("account_id", "granularity", "period_start", "kwh", "valley_kwh")
        }
        new: list[Row] = []
        unchanged = 0
        for r in chunk:
            key = (accounts[r.account], r.granularity, r.start)
            if key not in stored:
                new.append(r)
                continue
            kwh, valley = stored[key]
            if kwh == r.kwh and valley == r.valley:
                unchanged += 1
                continue
            checked.errors.append(
                RowError(
                    r.number,
                    "",
                    _(
                        "This account's period was imported before with %(kwh)s kWh; the stored "
                        "figure is kept. Ask the office to correct it if the utility corrected it."
                    )
                    % {"kwh": kwh},
                )
            )
        yield new, unchanged


# ── the induction-furnace register ──

FURNACE_FIELDS = ("line", "name", "kind", "capacity_t", "transformer_kva", "use", "status", "account")


def _check_furnace(furnace: InductionFurnace) -> None:
    if furnace.line is not None and furnace.line.enterprise_id != furnace.enterprise_id:
        raise SignalsError(_("This line is not one of the enterprise's."))
    if furnace.account is not None and furnace.account.enterprise_id != furnace.enterprise_id:
        raise SignalsError(_("This electricity account is not the enterprise's."))
    try:
        furnace.full_clean(exclude=["registered_by", "territory", "enterprise"], validate_unique=False)
    except Exception as exc:
        messages = getattr(exc, "messages", [str(exc)])
        raise SignalsError("；".join(str(m) for m in messages)) from None


def _out_of_scope_signal(furnace: InductionFurnace, now: dt.datetime) -> Signal | None:
    judgement = judge_use(furnace.use)
    if judgement.permitted:
        return None
    day = timezone.localdate(now)
    return raise_signal(
        kind=SignalKind.FURNACE_OUT_OF_SCOPE,
        furnace=furnace,
        evidence={
            "use": furnace.use,
            "prohibited": judgement.prohibited,
            "basis": BASIS,
            "verification": str(judgement.verification),
            "partly_confirmed": judgement.partly_confirmed,
        },
        observed_from=day,
        observed_to=day,
        now=now,
    )


def register_furnace(
    *,
    enterprise: Enterprise,
    by: User,
    now: dt.datetime,
    name: str,
    kind: str,
    capacity_t: Decimal,
    transformer_kva: int,
    use: str,
    status: str,
    line: ProductionLine | None = None,
    account: ElectricityAccount | None = None,
) -> InductionFurnace:
    """A district registers a furnace of its own territory; one registered for a use outside the
    permitted scope raises a signal at once (a proposal for the department, not a decision)."""
    person = _person(by)
    if not scope.may_register_furnace(person):
        raise SignalsError(_("Induction furnaces are registered by the county or district where they are."))
    if enterprise.territory_id not in territory_codes(person):
        raise SignalsError(_("This enterprise is not in your territory."))
    furnace = InductionFurnace(
        enterprise=enterprise,
        territory_id=enterprise.territory_id,
        line=line,
        name=(name or "").strip(),
        kind=kind,
        capacity_t=capacity_t,
        transformer_kva=transformer_kva,
        use=use,
        status=status,
        account=account,
        registered_by=by,
        registered_at=now,
    )
    _check_furnace(furnace)
    with transaction.atomic():
        try:
            with transaction.atomic():
                furnace.save()
        except IntegrityError:
            raise SignalsError(_("This enterprise already has a furnace of this name.")) from None
        data = _furnace_data(furnace)
        _event(by=by, now=now, action="furnace_register", data=data, furnace=furnace)
        record(actor=by, action="signals.furnace_register", obj=furnace, data=data)
        _out_of_scope_signal(furnace, now)
        return furnace


def _furnace_data(furnace: InductionFurnace) -> dict[str, Any]:
    return {
        "enterprise": furnace.enterprise_id,
        "line": furnace.line_id,
        "name": furnace.name,
        "kind": furnace.kind,
        "capacity_t": str(furnace.capacity_t),
        "transformer_kva": furnace.transformer_kva,
        "use": furnace.use,
        "status": furnace.status,
        "account": furnace.account_id,
        "within_scope": judge_use(furnace.use).permitted,
    }


def _lock_furnace(furnace: InductionFurnace, expected_version: int | None) -> InductionFurnace:
    locked = InductionFurnace.objects.select_for_update().get(pk=furnace.pk)
    if expected_version is not None and locked.version != expected_version:
        raise SignalsError(_("Someone else changed this furnace in the meantime; please look at it again."))
    return locked


def update_furnace(
    *,
    furnace: InductionFurnace,
    by: User,
    now: dt.datetime,
    expected_version: int | None = None,
    **changes: Any,
) -> InductionFurnace:
    """The district corrects its register entry; a changed entry is verified again."""
    person = _person(by)
    unknown = set(changes) - set(FURNACE_FIELDS)
    if unknown:
        raise ValueError(f"not a furnace field: {sorted(unknown)}")
    if not scope.may_register_furnace(person) or furnace.territory_id not in territory_codes(person):
        raise SignalsError(_("Induction furnaces are registered by the county or district where they are."))
    with transaction.atomic():
        locked = _lock_furnace(furnace, expected_version)
        before = _furnace_data(locked)
        for key, value in changes.items():
            setattr(locked, key, value.strip() if isinstance(value, str) and key == "name" else value)
        _check_furnace(locked)
        after = _furnace_data(locked)
        changed = {k: after[k] for k in after if after[k] != before[k]}
        if not changed:
            return locked
        locked.state = FurnaceState.REGISTERED
        locked.verified_by = None
        locked.verified_at = None
        locked.version = F("version") + 1
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError:
            raise SignalsError(_("This enterprise already has a furnace of this name.")) from None
        locked.refresh_from_db()
        data = {"changed": changed, "before": {k: before[k] for k in changed}}
        _event(by=by, now=now, action="furnace_update", data=data, furnace=locked)
        record(actor=by, action="signals.furnace_update", obj=locked, data=data)
        if "use" in changed:
            _out_of_scope_signal(locked, now)
        return locked


def verify_furnace(
    *,
    furnace: InductionFurnace,
    by: User,
    confirmed: bool,
    note: str,
    now: dt.datetime,
    expected_version: int | None = None,
) -> InductionFurnace:
    """The 工信局 verifies a registered furnace on the record, or returns it to the district, saying why."""
    person = _person(by)
    if not scope.may_verify_furnace(person) or furnace.territory_id not in territory_codes(person):
        raise SignalsError(
            _("Induction furnaces are verified by the city's industry and information technology bureau.")
        )
    note = (note or "").strip()
    if len(note) > 500:
        raise SignalsError(_("The note is too long (at most 500 characters)."))
    if not confirmed and not note:
        raise SignalsError(_("Please say what the district must correct."))
    with transaction.atomic():
        locked = _lock_furnace(furnace, expected_version)
        if locked.state != FurnaceState.REGISTERED:
            raise SignalsError(_("Only a furnace awaiting verification can be verified or returned."))
        locked.state = FurnaceState.VERIFIED if confirmed else FurnaceState.RETURNED
        locked.verified_by = by if confirmed else None
        locked.verified_at = now if confirmed else None
        locked.verification_note = note
        locked.version = F("version") + 1
        locked.save()
        locked.refresh_from_db()
        action = "furnace_verify" if confirmed else "furnace_return"
        data = {"state": locked.state, "within_scope": judge_use(locked.use).permitted}
        _event(by=by, now=now, action=action, reason=note, data=data, furnace=locked)
        record(actor=by, action=f"signals.{action}", obj=locked, reason=note, data=data)
        return locked


# ── signals ──


def dimension_of_line(line_id: int | None) -> str:
    """The dimension of the line's latest exit case (its department re-inspects); technology otherwise."""
    if line_id is not None:
        found = (
            Case.objects.filter(line=line_id, state__in=EXITED_CASE_STATES)
            .order_by("-id")
            .values_list("dimension", flat=True)
            .first()
        )
        if found:
            return found
    return scope.FURNACE_DIMENSION


def exit_case_of(line_id: int | None) -> Case | None:
    if line_id is None:
        return None
    return Case.objects.filter(line=line_id, state__in=EXITED_CASE_STATES).order_by("-id").first()


@dataclass(frozen=True)
class Candidate:
    """One signal to raise, for `raise_signals` (the screening's batches)."""

    kind: str
    enterprise_id: int
    territory_id: str
    dimension: str
    evidence: dict[str, Any]
    observed_from: dt.date
    observed_to: dt.date
    line_id: int | None = None
    furnace_id: int | None = None

    @property
    def subject_key(self) -> str:
        if self.furnace_id is not None:
            return f"furnace:{self.furnace_id}"
        if self.line_id is not None:
            return f"line:{self.line_id}"
        return f"enterprise:{self.enterprise_id}"

    @property
    def key(self) -> tuple[str, str, dt.date, dt.date]:
        return (self.kind, self.subject_key, self.observed_from, self.observed_to)


def _bounded_evidence(evidence: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(evidence, dict):
        raise SignalsError(_("The evidence of a signal must be a record of named values."))
    text = json.dumps(evidence, ensure_ascii=False, default=str)
    if len(text.encode()) > EVIDENCE_MAX_BYTES:
        raise SignalsError(_("The evidence of a signal is too large."))
    return json.loads(text)


def raise_signal(
    *,
    kind: str,
    line: ProductionLine | None = None,
    enterprise: Enterprise | None = None,
    evidence: dict[str, Any],
    observed_from: dt.date,
    observed_to: dt.date,
    now: dt.datetime,
    furnace: InductionFurnace | None = None,
    dimension: str | None = None,
) -> Signal:
    """Raise a signal for a person — or return the one already raised for the same kind, subject (the
    furnace, else the line, else the enterprise) and period: the same evidence twice is one signal.
    The people concerned are told once (message centre). Raised by the machine: no actor."""
    if kind not in SignalKind.values:
        raise SignalsError(_("Unknown kind of signal."))
    if furnace is not None:
        enterprise = furnace.enterprise
        line = line or furnace.line
    elif line is not None:
        enterprise = line.enterprise
    if enterprise is None:
        raise SignalsError(_("A signal needs the line or the enterprise it is about."))
    if observed_to < observed_from:
        raise SignalsError(_("The period of a signal ends before it starts."))
    candidate = Candidate(
        kind=kind,
        enterprise_id=enterprise.pk,
        territory_id=enterprise.territory_id,
        dimension=dimension
        or (scope.FURNACE_DIMENSION if furnace else dimension_of_line(line.pk if line else None)),
        evidence=_bounded_evidence(evidence),
        observed_from=observed_from,
        observed_to=observed_to,
        line_id=line.pk if line else None,
        furnace_id=furnace.pk if furnace else None,
    )
    raise_signals([candidate], now=now)
    return Signal.objects.get(
        kind=kind, subject_key=candidate.subject_key, observed_from=observed_from, observed_to=observed_to
    )


def raise_signals(candidates: Iterable[Candidate], *, now: dt.datetime) -> int:
    """Raise many signals at once (the screening): those not raised before are inserted in batches with
    their history events and audit rows, and the people concerned told (notify_many, one message per
    person and signal however often it runs). Returns how many were new."""
    made = 0
    batch: list[Candidate] = []
    recipients = _Recipients()
    for candidate in candidates:
        batch.append(candidate)
        if len(batch) >= INSERT_BATCH:
            made += _raise_batch(batch, now, recipients)
            batch = []
    if batch:
        made += _raise_batch(batch, now, recipients)
    return made


def _raise_batch(batch: list[Candidate], now: dt.datetime, recipients: _Recipients) -> int:
    with transaction.atomic():
        unique = {c.key: c for c in batch}
        keys = {c.subject_key for c in unique.values()}
        existing = set(
            Signal.objects.filter(
                subject_key__in=keys, kind__in={c.kind for c in unique.values()}
            ).values_list("kind", "subject_key", "observed_from", "observed_to")
        )
        new = [c for k, c in unique.items() if k not in existing]
        if not new:
            return 0
        Signal.objects.bulk_create(
            [
                Signal(
                    kind=c.kind,
                    subject_key=c.subject_key,
                    enterprise_id=c.enterprise_id,
                    line_id=c.line_id,
                    furnace_id=c.furnace_id,
                    territory_id=c.territory_id,
                    dimension=c.dimension,
                    evidence=c.evidence,
                    observed_from=c.observed_from,
                    observed_to=c.observed_to,
                    raised_at=now,
                )
                for c in new
            ],
            ignore_conflicts=True,  # another run raised it in between: still one signal
        )
        made = Signal.objects.filter(subject_key__in={c.subject_key for c in new}, raised_at=now).values_list(
            "pk",
            "kind",
            "subject_key",
            "observed_from",
            "observed_to",
            "territory_id",
            "dimension",
            "enterprise__name",
        )
        wanted = {c.key for c in new}
        rows = [row for row in made if (row[1], row[2], row[3], row[4]) in wanted]
        Event.objects.bulk_create(
            [Event(signal_id=row[0], action="raise", at=now, data={"kind": row[1]}) for row in rows]
        )
        entries: list[Entry] = [
            ("signals.raise", "signals.signal", str(row[0]), "", {"kind": row[1], "subject": row[2]})
            for row in rows
        ]
        record_many(entries)
        labels = dict(SignalKind.choices)
        notify_many(
            (
                Notice(
                    recipients=recipients.of(row[5], row[6], row[1]),
                    kind=MessageKind.PROPOSAL,
                    title=_("Signal for re-inspection: %(enterprise)s — %(kind)s")
                    % {"enterprise": row[7], "kind": labels[row[1]]},
                    body=_(
                        "Observed %(start)s to %(end)s. A proposal: a person decides whether to re-inspect."
                    )
                    % {"start": row[3], "end": row[4]},
                    key=f"signal:{row[0]}",
                    object_type="signals.signal",
                    object_id=str(row[0]),
                    url=reverse("signal-detail", args=[row[0]]),
                )
                for row in rows
            ),
            now=now,
        )
        return len(rows)


class _Recipients:
    """The people told of a signal: the competent department's officers (for a furnace, the 工信局's),
    the office and the districts that see the territory — looked up once per territory and dimension."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str, bool], list[Person]] = {}

    def of(self, territory: str, dimension: str, kind: str) -> list[Person]:
        furnace = kind in scope.FURNACE_SIGNALS
        key = (territory, dimension, furnace)
        if key not in self._found:
            people = list(office_people(territory)) + list(people_of_territory(territory))
            competent = competent_people(dimension, territory)
            if furnace:
                competent = [p for p in competent if scope.may_verify_furnace(p)]
            self._found[key] = people + competent
        return self._found[key]


def _decide(signal: Signal, *, by: User, status: str, reason: str, now: dt.datetime) -> Signal:
    """Compare-and-set from open: of two officers deciding at once, one succeeds."""
    person = _person(by)
    if not scope.may_decide_signal(person, signal):
        raise SignalsError(_("Only the competent department or the office decides on this signal."))
    updated = Signal.objects.filter(pk=signal.pk, status=SignalStatus.OPEN).update(
        status=status, decided_by=by, decided_at=now, reason=reason
    )
    if not updated:
        raise SignalsError(_("This signal has already been decided."))
    signal.refresh_from_db()
    return signal


def confirm_signal(*, signal: Signal, by: User, reason: str = "", now: dt.datetime) -> Signal:
    """A person confirms the signal on the record: it asks for a re-inspection (回头看). The cases app has no
    action that asks for one (it records a visit once made, `record_reinspection`), so the confirmation is
    recorded here, names the line's exit case, and the district and the competent department are told."""
    reason = (reason or "").strip()[:REASON_MAX]
    with transaction.atomic():
        signal = _decide(signal, by=by, status=SignalStatus.CONFIRMED, reason=reason, now=now)
        case = exit_case_of(signal.line_id)
        data = {"kind": signal.kind, "case": case.pk if case else None}
        _event(by=by, now=now, action="confirm", reason=reason, data=data, signal=signal)
        record(actor=by, action="signals.confirm", obj=signal, reason=reason, data=data)
        recipients = list(people_of_territory(signal.territory_id)) + competent_people(
            signal.dimension, signal.territory_id
        )
        notify(
            recipients,
            MessageKind.NOTICE,
            _("Re-inspection asked: %(enterprise)s") % {"enterprise": signal.enterprise.name},
            _("%(kind)s, %(start)s to %(end)s, confirmed by %(person)s.")
            % {
                "kind": signal.get_kind_display(),
                "start": signal.observed_from,
                "end": signal.observed_to,
                "person": by.person.display_name,
            },
            obj=signal,
            url=reverse("case-detail", args=[case.pk])
            if case
            else reverse("signal-detail", args=[signal.pk]),
            key=f"signal-confirmed:{signal.pk}",
            by=by,
            now=now,
        )
        return signal


def dismiss_signal(*, signal: Signal, by: User, reason: str, now: dt.datetime) -> Signal:
    """A person dismisses the signal with a reason (a meter serving the guard house, a data error …)."""
    reason = (reason or "").strip()
    if not reason:
        raise SignalsError(_("Please give the reason for dismissing the signal."))
    if len(reason) > REASON_MAX or "\x00" in reason:
        raise SignalsError(_("The reason is too long (at most 2000 characters)."))
    with transaction.atomic():
        signal = _decide(signal, by=by, status=SignalStatus.DISMISSED, reason=reason, now=now)
        _event(by=by, now=now, action="dismiss", reason=reason, data={"kind": signal.kind}, signal=signal)
        record(actor=by, action="signals.dismiss", obj=signal, reason=reason, data={"kind": signal.kind})
        return signal
