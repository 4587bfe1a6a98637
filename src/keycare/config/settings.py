"""Django settings for KeyCare.

Embedded default: SQLite under ./var/ (KEYCARE_HOME). Production: set DATABASE_URL
(PostgreSQL) and KEYCARE_SECRET_KEY, and KEYCARE_PRODUCTION=1.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
KEYCARE_HOME = Path(os.environ.get("KEYCARE_HOME", Path.cwd() / "var")).resolve()
PRODUCTION = os.environ.get("KEYCARE_PRODUCTION") == "1"


def _secret_key() -> str:
    """Secret from the environment, else one generated once per installation under var/."""
    if key := os.environ.get("KEYCARE_SECRET_KEY"):
        return key
    if PRODUCTION:
        raise RuntimeError("KEYCARE_SECRET_KEY must be set when KEYCARE_PRODUCTION=1")
    from django.core.management.utils import get_random_secret_key

    KEYCARE_HOME.mkdir(parents=True, exist_ok=True)
    path = KEYCARE_HOME / "secret_key"
    if not path.exists():
        path.write_text(get_random_secret_key())
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("KEYCARE_DEBUG", "0" if PRODUCTION else "1") == "1"
ALLOWED_HOSTS = os.environ.get("KEYCARE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "axes",
    "keycare.core",
    "keycare.catalog",
    "keycare.synth",
    "keycare.access",
    "keycare.org",
    "keycare.customers",
    "keycare.keyaccounts",
    "keycare.moments",
    "keycare.runs",
    "keycare.complaints",
    "keycare.tasks",
    "keycare.messaging",
    "keycare.campaigns",
    "keycare.workorders",
    "keycare.surveys",
    "keycare.effects",
    "keycare.managers",
    "keycare.knowledge",
    "keycare.signalling",
    "keycare.analytics",
    "keycare.web",
    "keycare.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "keycare.access.middleware.SessionLifetimeMiddleware",
    # Last, as django-axes requires: locks out repeated failed logins.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "keycare.access.backends.StaffModelBackend",
]

ROOT_URLCONF = "keycare.config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "keycare.web.navigation.nav_items",
            ],
        },
    },
]

WSGI_APPLICATION = "keycare.config.wsgi.application"

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # PostgreSQL's JIT spent 200-330 ms compiling each dashboard aggregate, more than the
        # aggregate itself (docs/performance.md, web and API load).
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
else:
    KEYCARE_HOME.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": KEYCARE_HOME / "keycare.sqlite3",
            "OPTIONS": {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions per OWASP ASVS level 2: 30-minute idle timeout (to within the refresh interval),
# 12-hour absolute timeout (keycare.access.middleware), a new session id at login (Django's
# default), secure cookies in production.
SESSION_COOKIE_AGE = 30 * 60
KEYCARE_SESSION_REFRESH_SECONDS = 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
KEYCARE_SESSION_ABSOLUTE_SECONDS = 12 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = os.environ.get("KEYCARE_SSL_REDIRECT", "1") == "1"
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Login throttling (django-axes): 5 failures per user and address lock for 15 minutes.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "web/locked_out.html"

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
# Back to KeyCare's login page: without it LogoutView renders registration/logged_out.html,
# which is the admin's ("log in again" leads to the admin login, closed to non-staff users).
LOGOUT_REDIRECT_URL = "login"
# A rejected form (page left open past the session, cookies off): KeyCare's 403 page.
CSRF_FAILURE_VIEW = "keycare.web.errors.csrf_failure"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = KEYCARE_HOME / "static"

# Where the data plane reads operator files and publishes runs.
# E-mail (the managers' reminder digest): files under KEYCARE_HOME/mail unless a backend is
# configured (production: KEYCARE_EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend
# with KEYCARE_EMAIL_HOST / _PORT / _USER / _PASSWORD). Nothing is sent from a dev box.
EMAIL_BACKEND = os.environ.get(
    "KEYCARE_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_FILE_PATH = KEYCARE_HOME / "mail"
EMAIL_HOST = os.environ.get("KEYCARE_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("KEYCARE_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("KEYCARE_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("KEYCARE_EMAIL_PASSWORD", "")
DEFAULT_FROM_EMAIL = os.environ.get("KEYCARE_EMAIL_FROM", "keycare@localhost")
KEYCARE_DATA_DIR = Path(os.environ.get("KEYCARE_DATA_DIR", KEYCARE_HOME / "data"))
KEYCARE_RUNS_DIR = Path(os.environ.get("KEYCARE_RUNS_DIR", KEYCARE_HOME / "runs"))

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "keycare.api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "keycare.api.pagination.StandardPagination",
    # Bodies bounded in size, JSON in nesting depth too (a 400, not a RecursionError's 500).
    "DEFAULT_PARSER_CLASSES": [
        "keycare.api.parsers.BoundedJSONParser",
        "keycare.api.parsers.BoundedFormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "EXCEPTION_HANDLER": "keycare.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"login": "20/min"},
    # The login throttle keys on the client address: trust X-Forwarded-For only from as many
    # reverse proxies as the deployment declares (0 by default), so a client cannot forge it.
    "NUM_PROXIES": int(os.environ.get("KEYCARE_NUM_PROXIES", "0")),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "KeyCare API",
    "DESCRIPTION": "关键时刻服务系统接口 Key-moment service API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets that share a field name across resources get a name of their own each.
    "ENUM_NAME_OVERRIDES": {
        "KeyAccountTierEnum": "keycare.keyaccounts.models.Tier",
        "TaskStateEnum": "keycare.tasks.models.TaskState",
        "SmsStateEnum": "keycare.messaging.models.SmsState",
        "SurveyStateEnum": "keycare.surveys.models.SurveyState",
        "AppointmentKindEnum": "keycare.tasks.models.AppointmentKind",
        "WorkKindEnum": "keycare.managers.models.WorkKind",
        "ReceiptKindEnum": "keycare.messaging.models.ReceiptKind",
        "ComplaintKindEnum": "keycare.complaints.models.ComplaintKind",
        "QualificationKindEnum": "keycare.managers.models.QualificationKind",
        "EffectSourceKindEnum": "keycare.effects.models.SourceKind",
    },
}
KEYCARE_API_TOKEN_HOURS = 12
# How many customer numbers one account manager may show (task page, 拨号) per day.
KEYCARE_DIAL_DAILY_LIMIT = int(os.environ.get("KEYCARE_DIAL_DAILY_LIMIT", "60"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
