"""Phaseout settings: one file, driven by the environment.

Defaults are production's: DEBUG off, HTTPS only, and the platform does not start without SECRET_KEY
and its keys. The embedded demo (SQLite, tasks run in-process) turns DEBUG on: `make demo`, or
`phaseout demo` / `phaseout serve` on the embedded database (phaseout/cli.py), or DEBUG=true. Production
sets DATABASE_URL (PostgreSQL), CELERY_BROKER_URL (Redis), SECRET_KEY and the keys (deploy/README.md).
"""

import os
from decimal import Decimal
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("PHASEOUT_VAR_DIR", BASE_DIR.parent / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError(
            "SECRET_KEY must be set when DEBUG is false (production: see deploy/README.md; the embedded demo:"
            " `make demo`, or DEBUG=true)"
        )
    SECRET_KEY = "insecure-development-key-only-for-the-embedded-demo"  # noqa: S105

ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "phaseout.audit",
    "phaseout.orgs",
    "phaseout.web",
    "phaseout.registry",
    "phaseout.cases",
    "phaseout.standards",
    "phaseout.prices",
    "phaseout.plans",
    "phaseout.disclosure",
    "phaseout.complaints",
    "phaseout.credit",
    "phaseout.reports",
    "phaseout.monitoring",
    "phaseout.signals",
    "phaseout.province",
    # After the apps that make messages: its job (the outbox drain) runs after their sweeps in one run.
    "phaseout.messaging",
    # Backup and restore (issue 18).
    "phaseout.operations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before sessions, authentication and the views: a cached public page costs two cache reads.
    "phaseout.disclosure.cache.PublicCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "phaseout.web.middleware.ChineseNotFoundMiddleware",
    # A GET on a page that only takes a post: the platform's page with a Chinese message, not an empty 405.
    "phaseout.web.middleware.MethodNotAllowedMiddleware",
    "phaseout.orgs.access.DenyByDefaultMiddleware",
]

ROOT_URLCONF = "phaseout.urls"
WSGI_APPLICATION = "phaseout.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "phaseout.orgs.access.person_context",
                "phaseout.web.menu.menu",
                "phaseout.messaging.context.unread",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'phaseout.sqlite3'}"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0")),
        # A kept connection is checked before a request uses it, so that a restarted database server costs
        # one reconnection instead of one failed request per app server process.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers wait for each other instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    # A file, not memory, so that tests of concurrent officers use real separate connections.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-phaseout.sqlite3")}
elif os.environ.get("TEST_DATABASE_NAME"):
    # The PostgreSQL test database's own name (helpers running side by side keep theirs apart).
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_DATABASE_NAME"]}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Passwords, sign-in limits, second factor and sessions: the identity block at the end.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 30 * 1024 * 1024

# Evidence files: what may be uploaded, and how large.
EVIDENCE_MAX_BYTES = int(os.environ.get("EVIDENCE_MAX_BYTES", str(20 * 1024 * 1024)))
REGISTER_IMPORT_MAX_BYTES = int(os.environ.get("REGISTER_IMPORT_MAX_BYTES", str(50 * 1024 * 1024)))
# A register import of at least this many rows into a registry holding at most half as many is loaded
# as PostgreSQL advises for bulk loads: secondary indexes and foreign keys built again afterwards.
REGISTER_BULK_LOAD_MIN_ROWS = int(os.environ.get("REGISTER_BULK_LOAD_MIN_ROWS", "10000"))
# Power-use data from the utility (phaseout.signals): bounded in bytes and rows.
POWER_IMPORT_MAX_BYTES = int(os.environ.get("POWER_IMPORT_MAX_BYTES", str(20 * 1024 * 1024)))
POWER_IMPORT_MAX_ROWS = int(os.environ.get("POWER_IMPORT_MAX_ROWS", "200000"))
# Resumed-production screening: an exited or sealed line whose meter shows more than this many kWh a day
# (× the days of a period) raises a signal. Basis (an assumption for the office to tune, not a legal
# figure): a closed site's residual load — lighting, a guard house, a camera, a pump — stays under a few
# kW, some tens of kWh a day; a 0.5 t induction furnace melting a single heat draws about 300 kWh
# (~600 kWh per tonne). 50 kWh/day lies between.
SIGNALS_RESIDUAL_KWH_PER_DAY = Decimal(os.environ.get("SIGNALS_RESIDUAL_KWH_PER_DAY", "50"))
# Readings screened: those of periods starting within this many days before the run.
SIGNALS_LOOKBACK_DAYS = int(os.environ.get("SIGNALS_LOOKBACK_DAYS", "92"))
PLAN_DOCUMENT_MAX_BYTES = int(os.environ.get("PLAN_DOCUMENT_MAX_BYTES", str(20 * 1024 * 1024)))
# A monitoring point is online when its logger sent data within this many minutes (hourly data: 60).
MONITORING_ONLINE_MINUTES = int(os.environ.get("MONITORING_ONLINE_MINUTES", "60"))
# The largest request body taken at all: the largest single upload plus 1 MiB for the form's other fields.
# A larger one is refused (413) before any view reads it (phaseout.web.middleware.RequestSizeMiddleware);
# the proxy's client_max_body_size is the same figure (deploy/nginx/phaseout.conf; tests/test_deploy.py).
REQUEST_MAX_BYTES = int(
    os.environ.get(
        "REQUEST_MAX_BYTES",
        str(max(EVIDENCE_MAX_BYTES, REGISTER_IMPORT_MAX_BYTES, PLAN_DOCUMENT_MAX_BYTES) + 1024 * 1024),
    )
)

# Background work: Celery on Redis in production; without a broker, tasks run in-process.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
# A task is acknowledged when it has finished, not when a worker takes it: a worker killed mid-task (power
# cut, OOM killer, SIGKILL) leaves it with the broker, which hands it out again once it has been out longer
# than CELERY_VISIBILITY_TIMEOUT seconds (Redis: kombu's visibility timeout, default one hour; it must be
# longer than the longest task, else a task still running is started a second time). Every task is
# therefore safe to run twice (tests/test_topology.py kills the worker mid-import). A worker takes one task
# at a time from the queue, so a dying worker holds back no more than the ones it was running.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600"))
}
CELERY_BEAT_SCHEDULE = {
    "sweep-deadlines": {
        "task": "phaseout.cases.tasks.sweep_deadlines",
        "schedule": float(os.environ.get("CELERY_SWEEP_SECONDS", str(15 * 60))),
    },
    # The outbox is also drained after every commit that made messages; this catches the retries.
    "drain-outbox": {"task": "phaseout.messaging.tasks.drain_outbox", "schedule": 60.0},
    # Audit entries are linked into the chain right after each commit (phaseout.audit.sequencer.nudge);
    # this links whatever a process that died just after committing left (ADR 27: it bounds the window).
    "audit-chain": {
        "task": "phaseout.audit.tasks.chain_entries",
        "schedule": float(os.environ.get("AUDIT_CHAIN_SECONDS", "60")),
    },
}
# Read replica (phaseout/dbrouter.py): when REPLICA_DATABASE_URL names a streaming replica, the pages below
# read the business records below from it while it lags at most REPLICA_MAX_LAG_SECONDS (checked every
# REPLICA_CHECK_SECONDS per process; else the primary). A person who wrote reads the primary for
# REPLICA_READ_YOUR_WRITES_SECONDS. Accounts, sessions, second factors, the audit trail: always the primary.
REPLICA_DATABASE_URL = os.environ.get("REPLICA_DATABASE_URL", "")
REPLICA_MAX_LAG_SECONDS = int(os.environ.get("REPLICA_MAX_LAG_SECONDS", "30"))
REPLICA_CHECK_SECONDS = int(os.environ.get("REPLICA_CHECK_SECONDS", "5"))
REPLICA_READ_YOUR_WRITES_SECONDS = int(os.environ.get("REPLICA_READ_YOUR_WRITES_SECONDS", "10"))
REPLICA_READ_APPS = {"registry", "cases", "plans", "disclosure", "credit", "reports", "standards", "prices"}
REPLICA_READ_VIEWS = {
    # the reports, the charts and the ledger
    "exit-ledger",
    "aggregates",
    "stage-report",
    "charts",
    "year-summary",
    # the public portal's pages and exports
    "portal",
    "public-list",
    "public-export",
    "public-report",
    # exports
    "referral-export",
    "price-export",
}
if REPLICA_DATABASE_URL:
    DATABASES["replica"] = dj_database_url.parse(
        REPLICA_DATABASE_URL, conn_max_age=DATABASES["default"]["CONN_MAX_AGE"], conn_health_checks=True
    )
    DATABASES["replica"].setdefault("OPTIONS", {})["connect_timeout"] = 3
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["phaseout.dbrouter.ReplicaRouter"]
# `phaseout doctor` (phaseout/operations/doctor.py): the replica above, the periodic jobs' last run at most
# this many minutes ago, this much free disk at least.
DOCTOR_SWEEP_MAX_AGE_MINUTES = int(os.environ.get("DOCTOR_SWEEP_MAX_AGE_MINUTES", "40"))
DOCTOR_MIN_FREE_BYTES = int(os.environ.get("DOCTOR_MIN_FREE_BYTES", str(2 * 1024**3)))
# The embedded server runs the deadline sweep itself every this many seconds (0 = never).
INPROCESS_SWEEP_SECONDS = int(os.environ.get("INPROCESS_SWEEP_SECONDS", "900"))

# Messages (phaseout.messaging): mail through SMTP when EMAIL_HOST is set (else written to the console, for
# the demo), SMS through a gateway adapter ("disabled", "console", "http" or a dotted class path), never in
# the quiet hours (platform time, "HH:MM-HH:MM"; empty: none); a failed send is retried after
# MESSAGING_RETRY_SECONDS, doubled each time, and given up after MESSAGING_MAX_ATTEMPTS attempts.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "phaseout@localhost")
MESSAGING_MAIL_BACKEND = os.environ.get(
    "MESSAGING_MAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
MESSAGING_SMS_GATEWAY = os.environ.get("MESSAGING_SMS_GATEWAY", "console" if DEBUG else "disabled")
SMS_GATEWAY_URL = os.environ.get("SMS_GATEWAY_URL", "")
SMS_GATEWAY_TOKEN = os.environ.get("SMS_GATEWAY_TOKEN", "")
SMS_GATEWAY_TEMPLATE = os.environ.get("SMS_GATEWAY_TEMPLATE", '{"mobile": "$phone", "content": "$sign$text"}')
SMS_GATEWAY_TIMEOUT = int(os.environ.get("SMS_GATEWAY_TIMEOUT", "10"))
SMS_SIGN = os.environ.get("SMS_SIGN", "【淘汰落后产能】")
MESSAGING_QUIET_HOURS = os.environ.get("MESSAGING_QUIET_HOURS", "22:00-07:00")
MESSAGING_RETRY_SECONDS = int(os.environ.get("MESSAGING_RETRY_SECONDS", "60"))
MESSAGING_MAX_ATTEMPTS = int(os.environ.get("MESSAGING_MAX_ATTEMPTS", "5"))
# The platform's address, for the links in mail and SMS (e.g. https://phaseout.example.gov.cn).
MESSAGING_SITE_URL = os.environ.get("MESSAGING_SITE_URL", "http://127.0.0.1:8000")

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# Static files are served by the application itself (no CDN on a government intranet).
WHITENOISE_USE_FINDERS = True

# The public portal is cached: in-process by default, Redis when REDIS_CACHE_URL is set (production).
if os.environ.get("REDIS_CACHE_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_CACHE_URL"],
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "phaseout"}}
PUBLIC_CACHE_SECONDS = int(os.environ.get("PUBLIC_CACHE_SECONDS", "300"))
# Error reports and tip-offs from one address: at most this many per hour.
PUBLIC_POSTS_PER_HOUR = int(os.environ.get("PUBLIC_POSTS_PER_HOUR", "10"))

# Tip-offs: the key that encrypts reporters' identities (a Fernet key; derived from SECRET_KEY when
# not given — production sets its own and keeps it out of the database backups), the API tokens of
# the hotlines' systems, and the time limits, in working days.
REPORTER_KEY = os.environ.get("REPORTER_KEY", "")
TIPOFF_API_TOKENS = {
    source: token
    for source, token in (
        item.split(":", 1) for item in os.environ.get("TIPOFF_API_TOKENS", "").split(",") if ":" in item
    )
}
# Per source: (days, "working" or "calendar") for the first step (hand-over / acceptance) and the answer.
TIPOFF_POLICIES = {
    "default": {"handover": (1, "working"), "feedback": (10, "working")},
    "petition": {
        "handover": (15, "calendar"),
        "feedback": (60, "calendar"),
    },  # 信访: accept in 15, finish in 60
}

# ── Security: three roles and least privilege ──
# The Django admin is the system administrator's, for reference data only: its site authorises by the
# person's role (not by is_staff/is_superuser), signs in through the platform's login page and audits
# every change (phaseout.orgs.adminsite). Swapped in here, in place, so the app order stays as it is.
INSTALLED_APPS = [
    "phaseout.orgs.admin_apps.PhaseoutAdminConfig" if app == "django.contrib.admin" else app
    for app in INSTALLED_APPS
]

# ── Security: identity ──
# Password policy (等保 L3-CES1-01), the sign-in limits (02), two factors (04) and sessions (02, 32);
# the address of a request (audit, sign-in limits, public throttle) trusts a proxy's X-Forwarded-For
# only from TRUSTED_PROXIES (addresses or networks, comma-separated; default none).
TRUSTED_PROXIES = [p.strip() for p in os.environ.get("TRUSTED_PROXIES", "").split(",") if p.strip()]
INSTALLED_APPS = [*INSTALLED_APPS, "django_otp", "django_otp.plugins.otp_totp", "phaseout.identity"]
MIDDLEWARE.insert(0, "phaseout.web.ClientAddressMiddleware")
MIDDLEWARE.insert(1, "phaseout.web.middleware.ReplicaReadsMiddleware")
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "django_otp.middleware.OTPMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django_otp.middleware.OTPMiddleware") + 1,
    "phaseout.identity.middleware.SessionPolicyMiddleware",
)
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
PASSWORD_MIN_LENGTH = int(os.environ.get("PASSWORD_MIN_LENGTH", "10"))
PASSWORD_HISTORY = int(os.environ.get("PASSWORD_HISTORY", "5"))
PASSWORD_MAX_AGE_DAYS = int(os.environ.get("PASSWORD_MAX_AGE_DAYS", "90"))  # 0: passwords do not expire
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "phaseout.orgs.passwords.LengthValidator", "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH}},
    {"NAME": "phaseout.orgs.passwords.CharacterClassesValidator", "OPTIONS": {"min_classes": 3}},
    {"NAME": "phaseout.orgs.passwords.UsernameValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "phaseout.orgs.passwords.HistoryValidator", "OPTIONS": {"count": PASSWORD_HISTORY}},
]
# Sign-in limits (phaseout/identity/limits.py): per address, per account from one address, and a
# growing delay (never a lock) per account from everywhere, all within one window.
# Accounts with no sign-in, creation, password change or re-activation for this many days are turned off
# by the periodic job (等保 L3-CES1-07); 0 turns the rule off.
ACCOUNT_DORMANT_DAYS = int(os.environ.get("ACCOUNT_DORMANT_DAYS", "90"))
LOGIN_FAILURE_WINDOW_MINUTES = int(os.environ.get("LOGIN_FAILURE_WINDOW_MINUTES", "15"))
LOGIN_ADDRESS_FAILURE_LIMIT = int(os.environ.get("LOGIN_ADDRESS_FAILURE_LIMIT", "20"))
LOGIN_ACCOUNT_ADDRESS_FAILURE_LIMIT = int(os.environ.get("LOGIN_ACCOUNT_ADDRESS_FAILURE_LIMIT", "5"))
LOGIN_ACCOUNT_DELAY_AFTER = int(os.environ.get("LOGIN_ACCOUNT_DELAY_AFTER", "10"))
LOGIN_ACCOUNT_DELAY_MAX_SECONDS = int(os.environ.get("LOGIN_ACCOUNT_DELAY_MAX_SECONDS", "60"))
# A completed sign-in leaves a signed device cookie (phaseout/identity/devices.py): with it, the person
# is exempt from the account-wide delay that others' failures cause, for this many days.
LOGIN_DEVICE_COOKIE_NAME = "phaseout_device"
LOGIN_DEVICE_COOKIE_DAYS = int(os.environ.get("LOGIN_DEVICE_COOKIE_DAYS", "30"))
# The second factor: its kind (phaseout/identity/factors.py) and whether every account must pass it.
# Only an explicit OTP_REQUIRED=false turns the requirement off.
SECOND_FACTOR = os.environ.get("SECOND_FACTOR", "totp")
OTP_REQUIRED = env_bool("OTP_REQUIRED", True)
# The certificate authorities the SM2 second factor trusts (GM/T 0015): a directory of CA certificates
# (*.pem, *.crt, *.cer) and their revocation lists (*.crl), phaseout/crypto/certs.py. Set, every SM2
# key is enrolled by a certificate from one of them and checked again at each sign-in; empty, a bare
# public key is enrolled (the demo's way).
CERTIFICATE_AUTHORITIES = os.environ.get("CERTIFICATE_AUTHORITIES", "")
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Phaseout")
OTP_TOTP_THROTTLE_FACTOR = 1  # django-otp doubles the wait after each wrong code: 1, 2, 4 ... seconds
# Sessions end after SESSION_IDLE_MINUTES without a request and SESSION_MAX_HOURS after sign-in,
# enforced on the server (phaseout/identity/middleware.py); the cookie dies with the browser.
SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", "15"))
SESSION_MAX_HOURS = int(os.environ.get("SESSION_MAX_HOURS", "8"))
SESSION_COOKIE_AGE = SESSION_MAX_HOURS * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# ── Security: cryptography ──
# One adapter (phaseout/crypto) for every cipher and MAC: SM4-GCM for personal data at rest, HMAC-SM3
# for the audit chain and blind indexes. Keys by version from PHASEOUT_KEYS (the keyring's JSON) or
# PHASEOUT_KEYS_FILE (a JSON file, mode 600; `phaseout keys generate FILE` makes one) — never derived
# from SECRET_KEY. The embedded demo (DEBUG) generates var/dev-keyring.json once; production without
# keys does not start. PHASEOUT_CRYPTO_BACKEND: "software" (the keyring above) or the dotted path of
# a CryptoBackend class driving a certified cipher machine (密码机). `phaseout keys rotate` moves every
# encrypted value to the current version, KEY_ROTATION_BATCH rows at a time.
INSTALLED_APPS += ["phaseout.crypto"]
PHASEOUT_CRYPTO_BACKEND = os.environ.get("PHASEOUT_CRYPTO_BACKEND", "software")
PHASEOUT_KEYS = os.environ.get("PHASEOUT_KEYS", "")
PHASEOUT_KEYS_FILE = os.environ.get("PHASEOUT_KEYS_FILE", "")
KEY_ROTATION_BATCH = int(os.environ.get("KEY_ROTATION_BATCH", "2000"))
PHASEOUT_DEV_KEYRING = DEBUG and not (PHASEOUT_KEYS or PHASEOUT_KEYS_FILE)
if not DEBUG and PHASEOUT_CRYPTO_BACKEND == "software" and not (PHASEOUT_KEYS or PHASEOUT_KEYS_FILE):
    raise RuntimeError(
        "PHASEOUT_KEYS_FILE (or PHASEOUT_KEYS) must be set when DEBUG is false: personal data is"
        " encrypted with those keys, never with keys derived from SECRET_KEY"
    )

# ── Security: audit trail ──
# Each audit entry is chained to the one before by HMAC-SM3 (GB/T 32905) under the keyring's "audit" key
# of the current version (phaseout.crypto; `phaseout keys add-audit-version` adds one). The settings below
# are where the key was kept before it moved into the keyring: a version the keyring does not hold is read
# from them (AUDIT_MAC_KEY at AUDIT_MAC_KEY_VERSION, AUDIT_MAC_OLD_KEYS "1:hex,2:hex"), so older chains
# verify; `phaseout keys import-audit-key` copies them into the keyring, after which they can be unset.
# Never derived from SECRET_KEY; a system check refuses to start with neither (phaseout.audit.chain).
AUDIT_MAC_KEY = os.environ.get("AUDIT_MAC_KEY", "") or (
    # For the embedded demo and the tests only (DEBUG): public, so it protects nothing.
    b"phaseout-development-audit-key!!".hex() if DEBUG else ""
)
AUDIT_MAC_KEY_VERSION = int(os.environ.get("AUDIT_MAC_KEY_VERSION", "1"))
AUDIT_MAC_OLD_KEYS = {
    int(version): key.strip()
    for version, key in (
        item.split(":", 1) for item in os.environ.get("AUDIT_MAC_OLD_KEYS", "").split(",") if ":" in item
    )
}
# Entries are kept in the database at least this many months (等保: 6 at least; fewer is refused), then
# `phaseout audit archive` (also a periodic job) moves whole calendar months into write-once compressed files.
AUDIT_RETENTION_MONTHS = int(os.environ.get("AUDIT_RETENTION_MONTHS", "6"))
AUDIT_ARCHIVE_DIR = Path(os.environ.get("AUDIT_ARCHIVE_DIR", VAR_DIR / "audit-archive"))
# Where the chain head is anchored outside the database (phaseout.audit.anchor): in production a file on
# another host or a write-once volume, or one the log server collects.
AUDIT_ANCHOR_FILE = Path(os.environ.get("AUDIT_ANCHOR_FILE", VAR_DIR / "audit-anchors.jsonl"))
# An evaluation run that has given no sign of life (it beats with every block of 20,000 lines) for this long
# lost its worker: the sweep marks it failed (phaseout.standards.actions.give_up_lost_runs). Longer than
# the slowest block ever takes, or a slow run is given up while it still runs (it then stops itself).
EVALUATION_LEASE_SECONDS = int(os.environ.get("EVALUATION_LEASE_SECONDS", str(30 * 60)))
# An audit entry committed longer ago than this and still not linked into the chain means the sequencer
# is not running (ADR 27): `phaseout doctor` says so.
AUDIT_CHAIN_MAX_DELAY_SECONDS = int(os.environ.get("AUDIT_CHAIN_MAX_DELAY_SECONDS", "300"))

# ── Security: input, transport and headers ──
# Uploads that are zip files (.xlsx registers, .docx plan documents) are checked before any parser sees
# them (phaseout/web/zipguard.py): the total unpacked size and each member's compression ratio are capped,
# and a register's rows are counted as a stream and refused over the limit before any row is converted.
UPLOAD_MAX_UNPACKED_BYTES = int(os.environ.get("UPLOAD_MAX_UNPACKED_BYTES", str(200 * 1024 * 1024)))
UPLOAD_MAX_COMPRESSION_RATIO = int(os.environ.get("UPLOAD_MAX_COMPRESSION_RATIO", "100"))
REGISTER_IMPORT_MAX_ROWS = int(os.environ.get("REGISTER_IMPORT_MAX_ROWS", "200000"))
# The preview of a register (parsing and checking every row) runs in a Celery task, off the request,
# whenever a broker is configured; the request only stores the file after the cheap checks above.
REGISTER_PREVIEW_IN_BACKGROUND = env_bool("REGISTER_PREVIEW_IN_BACKGROUND", bool(CELERY_BROKER_URL))

# Transport: production (DEBUG=false) is served over HTTPS only. HTTPS=false turns all of it off for a
# deployment that terminates nothing (never on the internet); each part can be set on its own.
HTTPS = env_bool("HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600 if HTTPS else 0)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# The scheme is read from the proxy's X-Forwarded-Proto only when a trusted proxy is configured (a client
# could otherwise claim https on a plain connection).
if TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): everything from the application itself, no inline script, no
# inline style (htmx's indicator style is in site.css), no framing, forms post only here.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware"
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Every request: NUL and other control characters in the query or a form post are refused with a 400
# page before any view runs (phaseout/web/middleware.py); the JSON API checks its own fields.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "phaseout.web.middleware.ControlCharacterMiddleware",
)
# A request body over REQUEST_MAX_BYTES is refused before anything reads it (the control-character check
# just after reads the form): right after authentication, so that the refusal page knows the person.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "phaseout.web.middleware.RequestSizeMiddleware",
)
