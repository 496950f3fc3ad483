from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from phaseout.choices import QuickDisplay
from phaseout.rules.dimensions import Dimension as RuleDimension


class Dimension(models.TextChoices):
    ENERGY = RuleDimension.ENERGY.value, _("Energy")
    ENVIRONMENT = RuleDimension.ENVIRONMENT.value, _("Environment")
    QUALITY = RuleDimension.QUALITY.value, _("Quality")
    SAFETY = RuleDimension.SAFETY.value, _("Safety")
    TECHNOLOGY = RuleDimension.TECHNOLOGY.value, _("Technology")


class Territory(models.Model):
    """An administrative division with its GB/T 2260 code."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("Province")
        CITY = "city", _("City")
        COUNTY = "county", _("County or district")

    code = models.CharField(_("division code"), max_length=6, primary_key=True)
    name = models.CharField(_("name"), max_length=40)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent"),
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("territory")
        verbose_name_plural = _("territories")

    def __str__(self) -> str:
        return self.name

    def subtree_codes(self) -> list[str]:
        """The territory's code and those of everything under it, to any depth (a province: its cities
        and their counties; a few hundred codes at most, read in one query). Kept on the instance: a
        page that filters several lists by a person's scope reads them once (the instance lives as long
        as the request that loaded it; the territories change only by migration or the admin)."""
        codes: list[str] | None = self.__dict__.get("_subtree_codes")
        if codes is None:
            below = Territory.objects.filter(models.Q(parent=self) | models.Q(parent__parent=self))
            codes = self.__dict__["_subtree_codes"] = [self.code, *below.values_list("code", flat=True)]
        return list(codes)


class Department(models.Model):
    """A member unit of the coordination group, with the dimensions it enforces."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=60)
    territory = models.ForeignKey(Territory, on_delete=models.PROTECT, verbose_name=_("territory"))
    dimensions = models.JSONField(_("dimensions enforced"), default=list, blank=True)
    is_office = models.BooleanField(_("hosts the coordination office"), default=False)
    # The prefix of the department's document numbers, e.g. 江发改 in 江发改〔2026〕12号.
    doc_prefix = models.CharField(_("document number prefix"), max_length=20, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return self.name

    def dimension_labels(self) -> str:
        return "、".join(str(Dimension(d).label) for d in self.dimensions)


class Role(models.TextChoices):
    OFFICE = "office", _("Coordination office")
    DEPARTMENT = "department", _("Member department")
    DISTRICT = "district", _("County or district government")
    ENTERPRISE = "enterprise", _("Enterprise")
    AUDITOR = "auditor", _("Auditor")
    SECURITY_ADMIN = "security_admin", _("Security administrator")
    SYSTEM_ADMIN = "system_admin", _("System administrator")
    INTAKE = "intake", _("Tip-off intake officer")
    # The province's coordination office (省工业和信息化厅): reads every city of its province and reviews
    # the year summaries the cities hand up; it takes no step on a city's own records.
    PROVINCE = "province", _("Provincial coordination office")


# The three administrators of 等保 three-role separation. Each is a role of its own (a person has one
# role), none has a unit, so none carries a business scope beside it.
ADMINISTRATOR_ROLES = (Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDITOR)


class Person(QuickDisplay, models.Model):
    """A user's place in the organisation: role and the unit that sets their data scope."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="person")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("department")
    )
    territory = models.ForeignKey(
        Territory, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("territory")
    )
    enterprise = models.ForeignKey(
        "registry.Enterprise", on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("enterprise")
    )
    display_name = models.CharField(_("display name"), max_length=60)
    # HMAC-SM3 over the user, role and unit (phaseout.orgs.integrity), written on every save.
    acl_mac = models.CharField(_("access-control MAC"), max_length=64, blank=True, editable=False)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        constraints = [
            models.CheckConstraint(
                name="person_department_role_has_department",
                condition=~models.Q(role="department") | models.Q(department__isnull=False),
            ),
            models.CheckConstraint(
                name="person_province_role_has_department",
                condition=~models.Q(role="province") | models.Q(department__isnull=False),
            ),
            models.CheckConstraint(
                name="person_district_role_has_territory",
                condition=~models.Q(role="district") | models.Q(territory__isnull=False),
            ),
            models.CheckConstraint(
                name="person_enterprise_role_has_enterprise",
                condition=~models.Q(role="enterprise") | models.Q(enterprise__isnull=False),
            ),
            models.CheckConstraint(
                name="person_administrator_has_no_unit",
                condition=~models.Q(role__in=[r.value for r in ADMINISTRATOR_ROLES])
                | models.Q(department__isnull=True, territory__isnull=True, enterprise__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args: Any, **kwargs: Any) -> None:
        from phaseout.orgs.integrity import seal

        self.acl_mac = seal(self)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "acl_mac"}
        super().save(*args, **kwargs)

    @property
    def dimensions(self) -> list[str]:
        return list(self.department.dimensions) if self.department else []


class Credentials(models.Model):
    """The state of a user's password (等保 身份鉴别): when it was last set, and whether the person must
    choose a new one at the next sign-in (an initial password, or one the security administrator reset).

    A user without a row counts from the day the account was created and is not forced to change."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credentials", primary_key=True
    )
    password_changed_at = models.DateTimeField(_("password changed at"))
    must_change_password = models.BooleanField(_("must change the password"), default=False)
    # When the security administrator last turned the account on again: a dormant account re-enabled
    # counts its idle days from here, not from its last sign-in (phaseout.identity.dormant).
    reactivated_at = models.DateTimeField(_("reactivated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("credentials")
        verbose_name_plural = _("credentials")

    def __str__(self) -> str:
        return str(self.user)


class PasswordHistory(models.Model):
    """The hashes of a user's earlier passwords, so that the last few are not chosen again."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_history"
    )
    password = models.CharField(_("password hash"), max_length=128)
    set_at = models.DateTimeField(_("set at"))

    class Meta:
        ordering = ["-set_at", "-id"]
        verbose_name = _("earlier password")
        verbose_name_plural = _("earlier passwords")
        indexes = [models.Index(fields=["user", "-set_at"], name="password_history_user_idx")]

    def __str__(self) -> str:
        return f"{self.user} {self.set_at:%Y-%m-%d}"
