"""Settings from the environment, each through a strict little parser.

A wrong value stops start-up with the setting's name instead of surfacing
later as a confusing runtime error. Every setting is listed in .env.example.
"""
import ipaddress
import os
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROOT = Path(__file__).resolve().parent.parent

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class ConfigError(RuntimeError):
    pass


def _int(name, value, *, low, high):
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {number}")
    return number


def _methods(name, value):
    methods = tuple(m.strip().upper() for m in value.split(",") if m.strip())
    unknown = [m for m in methods if m not in HTTP_METHODS]
    if not methods or unknown:
        raise ConfigError(f"{name} must be a comma-separated subset of {', '.join(HTTP_METHODS)}")
    return methods


HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$")


def _networks(name, value):
    """Comma-separated networks (CIDR, or one address) and host names, e.g.
    `10.0.0.0/8,192.168.1.20,intranet.local`: what the outbound policy lets through."""
    entries = []
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        if re.fullmatch(r"[0-9.]+(/\d+)?|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*(/\d+)?", entry):
            try:
                entries.append(str(ipaddress.ip_network(entry, strict=True)))
            except ValueError as exc:
                raise ConfigError(f"{name}: {entry!r} is not a network ({exc})") from None
        elif HOSTNAME.match(entry.lower()):
            entries.append(entry.lower().rstrip("."))
        else:
            raise ConfigError(f"{name}: {entry!r} is neither a network (10.0.0.0/8) nor a host name")
    return tuple(entries)


def _timezone(name, value):
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name}: unknown IANA timezone {value!r}") from None
    return value


def _bool(name, value):
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _url(name, value):
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name} must be an http:// or https:// URL, got {value!r}")
    return value


def database_url(value):
    """SQLAlchemy needs the driver named; people paste plain postgres:// URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if value.startswith(prefix):
            return "postgresql+psycopg://" + value[len(prefix):]
    return value


def _secret_key(instance_path):
    """A random key kept in instance/ so the embedded default needs no setup."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(os.urandom(32).hex())
        path.chmod(0o600)
    return path.read_text().strip()


def _waha_url(name, value):
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name} must be an http:// or https:// URL, got {value!r}")
    return value.rstrip("/")


def _phone_region(name, value):
    import phonenumbers

    region = value.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"{name} must be a two-letter country code such as BR or US, got {value!r}")
    return region


def _seconds(name, value):
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}") from None
    if not 0 <= number <= 3600:
        raise ConfigError(f"{name} must be between 0 and 3600, got {value}")
    return number


def _language(name, value):
    from .i18n import LOCALES

    return _choice(name, value, LOCALES)


def _check_alert_recipients(config):
    """Needs DEFAULT_PHONE_REGION, so it runs once every setting is parsed."""
    from .waha.phones import parse_recipients

    _recipients, problems = parse_recipients(config["ALERT_WHATSAPP_TO"], config["DEFAULT_PHONE_REGION"])
    if problems:
        raise ConfigError("ALERT_WHATSAPP_TO: " + " ".join(problems))


def _choice(name, value, choices):
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _secret(name, value):
    """A shared secret: long enough not to be guessed, and safe in a URL path."""
    value = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9._~-]{16,200}", value):
        raise ConfigError(f"{name} must be 16 to 200 letters, digits, '-', '_', '.' or '~' "
                          "(openssl rand -hex 24 makes one)")
    return value


def _check_waha_webhook(config):
    """WAHA can only prove who it is with one of the two secrets."""
    if config["WAHA_WEBHOOK_BASE_URL"] and not (config["WAHA_WEBHOOK_TOKEN"] or config["WAHA_WEBHOOK_HMAC_KEY"]):
        raise ConfigError("WAHA_WEBHOOK_BASE_URL needs WAHA_WEBHOOK_TOKEN or WAHA_WEBHOOK_HMAC_KEY: without one, "
                          "ChronoFlow cannot tell WAHA's events from anyone else's")


def host_port(name, value):
    """host:port, e.g. 0.0.0.0:9100 -> ("0.0.0.0", 9100)."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"{name} must look like 127.0.0.1:9100 (host:port), got {value!r}")
    return host.strip("[]"), int(port)


def _rate_limit(name, value):
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{name} must look like '10 per minute;50 per hour', got {value!r}") from None
    return value


# name -> (default, parser). A default of None means "unset".
SETTINGS = {
    "DATABASE_URL": (None, lambda n, v: database_url(v)),
    "REDIS_URL": (None, lambda n, v: v),
    "HUEY_SQLITE_PATH": (None, lambda n, v: v),
    "QUEUE_NAME": ("chronoflow", lambda n, v: v),
    "SCHEDULER_INTERVAL": ("60", lambda n, v: _int(n, v, low=1, high=3600)),
    "SCHEDULER_BATCH_SIZE": ("1000", lambda n, v: _int(n, v, low=1, high=100_000)),
    "HTTP_REQUEST_TIMEOUT_MS": ("10000", lambda n, v: _int(n, v, low=100, high=600_000)),
    "RESPONSE_MAX_BYTES": ("65536", lambda n, v: _int(n, v, low=1024, high=10_485_760)),
    "ALLOWED_METHODS": (",".join(HTTP_METHODS), _methods),
    "OUTBOUND_ALLOWED_NETWORKS": ("", _networks),
    "DEFAULT_TIMEZONE": ("America/Sao_Paulo", _timezone),
    "WAHA_BASE_URL": ("http://127.0.0.1:3000", lambda n, v: _waha_url(n, v)),
    "WAHA_API_KEY": (None, lambda n, v: v),
    "WAHA_TIMEOUT_MS": ("15000", lambda n, v: _int(n, v, low=1000, high=120_000)),
    "DEFAULT_PHONE_REGION": ("BR", lambda n, v: _phone_region(n, v)),
    "MESSAGE_DELAY_MIN_SECONDS": ("30", lambda n, v: _seconds(n, v)),
    "MESSAGE_DELAY_MAX_SECONDS": ("60", lambda n, v: _seconds(n, v)),
    "MESSAGE_DAILY_CAP": ("500", lambda n, v: _int(n, v, low=0, high=1_000_000)),
    "WAHA_WEBHOOK_BASE_URL": (None, lambda n, v: _waha_url(n, v)),
    "WAHA_WEBHOOK_TOKEN": (None, _secret),
    "WAHA_WEBHOOK_HMAC_KEY": (None, _secret),
    "DEFAULT_MAX_ATTEMPTS": ("3", lambda n, v: _int(n, v, low=1, high=20)),
    "RETRY_BACKOFF_SECONDS": ("10", lambda n, v: _int(n, v, low=1, high=3600)),
    "RETRY_MAX_BACKOFF_SECONDS": ("600", lambda n, v: _int(n, v, low=1, high=86_400)),
    "RECOVERY_AFTER_SECONDS": ("120", lambda n, v: _int(n, v, low=10, high=86_400)),
    "MISFIRE_GRACE_SECONDS": ("60", lambda n, v: _int(n, v, low=1, high=86_400)),
    "MISFIRE_MAX_SKIPPED_ROWS": ("100", lambda n, v: _int(n, v, low=1, high=10_000)),
    "AUTO_PAUSE_AFTER_FAILURES": ("15", lambda n, v: _int(n, v, low=0, high=10_000)),
    "ALERT_WEBHOOK_URL": (None, lambda n, v: _url(n, v)),
    "ALERT_AFTER_FAILURES": ("3", lambda n, v: _int(n, v, low=1, high=10_000)),
    "ALERT_WHATSAPP_TO": ("", lambda n, v: tuple(e.strip() for e in v.split(",") if e.strip())),
    "ALERT_WHATSAPP_SESSION": ("default", lambda n, v: v.strip()),
    "ALERT_LANGUAGE": ("en", _language),
    "RUN_RETENTION_COUNT": ("1000", lambda n, v: _int(n, v, low=0, high=10_000_000)),
    "RUN_RETENTION_DAYS": ("90", lambda n, v: _int(n, v, low=0, high=36_500)),
    "PRUNE_BATCH_SIZE": ("10000", lambda n, v: _int(n, v, low=1, high=1_000_000)),
    "HEALTH_STALE_SECONDS": ("20", lambda n, v: _int(n, v, low=15, high=86_400)),
    "WORKER_THREADS": ("16", lambda n, v: _int(n, v, low=1, high=1024)),
    "RUN_BATCH_SIZE": ("200", lambda n, v: _int(n, v, low=1, high=10_000)),
    "CONCURRENT_CALLS": ("256", lambda n, v: _int(n, v, low=1, high=1024)),
    "SQLALCHEMY_ECHO": ("false", _bool),
    "LOGIN_RATE_LIMIT": ("10 per minute;50 per hour", _rate_limit),
    "SESSION_LIFETIME_DAYS": ("30", lambda n, v: _int(n, v, low=1, high=365)),
    "TRUSTED_PROXIES": ("0", lambda n, v: _int(n, v, low=0, high=10)),
    "LOG_FORMAT": ("text", lambda n, v: _choice(n, v.strip().lower(), ("text", "json"))),
    "LOG_LEVEL": ("INFO", lambda n, v: _choice(n, v.strip().upper(), ("DEBUG", "INFO", "WARNING", "ERROR"))),
    "METRICS_TOKEN": (None, _secret),
    "WORKER_METRICS_ADDRESS": (None, host_port),
    # Limits on what a request may hold (README "Limits").
    "MAX_REQUEST_BYTES": ("1048576", lambda n, v: _int(n, v, low=65_536, high=104_857_600)),
    "PAYLOAD_MAX_BYTES": ("65536", lambda n, v: _int(n, v, low=1024, high=10_485_760)),
    "HEADERS_MAX_BYTES": ("16384", lambda n, v: _int(n, v, low=1024, high=1_048_576)),
    "MESSAGE_MAX_RECIPIENTS": ("100", lambda n, v: _int(n, v, low=1, high=10_000)),
    "TEMPLATE_TIMEOUT_MS": ("1000", lambda n, v: _int(n, v, low=50, high=60_000)),
    "TEMPLATE_MAX_OUTPUT_CHARS": ("20000", lambda n, v: _int(n, v, low=100, high=1_000_000)),
    "TEMPLATE_MAX_MEMORY_MB": ("64", lambda n, v: _int(n, v, low=16, high=4096)),
}


def load(instance_path, environ=None, overrides=None):
    """The app's configuration: environment first, then explicit overrides (tests)."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    config = {}
    for name, (default, parse) in SETTINGS.items():
        raw = environ.get(name) or default
        if name in overrides:
            config[name] = overrides.pop(name)
        elif raw is not None:
            config[name] = parse(name, raw)
        else:
            config[name] = None
    config.update(overrides)
    _check_alert_recipients(config)
    _check_waha_webhook(config)

    config["DATABASE_URL"] = config["DATABASE_URL"] or f"sqlite:///{Path(instance_path) / 'chronoflow.db'}"
    config.setdefault("SQLALCHEMY_DATABASE_URI", config["DATABASE_URL"])
    config["HUEY_SQLITE_PATH"] = config["HUEY_SQLITE_PATH"] or str(Path(instance_path) / "huey.db")
    config.setdefault("SECRET_KEY", environ.get("SECRET_KEY") or _secret_key(instance_path))
    return config
