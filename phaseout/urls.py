from django.contrib import admin
from django.urls import path, register_converter

from phaseout import accounts, home
from phaseout.cases import views as cases
from phaseout.complaints import views as complaints
from phaseout.credit import views as credit
from phaseout.disclosure import views as disclosure
from phaseout.identity import views as identity
from phaseout.messaging import views as messaging
from phaseout.monitoring import check_views as monitoring_checks
from phaseout.monitoring import views as monitoring
from phaseout.plans import views as plans
from phaseout.prices import views as prices
from phaseout.province import views as province
from phaseout.registry import views as registry
from phaseout.reports import views as reports
from phaseout.signals import views as signals
from phaseout.standards import views as standards


class DocumentFormat:
    """A decision document's extension: docx or pdf, nothing else (a .html or .svg of it is not found)."""

    regex = "docx|pdf"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(DocumentFormat, "docfmt")

urlpatterns = [
    path("", home.home, name="home"),
    path("accounts/login/", identity.LoginView.as_view(), name="login"),
    path("accounts/logout/", identity.logout_view, name="logout"),
    path("accounts/password/", identity.password_change, name="password-change"),
    path("accounts/second-factor/", identity.otp_verify, name="otp-verify"),
    path("accounts/second-factor/new/", identity.otp_enrol, name="otp-enrol"),
    path("people/sign-in-limits/", identity.sign_in_limits, name="sign-in-limits"),
    path("dashboard/", home.dashboard, name="dashboard"),
    path("messages/", messaging.message_list, name="message-list"),
    path("messages/<int:pk>/", messaging.message_detail, name="message-detail"),
    path("messages/read-all/", messaging.message_read_all, name="message-read-all"),
    path("messages/preferences/", messaging.preferences, name="message-preferences"),
    path("messages/outbox/", messaging.outbox, name="message-outbox"),
    path("audit/", home.audit_log, name="audit-log"),
    path("audit/export.xlsx", home.audit_export, name="audit-export"),
    path("people/", accounts.people, name="people"),
    path("people/new/", accounts.person_create, name="person-create"),
    path("people/<int:pk>/", accounts.person_edit, name="person-edit"),
    path("people/departments/", accounts.departments, name="departments"),
    path("enterprises/", registry.enterprise_list, name="enterprise-list"),
    path("enterprises/new/", registry.enterprise_create, name="enterprise-create"),
    path("lines/", registry.line_list, name="line-list"),
    path("enterprises/import/", registry.import_upload, name="import-upload"),
    path("enterprises/import/<int:pk>/", registry.import_detail, name="import-detail"),
    path("enterprises/import/<int:pk>/accept/", registry.import_accept, name="import-accept"),
    path("enterprises/<int:pk>/", home.enterprise_detail, name="enterprise-detail"),
    path("enterprises/<int:pk>/edit/", registry.enterprise_edit, name="enterprise-edit"),
    path("enterprises/<int:enterprise_id>/lines/new/", registry.line_edit, name="line-create"),
    path("enterprises/<int:enterprise_id>/lines/<int:pk>/", registry.line_detail, name="line-detail"),
    path("enterprises/<int:enterprise_id>/lines/<int:pk>/edit/", registry.line_edit, name="line-edit"),
    path("enterprises/<int:enterprise_id>/licences/new/", registry.licence_edit, name="licence-create"),
    path(
        "enterprises/<int:enterprise_id>/licences/<int:pk>/edit/", registry.licence_edit, name="licence-edit"
    ),
    path(
        "enterprises/<int:enterprise_id>/inspections/new/", cases.inspection_create, name="inspection-create"
    ),
    path("inspections/", cases.inspection_list, name="inspection-list"),
    path("inspections/<int:pk>/", cases.inspection_detail, name="inspection-detail"),
    path("cases/", cases.case_list, name="case-list"),
    path("cases/<int:pk>/", cases.case_detail, name="case-detail"),
    path("cases/<int:pk>/act/<slug:action>/", cases.case_act, name="case-act"),
    path("cases/<int:pk>/evidence/", cases.case_evidence, name="case-evidence"),
    path("cases/<int:pk>/file.zip", cases.case_file, name="case-file"),
    path("cases/<int:pk>/file.pdf", cases.case_file_pdf, name="case-file-pdf"),
    path("cases/proposals/", cases.proposals, name="case-proposals"),
    path("cases/paths/", cases.paths_help, name="case-paths"),
    path("decisions/<int:pk>.<docfmt:fmt>", cases.decision_document, name="decision-document"),
    path("cases/<int:pk>/extension-request/", cases.extension_request, name="extension-request"),
    path("extension-requests/<int:pk>/decide/", cases.extension_decide, name="extension-decide"),
    path("measures/<int:pk>/done/", cases.measure_done, name="measure-done"),
    path("cases/<int:pk>/measures/done/", cases.measures_done, name="measures-done"),
    path("evidence/<int:pk>/", cases.evidence_download, name="evidence-download"),
    path("standards/", standards.rulebooks, name="rulebooks"),
    path("standards/what-if/", standards.what_if, name="what-if"),
    path("standards/evaluations/", standards.runs, name="evaluation-runs"),
    path("standards/evaluations/start/", standards.run_start, name="evaluation-start"),
    path("standards/evaluations/<int:pk>/", standards.run_detail, name="evaluation-run"),
    path("standards/<slug:book_id>/", standards.rulebook_detail, name="rulebook-detail"),
    path("prices/", prices.price_measures, name="price-measures"),
    path("prices/<slug:utility>.xlsx", prices.price_export, name="price-export"),
    path("power/import/", signals.power_import, name="power-import"),
    path("power/import/confirm/", signals.power_import_confirm, name="power-import-confirm"),
    path("power/import/<int:pk>/", signals.power_import_detail, name="power-import-detail"),
    path("power/accounts/", signals.accounts, name="power-accounts"),
    path("furnaces/", signals.furnace_list, name="furnace-list"),
    path("furnaces/new/", signals.furnace_create, name="furnace-create"),
    path("furnaces/<int:pk>/", signals.furnace_detail, name="furnace-detail"),
    path("furnaces/<int:pk>/edit/", signals.furnace_edit, name="furnace-edit"),
    path("furnaces/<int:pk>/verify/", signals.furnace_verify, name="furnace-verify"),
    path("signals/", signals.signal_list, name="signal-list"),
    path("signals/<int:pk>/", signals.signal_detail, name="signal-detail"),
    path("plans/", plans.plan_list, name="plan-list"),
    path("plans/upload/", plans.plan_upload, name="plan-upload"),
    path("plans/<int:pk>/", plans.plan_detail, name="plan-detail"),
    path("plans/<int:pk>/map/", plans.plan_map, name="plan-map"),
    path("plans/<int:pk>/times/<int:expression_id>/", plans.plan_review_time, name="plan-review-time"),
    path("plans/<int:pk>/confirm/", plans.plan_confirm, name="plan-confirm"),
    path("plans/<int:pk>/approve/", plans.plan_approve, name="plan-approve"),
    path("plans/<int:pk>/provincial-plan/", plans.plan_link_provincial, name="plan-link-provincial"),
    path("summaries/", province.summary_list, name="summary-list"),
    path("summaries/draw-up/", province.summary_draw_up, name="summary-draw-up"),
    path("summaries/<int:pk>/", province.summary_detail, name="summary-detail"),
    path("summaries/<int:pk>/approve/", province.summary_approve, name="summary-approve"),
    path("summaries/<int:pk>/hand-up/", province.summary_hand_up, name="summary-hand-up"),
    path("summaries/<int:pk>/exchange.json", province.summary_export, name="summary-export"),
    path("summaries/<int:pk>/<slug:decision>/", province.summary_review, name="summary-review"),
    path("province/", province.province_progress, name="province-progress"),
    path("province/exchange/", province.exchange_import, name="exchange-import"),
    path("province/duties/", province.provincial_duties, name="provincial-duties"),
    path("province/keys/", province.city_keys, name="city-keys"),
    path("province/keys/register/", province.city_key_register, name="city-key-register"),
    path("province/keys/<int:pk>/retire/", province.city_key_retire, name="city-key-retire"),
    path("plans/<int:pk>/supervise/", plans.plan_supervise, name="plan-supervise"),
    path("plans/<int:pk>/task-failed/", plans.plan_task_failed, name="plan-task-failed"),
    path("supervisions/<int:pk>/read/", plans.supervision_acknowledge, name="supervision-acknowledge"),
    path("plans/<int:pk>/tasks/<int:task_id>/edit/", plans.task_edit, name="task-edit"),
    path("submissions/", plans.my_submissions, name="my-submissions"),
    path("programmes/", plans.programme_list, name="programme-list"),
    path("programmes/<int:pk>/", plans.programme_detail, name="programme-detail"),
    path("submissions/<int:pk>/submit/", plans.submission_submit, name="submission-submit"),
    path("submissions/<int:pk>/", plans.submission_detail, name="submission-detail"),
    path(
        "submissions/<int:pk>/accept/",
        plans.submission_review,
        {"decision": "accept"},
        name="submission-accept",
    ),
    path(
        "submissions/<int:pk>/return/",
        plans.submission_review,
        {"decision": "return"},
        name="submission-return",
    ),
    path("submissions/<int:pk>/v<int:number>/file", plans.submission_file, name="submission-file"),
    path("submissions/<int:pk>/v<int:number>/view.pdf", plans.submission_pdf, name="submission-pdf"),
    path("public/", disclosure.portal, name="portal"),
    path("public/tipoff/", complaints.tipoff_form, name="tipoff-form"),
    path("public/tipoff/track/", complaints.tipoff_track, name="tipoff-track"),
    path("public/<slug:kind>/", disclosure.public_list, name="public-list"),
    path("public/<slug:kind>.<slug:fmt>", disclosure.public_export, name="public-export"),
    path("public/<slug:kind>/report/", disclosure.public_report, name="public-report"),
    path("api/tipoffs/", complaints.tipoff_api, name="tipoff-api"),
    path("api/openapi.json", complaints.openapi, name="openapi"),
    path("tipoffs/", complaints.tipoff_list, name="tipoff-list"),
    path("tipoffs/<int:pk>/", complaints.tipoff_detail, name="tipoff-detail"),
    path("monitoring/checks/", monitoring_checks.check_list, name="monitoring-checks"),
    path("monitoring/checks/<int:pk>/", monitoring_checks.check_detail, name="monitoring-check"),
    path(
        "monitoring/checks/<int:pk>/<slug:decision>/",
        monitoring_checks.check_decide,
        name="monitoring-check-decide",
    ),
    path("credit/", credit.referrals, name="referrals"),
    path("credit/<int:pk>/approve/", credit.referral_approve, name="referral-approve"),
    path("credit/acknowledge/<int:pk>/", credit.acknowledge, name="acknowledge"),
    path("credit/export.<slug:fmt>", credit.referral_export, name="referral-export"),
    path("licences/<int:pk>/cancel/", credit.licence_cancel, name="licence-cancel"),
    path("lists/", disclosure.lists_admin, name="lists-admin"),
    path("lists/errors/", disclosure.error_reports, name="error-reports"),
    path("lists/draft/", disclosure.list_draft, name="list-draft"),
    path("lists/<int:pk>/", disclosure.list_snapshot, name="list-snapshot"),
    path("lists/<int:pk>/entries/", disclosure.list_entries, name="list-entries"),
    path("lists/entries/<int:pk>/withdraw/", disclosure.entry_withdraw, name="entry-withdraw"),
    path("lists/<int:pk>/<slug:action>/", disclosure.list_act, name="list-act"),
    path("reports/ledger/", reports.exit_ledger, name="exit-ledger"),
    path("reports/aggregates/", reports.aggregates, name="aggregates"),
    path("reports/stage/", reports.stage_report, name="stage-report"),
    path("reports/charts/", reports.charts, name="charts"),
    path("reports/summary/", reports.summary, name="year-summary"),
    path("monitoring/", monitoring.key_units, name="monitoring-units"),
    path("monitoring/points/", monitoring.points, name="monitoring-points"),
    path("monitoring/points/<int:pk>/", monitoring.point_detail, name="monitoring-point"),
    path("admin/login/", identity.admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
]

handler404 = "phaseout.web.not_found"
