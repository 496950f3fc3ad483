"""Identity: signing in (password, then a second factor), the sign-in limits, sessions' idle and absolute
age, password change and expiry (等保 L3-CES1-01, 02, 04, 32).

An app without models of its own: passwords' history and state live in orgs (Credentials,
PasswordHistory), second-factor devices in django-otp, and the sign-in limits are counted from the audit
trail itself (phaseout/identity/limits.py).
"""
