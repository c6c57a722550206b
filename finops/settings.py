"""Settings for the FinOps dashboard, read from the environment in this one place.

Every variable is documented in README.md ("Configuration"). With none set, the app runs on
a SQLite file under var/ with Celery tasks executed eagerly in-process, so a laptop needs
nothing installed beyond Python.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF, UNSAFE_HASHES

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A local .env file is optional; real deployments pass variables in the environment.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# The fallback key is marked insecure on purpose: `check --deploy` rejects it, so a
# production start without SECRET_KEY is caught by the documented deploy check.
SECRET_KEY = env.str(
    "SECRET_KEY",
    default="django-insecure-local-development-key-change-me-in-production",
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    "csp",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "finops",
    "ingest",
    "dashboards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "finops.middleware.AccessMemoMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it turns a refused log-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "finops.urls"
WSGI_APPLICATION = "finops.wsgi.application"

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
                "finops.context_processors.access",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'finops.sqlite3'}"
    ),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # Ingestion writes in long transactions; wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out log-in before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboards:overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
# Storage is UTC; days are bucketed in this reporting time zone (in SQL, via TruncDate).
TIME_ZONE = env.str("REPORTING_TIME_ZONE", default="UTC")

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # plotly.js comes from the installed plotly package, so the figures built in Python
    # and the library that draws them are always the same release, and nothing hits a CDN.
    "dashboards.staticfiles.PlotlyJsFinder",
]
# Production images run collectstatic and set STATIC_FILES_COLLECTED=true to serve
# compressed files under cache-busting names. Without it (tests, `make demo`) whitenoise
# serves the source files through the finders.
STATIC_FILES_COLLECTED = env.bool("STATIC_FILES_COLLECTED", default=False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_FILES_COLLECTED
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not STATIC_FILES_COLLECTED

# --- REST API ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an anonymous tool then gets 401 with a WWW-Authenticate header.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "finops.api.pagination.DefaultPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/minute"),
        "user": env.str("API_THROTTLE_USER", default="6000/minute"),
    },
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AI inference FinOps API",
    "DESCRIPTION": "Spend, workloads, allocation and ingestion of the AI inference FinOps dashboard.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's assets are served from this app (drf-spectacular-sidecar): no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name for the TCO categories, whichever model field carries them.
    "ENUM_NAME_OVERRIDES": {
        "TcoCategoryEnum": "finops.models.tco.TcoCategory",
        # Shared by the run in lists and the run an upload answers with.
        "IngestRunStatusEnum": "finops.models.ingestion.IngestRun.Status",
    },
}

# --- Celery (Redis broker). No broker configured: tasks run eagerly in-process. ---
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=3600)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=3900)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task (acks_late) whose worker died is handed to another worker once it has been
# unacknowledged this long, so it must outlast the longest task: a long ingest must not be
# redelivered while still running.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=CELERY_TASK_TIME_LIMIT + 600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # Workers look for such tasks every tenth of the timeout, at most every 100 s (kombu's
    # default period, which would leave a short timeout waiting).
    "unacked_restore_interval": max(1, min(100, CELERY_VISIBILITY_TIMEOUT // 10)),
    "unacked_restore_throttle": 1,
}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "ingest-due-data-sources": {
        "task": "ingest.tasks.ingest_due_data_sources",
        "schedule": env.int("DATA_SOURCE_POLL_SECONDS", default=300),
    },
    "detect-spikes-daily": {
        "task": "finops.tasks.detect_spikes_daily",
        "schedule": crontab(hour=env.int("ALERT_DETECTION_HOUR", default=6), minute=0),
    },
}

# --- E-mail ---
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="finops@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)

# --- Alerts ---
# Links in e-mails (dashboard, alerts page, unsubscribe) start with this.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# Spikes found on days older than this (a back-fill, a late bill) are recorded, not mailed.
ALERT_EMAIL_MAX_AGE_DAYS = env.int("ALERT_EMAIL_MAX_AGE_DAYS", default=3)

# --- Production hardening, switched on together when the site is served over HTTPS ---
HTTPS = env.bool("HTTPS", default=False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS and env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Error reports (the DEBUG page, mails to ADMINS) also hide passwords inside URLs.
DEFAULT_EXCEPTION_REPORTER_FILTER = "finops.error_reports.CredentialsHidingFilter"

# --- Log-in throttling (django-axes) ---
# A user name is locked, from the address that guessed, after AXES_FAILURE_LIMIT wrong
# passwords in a row; it opens again after the cool-off. Keying on the pair, not the address
# alone, means one office behind NAT does not lock everyone out, and one guesser cannot lock a
# user out from everywhere. Attempts live in the database, so every gunicorn worker counts
# the same failures. The address is REMOTE_ADDR: behind a reverse proxy it is the proxy's, and
# the lock is then per user name.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/login.html"

# --- Content-Security-Policy (django-csp) ---
# Nothing inline runs: every script is a static file, and figure data reaches the page as
# json_script blocks, which are data, not code. The one inline script and style of the
# Swagger UI page carry the request's nonce (templates/drf_spectacular/swagger_ui.html); the
# nonce appears in the header only on a page that used it.
#
# No 'unsafe-inline' for styles either. plotly.js needs exactly four inline styles, allowed
# by their hashes (tests/test_security_headers.py checks them against the installed bundle,
# so a plotly upgrade that changes them fails a test instead of a chart):
# - an empty <style id="plotly.js-style-global"> that it then fills through the CSSOM (hover
#   labels, mode bar, cursors): the hash of the empty string;
# - empty style="" attributes that d3 sets on colour bars and heatmap images: the same hash,
#   which style attributes honour only with 'unsafe-hashes';
# - the style="image-rendering: ...; pixelated" attribute that keeps heatmap cells sharp
#   (the GPU utilization heatmap);
# - the MapLibre stylesheet it injects when it loads (maps are unused here, but it is
#   injected on every page that loads plotly.js).
# A hash admits only that exact text, so no other inline style can ride along.
PLOTLY_EMPTY_STYLE_HASH = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
PLOTLY_PIXELATED_IMAGE_STYLE_HASH = "'sha256-AR/cKIZjWPcPmBUPDA6oti9XBiTbJvz0Cro2J1VzzS8='"
PLOTLY_MAPLIBRE_STYLE_HASH = "'sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o='"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [
            SELF, NONCE, UNSAFE_HASHES,
            PLOTLY_EMPTY_STYLE_HASH, PLOTLY_PIXELATED_IMAGE_STYLE_HASH, PLOTLY_MAPLIBRE_STYLE_HASH,
        ],
        "img-src": [SELF, "data:", "blob:"],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- GPU efficiency: when a workload's GPUs count as under-used, and what packing aims for ---
GPU_UNDERUSED_AVERAGE = env.float("GPU_UNDERUSED_AVERAGE", default=0.30)
GPU_UNDERUSED_P95 = env.float("GPU_UNDERUSED_P95", default=0.60)
GPU_TARGET_UTILIZATION = env.float("GPU_TARGET_UTILIZATION", default=0.60)

# --- Ingestion ---
# Browser uploads are written here; the worker must see the same folder (a shared volume).
INGEST_UPLOAD_DIR = Path(env.str("INGEST_UPLOAD_DIR", default=str(VAR_DIR / "uploads")))
INGEST_UPLOAD_MAX_BYTES = env.int("INGEST_UPLOAD_MAX_BYTES", default=2 << 30)
# First wait before an ingest task retries a transient error; it doubles each time (jittered).
INGEST_RETRY_BACKOFF_SECONDS = env.int("INGEST_RETRY_BACKOFF_SECONDS", default=30)
# An upload over INGEST_UPLOAD_MAX_BYTES is refused before Django's handlers spool it.
FILE_UPLOAD_HANDLERS = [
    "ingest.upload_handlers.UploadSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Where `seed_demo` writes its generated billing exports before ingesting them.
DEMO_DATA_DIR = Path(env.str("DEMO_DATA_DIR", default=str(VAR_DIR / "demo")))
