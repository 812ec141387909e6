"""Settings for liqsite: the only module that reads the environment.

Every value comes from an environment variable (listed with its default in README.md and
.env.example), read through the small typed helpers of ``liqsite/env.py`` (given ``os.environ`` here
and nowhere else), which raise ImproperlyConfigured with the variable's name when a value is
malformed. A ``.env`` file at the project root (or the file named by ``LIQSITE_ENV_FILE``) is loaded
first without overriding the real environment, so the shell, cron and systemd all see one
configuration. Defaults are safe: DEBUG off, local hosts only, a generated secret key kept in
``data/.secret_key``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from liqsite.caches import caches, redis_password
from liqsite.databases import databases
from liqsite.env import Env, alert_urls, http_settings, secret_key_from_file
from liquidation.streamdefaults import STREAM_MAX_AGE, STREAM_SILENCE

BASE_DIR = Path(__file__).resolve().parent.parent


# -- environment helpers (liqsite/env.py), given this module's view of the environment -------------

_env = Env(os.environ, BASE_DIR)
env_str, env_bool, env_int, env_float = _env.str, _env.bool, _env.int, _env.float
env_list, env_path, env_urls, env_choice = _env.list, _env.path, _env.urls, _env.choice


def _venue_names() -> tuple[str, ...]:
    from liquidation.venues import names  # the registry is the only list of venues

    return names()


ENV_FILE = Path(os.environ["LIQSITE_ENV_FILE"]) if os.environ.get("LIQSITE_ENV_FILE") else BASE_DIR / ".env"
if "LIQSITE_ENV_FILE" in os.environ and not ENV_FILE.is_file():
    raise ImproperlyConfigured(f"LIQSITE_ENV_FILE={ENV_FILE}: no such file")
if ENV_FILE.is_file():
    load_dotenv(ENV_FILE, override=False)


# -- Django core --------------------------------------------------------------------------------

DATA_DIR = env_path("LIQSITE_DATA_DIR", BASE_DIR / "data")
LOG_DIR = env_path("LIQSITE_LOG_DIR", BASE_DIR / "logs")

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or secret_key_from_file(DATA_DIR / ".secret_key")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# No sessions, users or admin: the site is read-only and anonymous (the API's authentication classes are
# empty), so nothing would use their tables.
INSTALLED_APPS = [
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "csp",
    "django_crontab",
    "liquidation",
]

MIDDLEWARE = [
    "liquidation.middleware.MethodGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise, which answers static files itself (precompressed at collectstatic): only the
    # views' answers (API JSON, exports, the page) are compressed here, with zstd, br or gzip as the
    # client accepts (django-compression-middleware); after every middleware that edits the body.
    # BREACH needs a secret and attacker-chosen text in the same compressed body. The API is
    # read-only and token-free (no session, no per-user data). The only secret ever rendered is the
    # CSRF token in DRF's browsable pages, which reflect the query string, but Django masks that
    # token with fresh random bytes in every response, so its compressed length leaks nothing.
    # /metrics checks a bearer token and never echoes it.
    "compression_middleware.middleware.CompressionMiddleware",
    "csp.middleware.CSPMiddleware",
    "liquidation.middleware.SiteLanguageMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "liqsite.urls"
WSGI_APPLICATION = "liqsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
            ],
        },
    },
]

#: Where the records live: "jsonl" (the embedded default: LIQUIDATION_DATA_FILE) or "postgresql" (the
#: database of DATABASE_URL, shared by every web node, collector and listener; nothing goes to the files).
LIQUIDATION_STORE = env_str("LIQUIDATION_STORE", "jsonl").lower()
if LIQUIDATION_STORE not in ("jsonl", "postgresql"):
    raise ImproperlyConfigured(f"LIQUIDATION_STORE={LIQUIDATION_STORE!r}: expected jsonl or postgresql")
DATABASES = databases(env_str("DATABASE_URL"), LIQUIDATION_STORE)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"  # Beijing time, as the records' ``datetime`` field
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env_path("LIQSITE_STATIC_ROOT", BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names (cached for a year, immutable), .br and .gz beside each file, JS module imports
    # rewritten to the hashed names (liqsite/storage.py). Needs collectstatic before serving.
    "staticfiles": {"BACKEND": "liqsite.storage.ModuleAwareStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# -- HTTPS ------------------------------------------------------------------------------------------
# DJANGO_HTTPS=1 for a site served over HTTPS (directly or behind a proxy that sets
# X-Forwarded-Proto). Off, the site works over plain http on 127.0.0.1.
HTTPS = env_bool("DJANGO_HTTPS", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    if env_bool("DJANGO_BEHIND_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SILENCED_SYSTEM_CHECKS = []
if not (HTTPS and SECURE_HSTS_PRELOAD):
    # HSTS preload is an opt-in commitment to browser vendors (DJANGO_HSTS_PRELOAD=1), not a default.
    SILENCED_SYSTEM_CHECKS.append("security.W021")

# -- the liquidation tracker ----------------------------------------------------------------------

LIQUIDATION_DATA_FILE = env_path("LIQUIDATION_DATA_FILE", DATA_DIR / "liquidation_1h" / "liquidation_1h.jsonl")
LIQUIDATION_LAST_RUN_FILE = DATA_DIR / "last_run.json"
LIQUIDATION_SOURCE = env_choice("LIQUIDATION_SOURCE", ("exchanges", "panic-api", "coinglass"))
LIQUIDATION_SOURCE_URL = env_str("LIQUIDATION_SOURCE_URL")
COINGLASS_API_KEY = env_str("COINGLASS_API_KEY")
COINGLASS_BASE_URL = env_str("COINGLASS_BASE_URL", "https://open-api-v4.coinglass.com")
LIQUIDATION_STALE_SECONDS = env_int("LIQUIDATION_STALE_SECONDS", 180, minimum=1)
#: Days of records to keep; the collector loop prunes once a day (0: keep everything).
LIQUIDATION_KEEP_DAYS = env_int("LIQUIDATION_KEEP_DAYS", 0, minimum=0)
#: When set, /metrics answers only requests with "Authorization: Bearer <this token>".
LIQUIDATION_METRICS_TOKEN = env_str("LIQUIDATION_METRICS_TOKEN")

# The collector's HTTP limits: liquidation/http.py's HttpPolicy defaults, or LIQUIDATION_HTTP_FILE (JSON).
_http = http_settings(env_path("LIQUIDATION_HTTP_FILE", BASE_DIR) if env_str("LIQUIDATION_HTTP_FILE") else None)
LIQUIDATION_HTTP_CONNECT_TIMEOUT = _http["connect_timeout"]
LIQUIDATION_HTTP_READ_TIMEOUT = _http["read_timeout"]
LIQUIDATION_HTTP_RETRIES = _http["retries"]
LIQUIDATION_HTTP_BACKOFF = _http["backoff"]
LIQUIDATION_HTTP_RETRY_AFTER_MAX = _http["retry_after_max"]
LIQUIDATION_HTTP_DEADLINE = _http["deadline"]
LIQUIDATION_HTTP_MAX_BYTES = _http["max_bytes"]

# -- the Crypto Fear & Greed Index (alternative.me, keyless), fetched hourly by the collector ---------
_fear_greed_url = env_str("FEAR_GREED_URL", "https://api.alternative.me/fng/")
if _fear_greed_url.lower() in ("", "off"):
    _fear_greed_url = ""
elif not re.fullmatch(r"https?://[^/\s?#]+(/\S*)?", _fear_greed_url):
    raise ImproperlyConfigured(f"FEAR_GREED_URL={_fear_greed_url!r}: expected an http(s):// URL with a host, or off")
#: The index's API; "" when FEAR_GREED_URL is off (or empty): nothing is fetched, /api/fear-greed says so.
FEAR_GREED_URL = _fear_greed_url
#: One value per day (liquidation/feargreed.py), and fear_greed.state.json beside it (the last attempt).
FEAR_GREED_FILE = DATA_DIR / "fear_greed.json"

# -- alerts (告警) -------------------------------------------------------------------------------------
# Rules from ALERT_RULES_FILE (JSON) when set, else from the variables below (a rule is on when its
# threshold is set). Channels are on when their URL / token is set.
ALERT_RULES_FILE = env_path("ALERT_RULES_FILE", BASE_DIR / "alert-rules.json") if env_str("ALERT_RULES_FILE") else None
ALERT_LANGUAGE = env_choice("ALERT_LANGUAGE", ("zh-hans", "en"), "zh-hans")


#: Where alerts go: one Apprise URL per service (https://github.com/caronc/apprise/wiki).
ALERT_URLS = alert_urls(env_str("ALERT_URLS"), BASE_DIR)
ALERT_SITE_URL = env_str("ALERT_SITE_URL", "http://127.0.0.1:8000")
ALERT_COOLDOWN_SECONDS = env_int("ALERT_COOLDOWN_SECONDS", 1800, minimum=0)
ALERT_H1_THRESHOLD = env_float("ALERT_H1_THRESHOLD", 0.0)
ALERT_H1_CLEAR = env_float("ALERT_H1_CLEAR", 0.0)
ALERT_SPIKE_RATIO = env_float("ALERT_SPIKE_RATIO", 0.0)
ALERT_SPIKE_CLEAR = env_float("ALERT_SPIKE_CLEAR", 0.0)
ALERT_SPIKE_HOURS = env_int("ALERT_SPIKE_HOURS", 6, minimum=1, maximum=168)
ALERT_PANIC_THRESHOLD = env_float("ALERT_PANIC_THRESHOLD", 0.0)
ALERT_PANIC_CLEAR = env_float("ALERT_PANIC_CLEAR", 0.0)
ALERT_NO_DATA = env_bool("ALERT_NO_DATA", True)
#: The rule variables above that are set: deprecated (ALERT_RULES_FILE says the same), named in one line.
_RULE_VARIABLES = "COOLDOWN_SECONDS H1_THRESHOLD H1_CLEAR SPIKE_RATIO SPIKE_CLEAR SPIKE_HOURS PANIC_THRESHOLD"
ALERT_RULE_VARIABLES_SET = [
    f"ALERT_{n}" for n in (*_RULE_VARIABLES.split(), "PANIC_CLEAR", "NO_DATA") if env_str(f"ALERT_{n}")
]
ALERT_WEBHOOK_URL = env_str("ALERT_WEBHOOK_URL")
ALERT_WEBHOOK_SECRET = env_str("ALERT_WEBHOOK_SECRET")
ALERT_TELEGRAM_BOT_TOKEN = env_str("ALERT_TELEGRAM_BOT_TOKEN")
ALERT_TELEGRAM_CHAT_ID = env_str("ALERT_TELEGRAM_CHAT_ID")
ALERT_TELEGRAM_API_URL = env_str("ALERT_TELEGRAM_API_URL", "https://api.telegram.org")
ALERT_DINGTALK_WEBHOOK = env_str("ALERT_DINGTALK_WEBHOOK")
ALERT_DINGTALK_SECRET = env_str("ALERT_DINGTALK_SECRET")
ALERT_FEISHU_WEBHOOK = env_str("ALERT_FEISHU_WEBHOOK")
ALERT_FEISHU_SECRET = env_str("ALERT_FEISHU_SECRET")
ALERT_WECOM_WEBHOOK = env_str("ALERT_WECOM_WEBHOOK")
LIQUIDATION_ALERT_STATE_FILE = env_path("LIQUIDATION_ALERT_STATE_FILE", DATA_DIR / "alerts_state.json")

# -- the exchanges (the keyless source and manage.py stream_liquidations) ---------------------------
# Every EXCHANGE_<NAME>_<KIND>_URL in the environment overrides one venue's base URL (scheme and host;
# the code adds the documented paths), e.g. EXCHANGE_<VENUE>_WS_URL or EXCHANGE_<VENUE>_REST_URL. Each venue
# module (liquidation/venues/) lists its kinds and defaults; tests and mirrors point them elsewhere.
EXCHANGE_URLS = env_urls(re.compile(r"\AEXCHANGE_[A-Z0-9]+_[A-Z0-9]+_URL\Z"))
#: Venues of the keyless `exchanges` source (default: every venue in the registry); stream_liquidations
#: listens to the streamed ones among them.
LIQUIDATION_EXCHANGES = env_list("LIQUIDATION_EXCHANGES", ",".join(_venue_names()))
for _name in LIQUIDATION_EXCHANGES:
    if _name not in _venue_names():
        raise ImproperlyConfigured(f"LIQUIDATION_EXCHANGES: unknown exchange {_name!r} ({', '.join(_venue_names())})")
LIQUIDATION_EVENTS_DIR = env_path("LIQUIDATION_EVENTS_DIR", DATA_DIR / "liquidation_events")
#: Reconnect a feed without an application ping that has sent no data frame for this long.
LIQUIDATION_STREAM_SILENCE_SECONDS = env_float("LIQUIDATION_STREAM_SILENCE_SECONDS", STREAM_SILENCE, minimum=1.0)
#: Recycle connections before this age (some venues cut them after 24 hours).
LIQUIDATION_STREAM_MAX_AGE_SECONDS = env_float("LIQUIDATION_STREAM_MAX_AGE_SECONDS", STREAM_MAX_AGE, minimum=10.0)

# -- scheduling: django-crontab ----------------------------------------------------------------
# `python manage.py crontab add` installs one line that runs collect_liquidation every minute
# (https://crontab.guru/#*_*_*_*_*). Paths are absolute because cron starts jobs in $HOME with
# an almost empty environment; the env file in use is baked into the line when it is not the
# default one. django-crontab's runner always exits 0, so the command also writes last_run.json.
CRONJOBS = [
    (
        "* * * * *",
        "django.core.management.call_command",
        ["collect_liquidation"],
        {},
        f">> {shlex.quote(str(LOG_DIR / 'cron.log'))} 2>&1",
    ),
]
CRONTAB_LOCK_JOBS = True
CRONTAB_DJANGO_MANAGE_PATH = str(BASE_DIR / "manage.py")
CRONTAB_PYTHON_EXECUTABLE = sys.executable
CRONTAB_COMMENT = f"liqsite collector {BASE_DIR}"
#: The crontab(1) that `manage.py crontab add|show|remove` runs (tests: a stand-in keeping the table in a file).
CRONTAB_EXECUTABLE = shlex.quote(env_str("LIQSITE_CRONTAB", "/usr/bin/crontab"))
CRONTAB_COMMAND_PREFIX = " ".join(
    [f"mkdir -p {shlex.quote(str(LOG_DIR))} &&"]
    + ([f"LIQSITE_ENV_FILE={shlex.quote(str(ENV_FILE))}"] if "LIQSITE_ENV_FILE" in os.environ else [])
)

# -- logging ---------------------------------------------------------------------------------------
# Console (stderr) here; collect_liquidation adds logs/collector.log (a WatchedFileHandler, rotated by
# deploy/logrotate) while it runs. A 500's traceback goes, once, to stderr and logs/web-errors.log
# (with DEBUG off Django would otherwise log it nowhere). Every record passes RedactSecrets first:
# the configured secrets below never reach a log line.
LOG_SECRETS = [
    value
    for value in (
        SECRET_KEY,
        COINGLASS_API_KEY,
        LIQUIDATION_METRICS_TOKEN,
        ALERT_WEBHOOK_SECRET,
        ALERT_TELEGRAM_BOT_TOKEN,
        ALERT_DINGTALK_SECRET,
        ALERT_FEISHU_SECRET,
        ALERT_WEBHOOK_URL,
        ALERT_DINGTALK_WEBHOOK,
        ALERT_FEISHU_WEBHOOK,
        ALERT_WECOM_WEBHOOK,
        *ALERT_URLS,
    )
    if value
]
with contextlib.suppress(OSError):  # a read-only checkout: the web error log then goes to stderr only
    LOG_DIR.mkdir(parents=True, exist_ok=True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s", "datefmt": "%Y-%m-%d %H:%M:%S%z"}
    },
    "filters": {"secrets": {"()": "liquidation.logfiles.RedactSecrets", "secrets": LOG_SECRETS}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "line", "filters": ["secrets"]},
        "web_errors": {
            "class": "logging.handlers.WatchedFileHandler",
            "filename": str(LOG_DIR / "web-errors.log"),
            "delay": True,
            "formatter": "line",
            "filters": ["secrets"],
            "level": "ERROR",
        },
    },
    "loggers": {
        "liquidation": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django_crontab": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # 500s: their tracebacks, once (not also through the "django" logger).
        "django.request": {"handlers": ["console", "web_errors"], "level": "ERROR", "propagate": False},
        # urllib3 logs each retry with the full URL, query string (and any token in it) included.
        "urllib3": {"level": "ERROR"},
    },
}

# -- the API --------------------------------------------------------------------------------------


def _api_rate(name: str, default: str) -> str | None:
    value = env_str(name, default)
    if value.lower() == "off":
        return None
    if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", value):
        raise ImproperlyConfigured(f"{name}={value!r}: expected like 120/min (per s, min, hour or day) or off")
    return value


#: Requests per client address, e.g. "120/min"; "off" disables throttling.
LIQUIDATION_API_RATE = _api_rate("LIQUIDATION_API_RATE", "120/min")

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "liquidation.renderers.ORJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # How many reverse proxies in front of the site to trust for X-Forwarded-For. 0: the client
    # address is REMOTE_ADDR and a made-up X-Forwarded-For cannot dodge throttling.
    "NUM_PROXIES": env_int("DJANGO_NUM_PROXIES", 0, minimum=0, maximum=10),
}

# -- the cache: throttle counts (per process, or in Redis for every worker and node) and, with Redis, the
# response cache; the URL checked at start-up, its password kept out of LOCATION and logs (liqsite/caches.py)
_redis_url = env_str("REDIS_URL")
CACHES = caches(_redis_url)
LOG_SECRETS.extend(filter(None, [redis_password(_redis_url)]))  # the list the logging filter above was given
#: Answers of the costly read-only API views kept for their minute (liquidation/respcache.py); 0 turns it off.
LIQUIDATION_RESPONSE_CACHE = env_bool("LIQUIDATION_RESPONSE_CACHE", True)

SPECTACULAR_SETTINGS = {
    "TITLE": "liqsite API: 1小时爆仓金额",
    "DESCRIPTION": (
        "The crypto-futures market's trailing 1-hour liquidation amount, recorded every minute, with the "
        "panic index, the 24-hour liquidation amount and total open interest. Liquidation amounts are in "
        "万 USD (10,000 USD), open interest in 亿 USD (100,000,000 USD); `timestamp` is Unix seconds (UTC), "
        "`datetime` Beijing time (UTC+8). Missing minutes are never invented. How every figure is made (the "
        "venues and what each publishes, throttled feeds and why totals are a lower bound, coverage and gaps, "
        "the formulas, units and plausibility guards): [/methodology](/methodology)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# CORS: off unless origins are listed; then only the read-only API is shared with them.
CORS_ALLOWED_ORIGINS = env_list("LIQUIDATION_CORS_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_METHODS = ["GET", "HEAD", "OPTIONS"]

# Content-Security-Policy (django-csp): no inline script anywhere, everything from this origin.
# The browsable API and Swagger UI add 'unsafe-inline' styles for themselves (liquidation/views.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
