from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_POST

from phaseout.orgs.access import public


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


public(LoginView)


@require_POST
@public
def logout_view(request: HttpRequest) -> HttpResponseBase:
    return auth_views.LogoutView.as_view()(request)
