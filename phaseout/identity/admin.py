"""Second-factor devices hold their secrets: they are not the system administrator's to see or change
(three-role separation). The security administrator resets a person's second factor on the people pages."""

from django.contrib import admin
from django_otp.plugins.otp_totp.models import TOTPDevice

if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)
