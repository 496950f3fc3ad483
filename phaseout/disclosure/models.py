from __future__ import annotations

import unicodedata

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from phaseout.crypto.fields import EncryptedTextField


class ListKind(models.TextChoices):
    YELLOW = "yellow", _("Yellow-card list: enterprises under a rectification order")
    RED = "red", _("Red-card list: closed after failing rectification")
    EXITED = "exited", _("Enterprises, equipment and capacity exited this year")
    OVER_EMISSION = "over_emission", _("Enterprises over emission standards")
    SERIOUS_OVER_EMISSION = "serious_emission", _("Enterprises whose over-emission is serious")
    SEALED = "sealed", _("Elimination-class equipment sealed, awaiting dismantling")
    ENERGY = "energy", _("Energy-conservation inspections: violators named")
    QUALITY = "quality", _("Unqualified products and their producers (quality sampling)")
    LICENCES = "licences", _("Enterprises holding production licences")


class Snapshot(models.Model):
    """A dated copy of a list: drafted from the records, approved by the office, then published;
    withdrawn with a reason. Every snapshot is kept: that is the list's history."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        APPROVED = "approved", _("Approved")
        PUBLISHED = "published", _("Published")
        SUPERSEDED = "superseded", _("Replaced by a later publication")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    kind = models.CharField(_("list"), max_length=20, choices=ListKind.choices)
    as_of = models.DateField(_("as of"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawal_reason = models.TextField(blank=True)
    # How many entries the snapshot holds (set when drafted), and how many the public sees: counted at
    # publication, less each entry withdrawn since. Lists of snapshots read these, not the entries.
    entry_count = models.PositiveIntegerField(default=0)
    public_entries = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["kind", "-id"]
        verbose_name = _("list snapshot")
        verbose_name_plural = _("list snapshots")
        constraints = [
            models.CheckConstraint(
                name="snapshot_approved_with_who",
                condition=models.Q(status="draft")
                | models.Q(approved_by__isnull=False, approved_at__isnull=False),
            ),
            models.CheckConstraint(
                name="snapshot_withdrawn_with_reason",
                condition=~models.Q(status="withdrawn")
                | (models.Q(withdrawn_at__isnull=False) & ~models.Q(withdrawal_reason="")),
            ),
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(status="published"),
                name="snapshot_one_published_per_list",
            ),
        ]
        indexes = [models.Index(fields=["kind", "status", "-id"], name="snapshot_public_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.as_of:%Y-%m-%d}"


def search_text(value: str) -> str:
    """The form an enterprise name is searched in: full-width folded to half-width (NFKC), lower case,
    no surrounding space. The portal normalises a query the same way."""
    return unicodedata.normalize("NFKC", value).strip().lower()


def bigrams_of(search: str) -> str:
    """Every two-character window of the search text, each a word between spaces (" 江门 门市 市金 "): a
    two-character query is then a whole word, which a trigram index can find (pg_trgm pads words), where
    a two-character substring of `search` yields no trigram at all."""
    return " " + " ".join(search[i : i + 2] for i in range(len(search) - 1)) + " "


class Decision(models.TextChoices):
    UNDECIDED = "undecided", _("Undecided")
    APPROVED = "approved", _("Approved for publication")
    EXCLUDED = "excluded", _("Excluded")
    WITHDRAWN = "withdrawn", _("Withdrawn after publication")


class Entry(models.Model):
    """One entry of a snapshot, in the list's order. Only what the public may see, plus the case number
    and the owning department's code for the office. Each entry is decided on before the snapshot is
    approved; only approved entries are published; a withdrawn entry stays in the record as withdrawn."""

    snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="entries")
    position = models.PositiveIntegerField()
    enterprise = models.TextField(_("enterprise"), blank=True)
    uscc = models.TextField(_("USCC"), blank=True)
    territory = models.TextField(_("territory"), blank=True)
    industry = models.TextField(_("industry"), blank=True)
    equipment = models.TextField(_("equipment"), blank=True)
    capacity = models.TextField(_("capacity"), blank=True)
    basis = models.TextField(_("basis"), blank=True)
    legal_basis = models.TextField(_("legal basis"), blank=True)
    measured = models.TextField(_("measured"), blank=True)
    limit = models.TextField(_("limit"), blank=True)
    since = models.TextField(_("since"), blank=True)
    case = models.TextField(_("case"), blank=True)
    department = models.TextField(_("department code"), blank=True)
    search = models.TextField(blank=True)  # search_text(enterprise)
    bigrams = models.TextField(blank=True)  # bigrams_of(search)
    decision = models.CharField(
        _("decision"), max_length=10, choices=Decision.choices, default=Decision.UNDECIDED
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)

    class Meta:
        ordering = ["snapshot", "position"]
        verbose_name = _("list entry")
        verbose_name_plural = _("list entries")
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "position"], name="entry_one_per_position"),
            models.CheckConstraint(
                name="entry_decided_with_who",
                condition=models.Q(decision="undecided")
                | models.Q(decided_by__isnull=False, decided_at__isnull=False),
            ),
            models.CheckConstraint(
                name="entry_excluded_or_withdrawn_with_reason",
                condition=~models.Q(decision__in=["excluded", "withdrawn"]) | ~models.Q(reason=""),
            ),
        ]
        indexes = [
            # The public page (a snapshot's approved entries in order), the office's filter by decision,
            # and "is any entry undecided".
            models.Index(fields=["snapshot", "decision", "position"], name="entry_decision_idx"),
            models.Index(fields=["snapshot", "uscc"], name="entry_uscc_idx"),
            # On PostgreSQL a trigram index on `search` serves name substrings (migration 0004).
        ]

    def __str__(self) -> str:
        return f"{self.snapshot_id}#{self.position} {self.enterprise}"


class EntryEvent(models.Model):
    """Append-only history of an entry's decisions: approved, excluded, withdrawn; who, when and why."""

    entry = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=20)
    from_decision = models.CharField(max_length=10, choices=Decision.choices)
    to_decision = models.CharField(max_length=10, choices=Decision.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("list entry event")
        verbose_name_plural = _("list entry events")

    def __str__(self) -> str:
        return f"{self.entry_id} {self.action}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise RuntimeError("list entry events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise RuntimeError("list entry events are append-only")


class ErrorReport(models.Model):
    """Someone says an entry in a published list is wrong; routed to the department that owns it."""

    snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="error_reports")
    uscc = models.CharField(_("USCC of the entry"), max_length=18, blank=True)
    text = models.TextField(_("what is wrong"))
    # A member of the public's contact: encrypted at rest (SM4, phaseout.crypto).
    contact = EncryptedTextField(
        _("contact (optional)"),
        purpose="disclosure.error_contact",
        legacy="plaintext",
        max_length=100,
        blank=True,
    )
    department = models.ForeignKey("orgs.Department", on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("error report")
        verbose_name_plural = _("error reports")

    def __str__(self) -> str:
        return f"{self.snapshot_id}: {self.uscc}"
