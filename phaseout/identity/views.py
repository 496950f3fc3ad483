"""The sign-in pages: password (with the limits), the second factor, password change and expiry,
sign-out, and the security administrator's page of sign-in limits."""

from __future__ import annotations

import ipaddress
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from phaseout.identity import actions, devices, limits
from phaseout.identity.factors import FactorRefused, second_factor
from phaseout.identity.middleware import step
from phaseout.orgs.access import allow, public, signed_in
from phaseout.orgs.models import Role
from phaseout.orgs.passwords import must_change_password, password_expired
from phaseout.web import client_ip, current_user

EXPIRED = {
    "idle": gettext_lazy(
        "You were signed out after %(minutes)d minutes without activity. Please sign in again."
    ),
    "max_age": gettext_lazy(
        "You were signed out: a session lasts at most %(hours)d hours. Please sign in again."
    ),
}


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return "/"


class LoginView(auth_views.LoginView):
    """The password step, behind the sign-in limits; every attempt is recorded."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        from django.conf import settings

        context = super().get_context_data(**kwargs)
        reason = self.request.GET.get("expired", "")
        if reason in EXPIRED:
            context["expired_message"] = EXPIRED[reason] % {
                "minutes": settings.SESSION_IDLE_MINUTES,
                "hours": settings.SESSION_MAX_HOURS,
            }
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = str(request.POST.get("username", ""))[:150].strip()
        address = client_ip(request)
        device = devices.nonce(request, username)
        refusal = limits.refusal(username=username, address=address, now=timezone.now(), device=device)
        if refusal is not None:
            actions.login_refused(username=username, address=address, refusal=refusal)
            form = self.get_form_class()(request, data=None)
            form.initial = {"username": username}
            return self.render_to_response(self.get_context_data(form=form, refusal=refusal.message))
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        username = str(self.request.POST.get("username", ""))[:150].strip()
        actions.login_failed(
            username=username,
            address=client_ip(self.request),
            now=timezone.now(),
            device=devices.nonce(self.request, username),
        )
        return super().form_invalid(form)

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        complete = actions.log_in(request=self.request, user=user)
        response = redirect(self.get_success_url())
        if complete:  # no second factor required: this browser is now the person's device
            devices.issue(response, user.get_username())
        return response


public(LoginView)


@public
def admin_login(request: HttpRequest) -> HttpResponse:
    """The Django admin signs in through the platform's login page (limits, second factor, audit); a
    signed-in account of another role is refused (403), not sent to sign in again (a loop)."""
    from django.contrib.auth.views import redirect_to_login

    from phaseout.orgs.adminsite import refuse_signed_in_other_roles

    refuse_signed_in_other_roles(request)
    return redirect_to_login(request.GET.get("next", "/admin/"))


@require_POST
@public
def logout_view(request: HttpRequest) -> HttpResponseBase:
    actions.log_out(request=request)
    return redirect("login")


SM2_WRONG = gettext_lazy(
    "The signature does not verify: have your key sign the text shown now, which changes each time."
)


class TokenForm(forms.Form):
    token = forms.CharField(
        label=gettext_lazy("Code"),
        # six digits (TOTP), or an SM2 key's answer: its certificate (base64, at most 8 KB of DER) or
        # public key, and the signature in hex
        max_length=12_000,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


def _with_device_cookie(response: HttpResponse, user: User) -> HttpResponse:
    """The sign-in is complete: the browser gets a new device cookie for the person."""
    devices.issue(response, user.get_username())
    return response


@signed_in
def otp_verify(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    factor = second_factor()
    if not factor.enrolled(user):
        return redirect("otp-enrol")
    form = TokenForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        username, address = user.get_username(), client_ip(request)
        device = devices.nonce(request, username)
        # The second factor is behind the same limits as the password: its failures count there too.
        limited = limits.refusal(username=username, address=address, now=timezone.now(), device=device)
        refusal = factor.refusal(user)
        if limited is not None:
            actions.login_refused(username=username, address=address, refusal=limited, user=user)
            error = limited.message
        elif refusal:
            error = refusal
        else:
            try:
                verified = actions.verify_second_factor(
                    request=request,
                    user=user,
                    response=form.cleaned_data["token"],
                    address=address,
                    device=device,
                )
            except FactorRefused as exc:
                verified, error = None, exc.message
            if verified:
                return _with_device_cookie(redirect(_next(request)), user)
            error = error or (
                str(SM2_WRONG) if factor.kind == "sm2" else _("The code is wrong or has expired.")
            )
    context = factor.begin_verification(user)  # a fresh challenge for a key that signs one (SM2)
    return render(
        request, "identity/verify.html", {**context, "form": form, "error": error, "next": _next(request)}
    )


@signed_in
def otp_enrol(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    factor = second_factor()
    if factor.enrolled(user) and step(user, timezone.now()) == "otp-verify":
        return redirect("otp-verify")
    if factor.enrolled(user):
        messages.info(request, _("Your second factor is set up. Ask the security administrator to reset it."))
        return redirect("home")
    form = TokenForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            enrolled = actions.enrol_second_factor(
                request=request,
                user=user,
                response=form.cleaned_data["token"],
                address=client_ip(request),
                device=devices.nonce(request, user.get_username()),
            )
        except FactorRefused as exc:
            enrolled, error = None, exc.message
        if enrolled:
            messages.success(request, _("Your second factor is set up."))
            return _with_device_cookie(redirect(_next(request)), user)
        error = error or (
            str(SM2_WRONG)
            if factor.kind == "sm2"
            else _(
                "The code is wrong or has expired: check the time on your phone and enter the current code."
            )
        )
    template, context = factor.begin_enrolment(user)
    return render(request, template, {**context, "form": form, "error": error, "next": _next(request)})


class OwnPasswordForm(PasswordChangeForm):
    pass


@signed_in
def password_change(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    form = OwnPasswordForm(user, request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            actions.change_password(request=request, user=user, password=form.cleaned_data["new_password1"])
            messages.success(request, _("Your password has been changed."))
            return redirect(_next(request))
        if "old_password" in form.errors:
            actions.password_change_refused(user=user)
    reason = ""
    if must_change_password(user):
        reason = _("Your password was set by the security administrator: choose your own before you go on.")
    elif password_expired(user, timezone.now()):
        reason = _("Your password has expired: choose a new one before you go on.")
    return render(
        request, "identity/password_change.html", {"form": form, "reason": reason, "next": _next(request)}
    )


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


@allow(Role.SECURITY_ADMIN)
def sign_in_limits(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        username = str(request.POST.get("username", ""))[:150].strip()
        address = str(request.POST.get("address", ""))[:45].strip()
        if address and not _is_address(address):
            messages.error(request, _("This is not an IP address."))
        elif username and not User.objects.filter(username=username).exists() and not address:
            messages.error(request, _("No such account."))
        elif username or address:
            actions.unlock(by=current_user(request), username=username, address=address)
            messages.success(request, _("The sign-in limits were lifted."))
            return redirect("sign-in-limits")
    return render(request, "identity/limits.html", limits.blocked(timezone.now()))
