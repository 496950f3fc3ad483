from django.contrib import admin
from django.urls import path

from phaseout import accounts, home
from phaseout.cases import views as cases
from phaseout.complaints import views as complaints
from phaseout.credit import views as credit
from phaseout.disclosure import views as disclosure
from phaseout.identity import views as identity
from phaseout.plans import views as plans
from phaseout.prices import views as prices
from phaseout.registry import views as registry
from phaseout.reports import views as reports
from phaseout.standards import views as standards

urlpatterns = [
    path("", home.home, name="home"),
    path("accounts/login/", identity.LoginView.as_view(), name="login"),
    path("accounts/logout/", identity.logout_view, name="logout"),
    path("accounts/password/", identity.password_change, name="password-change"),
    path("accounts/second-factor/", identity.otp_verify, name="otp-verify"),
    path("accounts/second-factor/new/", identity.otp_enrol, name="otp-enrol"),
    path("people/sign-in-limits/", identity.sign_in_limits, name="sign-in-limits"),
    path("dashboard/", home.dashboard, name="dashboard"),
    path("audit/", home.audit_log, name="audit-log"),
    path("people/", accounts.people, name="people"),
    path("people/new/", accounts.person_create, name="person-create"),
    path("people/<int:pk>/", accounts.person_edit, name="person-edit"),
    path("enterprises/", registry.enterprise_list, name="enterprise-list"),
    path("enterprises/new/", registry.enterprise_create, name="enterprise-create"),
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
    path("inspections/<int:pk>/", cases.inspection_detail, name="inspection-detail"),
    path("cases/", cases.case_list, name="case-list"),
    path("cases/<int:pk>/", cases.case_detail, name="case-detail"),
    path("cases/<int:pk>/act/<slug:action>/", cases.case_act, name="case-act"),
    path("cases/<int:pk>/evidence/", cases.case_evidence, name="case-evidence"),
    path("cases/<int:pk>/file.zip", cases.case_file, name="case-file"),
    path("cases/<int:pk>/file.pdf", cases.case_file_pdf, name="case-file-pdf"),
    path("cases/proposals/", cases.proposals, name="case-proposals"),
    path("cases/paths/", cases.paths_help, name="case-paths"),
    path("decisions/<int:pk>.<str:fmt>", cases.decision_document, name="decision-document"),
    path("cases/<int:pk>/extension-request/", cases.extension_request, name="extension-request"),
    path("extension-requests/<int:pk>/decide/", cases.extension_decide, name="extension-decide"),
    path("measures/<int:pk>/done/", cases.measure_done, name="measure-done"),
    path("evidence/<int:pk>/", cases.evidence_download, name="evidence-download"),
    path("standards/", standards.rulebooks, name="rulebooks"),
    path("standards/what-if/", standards.what_if, name="what-if"),
    path("standards/evaluations/", standards.runs, name="evaluation-runs"),
    path("standards/evaluations/start/", standards.run_start, name="evaluation-start"),
    path("standards/evaluations/<int:pk>/", standards.run_detail, name="evaluation-run"),
    path("standards/<slug:book_id>/", standards.rulebook_detail, name="rulebook-detail"),
    path("prices/", prices.price_measures, name="price-measures"),
    path("prices/<slug:utility>.xlsx", prices.price_export, name="price-export"),
    path("plans/", plans.plan_list, name="plan-list"),
    path("plans/upload/", plans.plan_upload, name="plan-upload"),
    path("plans/<int:pk>/", plans.plan_detail, name="plan-detail"),
    path("plans/<int:pk>/map/", plans.plan_map, name="plan-map"),
    path("plans/<int:pk>/times/<int:expression_id>/", plans.plan_review_time, name="plan-review-time"),
    path("plans/<int:pk>/confirm/", plans.plan_confirm, name="plan-confirm"),
    path("plans/<int:pk>/supervise/", plans.plan_supervise, name="plan-supervise"),
    path("plans/<int:pk>/task-failed/", plans.plan_task_failed, name="plan-task-failed"),
    path("supervisions/<int:pk>/read/", plans.supervision_acknowledge, name="supervision-acknowledge"),
    path("plans/<int:pk>/tasks/<int:task_id>/edit/", plans.task_edit, name="task-edit"),
    path("submissions/", plans.my_submissions, name="my-submissions"),
    path("programmes/", plans.programme_list, name="programme-list"),
    path("programmes/<int:pk>/", plans.programme_detail, name="programme-detail"),
    path("submissions/<int:pk>/submit/", plans.submission_submit, name="submission-submit"),
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
    path("credit/", credit.referrals, name="referrals"),
    path("credit/<int:pk>/approve/", credit.referral_approve, name="referral-approve"),
    path("credit/acknowledge/<int:pk>/", credit.acknowledge, name="acknowledge"),
    path("credit/export.<slug:fmt>", credit.referral_export, name="referral-export"),
    path("licences/<int:pk>/cancel/", credit.licence_cancel, name="licence-cancel"),
    path("lists/", disclosure.lists_admin, name="lists-admin"),
    path("lists/errors/", disclosure.error_reports, name="error-reports"),
    path("lists/draft/", disclosure.list_draft, name="list-draft"),
    path("lists/<int:pk>/", disclosure.list_snapshot, name="list-snapshot"),
    path("lists/<int:pk>/<slug:action>/", disclosure.list_act, name="list-act"),
    path("reports/ledger/", reports.exit_ledger, name="exit-ledger"),
    path("reports/aggregates/", reports.aggregates, name="aggregates"),
    path("reports/stage/", reports.stage_report, name="stage-report"),
    path("reports/charts/", reports.charts, name="charts"),
    path("reports/summary/", reports.summary, name="year-summary"),
    path("admin/login/", identity.admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
]
