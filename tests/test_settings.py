"""Settings: every variable parsed, bad values named, the secret kept on disk."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from collector.settings import SECRET_FILE_NAME, Settings, SettingsError, shown_url

LONG_SECRET = "s" * 32
NOT_AN_INTEGER = "must be a whole number in digits 0-9"
BOOLEAN_WORDS = "must be one of on/off, true/false, yes/no, 1/0"

# (id, variable, raw value, Settings attribute, parsed value)
PARSED = [
    ("host", "COLLECTOR_HOST", "feedback.internal", "host", "feedback.internal"),
    ("host-blank-is-default", "COLLECTOR_HOST", "  ", "host", "127.0.0.1"),
    ("port", "COLLECTOR_PORT", "9000", "port", 9000),
    ("port-stripped", "COLLECTOR_PORT", " 9001 ", "port", 9001),
    ("port-lowest", "COLLECTOR_PORT", "1", "port", 1),
    ("port-highest", "COLLECTOR_PORT", "65535", "port", 65535),
    ("data-dir", "COLLECTOR_DATA_DIR", "/srv/feedback", "data_dir", Path("/srv/feedback")),
    ("secret", "COLLECTOR_SECRET", LONG_SECRET, "secret", LONG_SECRET),
    ("previous", "COLLECTOR_PREVIOUS_SECRET", LONG_SECRET, "previous_secret", LONG_SECRET),
    ("redis", "REDIS_URL", "redis://cache:6379/0", "redis_url", "redis://cache:6379/0"),
    ("redis-tls", "REDIS_URL", "rediss://cache:6380", "redis_url", "rediss://cache:6380"),
    ("redis-socket", "REDIS_URL", "unix:///run/r.sock", "redis_url", "unix:///run/r.sock"),
    ("database", "DATABASE_URL", "sqlite:////var/c.db", "database_url", "sqlite:////var/c.db"),
    ("postgresql", "DATABASE_URL", "postgresql://db/cf", "database_url", "postgresql://db/cf"),
    ("postgres", "DATABASE_URL", "postgres://db/cf", "database_url", "postgres://db/cf"),
    ("flusher-off", "COLLECTOR_FLUSHER", "off", "run_flusher", False),
    ("flusher-false", "COLLECTOR_FLUSHER", "FALSE", "run_flusher", False),
    ("flusher-no", "COLLECTOR_FLUSHER", "no", "run_flusher", False),
    ("flusher-0", "COLLECTOR_FLUSHER", "0", "run_flusher", False),
    ("flusher-on", "COLLECTOR_FLUSHER", "on", "run_flusher", True),
    ("demo-0", "COLLECTOR_DEMO", "0", "create_demo", False),
    ("demo-yes", "COLLECTOR_DEMO", "Yes", "create_demo", True),
    ("demo-true", "COLLECTOR_DEMO", "true", "create_demo", True),
    ("demo-1", "COLLECTOR_DEMO", "1", "create_demo", True),
    ("log-level-lowered", "COLLECTOR_LOG_LEVEL", "WARNING", "log_level", "warning"),
    ("log-level-debug", "COLLECTOR_LOG_LEVEL", "debug", "log_level", "debug"),
    ("rate-limit", "COLLECTOR_RATE_LIMIT_PER_MINUTE", "120", "rate_limit_per_minute", 120),
    ("max-age-lowest", "COLLECTOR_FORM_TOKEN_MAX_AGE", "60", "form_token_max_age_seconds", 60),
    (
        "max-age-week",
        "COLLECTOR_FORM_TOKEN_MAX_AGE",
        "604800",
        "form_token_max_age_seconds",
        604800,
    ),
    ("batch-size", "FLUSH_BATCH_SIZE", "250", "flush_batch_size", 250),
    ("max-deliveries", "FLUSH_MAX_DELIVERIES", "3", "flush_max_deliveries", 3),
    ("claim-idle", "FLUSH_CLAIM_IDLE_SECONDS", "90", "flush_claim_idle_seconds", 90),
    ("block", "FLUSH_BLOCK_MILLISECONDS", "5000", "flush_block_milliseconds", 5000),
    ("fsync", "COLLECTOR_REDIS_APPENDFSYNC", "everysec", "embedded_redis_appendfsync", "everysec"),
    (
        "proxies",
        "COLLECTOR_FORWARDED_ALLOW_IPS",
        "10.0.0.0/8",
        "forwarded_allow_ips",
        "10.0.0.0/8",
    ),
    ("public-url", "COLLECTOR_PUBLIC_URL", "https://x.gov", "public_url", "https://x.gov"),
    ("embedded-redis", "COLLECTOR_EMBEDDED_REDIS_PORT", "6390", "embedded_redis_port", 6390),
    ("header-timeout", "COLLECTOR_HEADER_TIMEOUT_SECONDS", "2.5", "header_timeout_seconds", 2.5),
    ("body-timeout", "COLLECTOR_BODY_TIMEOUT_SECONDS", "30", "body_timeout_seconds", 30.0),
    ("stop-timeout", "COLLECTOR_STOP_TIMEOUT_SECONDS", "25", "stop_timeout_seconds", 25),
]

# (id, variable, raw value, reason after "VARIABLE='raw': ")
REFUSED = [
    ("port-not-a-number", "COLLECTOR_PORT", "abc", NOT_AN_INTEGER),
    ("port-too-high", "COLLECTOR_PORT", "70000", "must be between 1 and 65535"),
    ("port-arabic-indic", "COLLECTOR_PORT", "٨٠٠٠", NOT_AN_INTEGER),
    ("port-underscore", "COLLECTOR_PORT", "8_000", NOT_AN_INTEGER),
    ("port-plus", "COLLECTOR_PORT", "+8000", NOT_AN_INTEGER),
    ("port-0", "COLLECTOR_PORT", "0", "must be between 1 and 65535"),
    ("port-negative", "COLLECTOR_PORT", "-1", "must be between 1 and 65535"),
    ("embedded-too-high", "COLLECTOR_EMBEDDED_REDIS_PORT", "65536", "must be between 0 and 65535"),
    ("flusher-maybe", "COLLECTOR_FLUSHER", "maybe", BOOLEAN_WORDS),
    ("demo-2", "COLLECTOR_DEMO", "2", BOOLEAN_WORDS),
    ("log-level-loud", "COLLECTOR_LOG_LEVEL", "loud", "must be one of debug, info, warning, error"),
    ("rate-limit-0", "COLLECTOR_RATE_LIMIT_PER_MINUTE", "0", "must be between 1 and 1000000"),
    ("max-age-59", "COLLECTOR_FORM_TOKEN_MAX_AGE", "59", "must be between 60 and 604800"),
    ("batch-too-big", "FLUSH_BATCH_SIZE", "10001", "must be between 1 and 10000"),
    ("deliveries-0", "FLUSH_MAX_DELIVERIES", "0", "must be between 1 and 1000"),
    ("claim-idle-fraction", "FLUSH_CLAIM_IDLE_SECONDS", "1.5", NOT_AN_INTEGER),
    ("fsync-no", "COLLECTOR_REDIS_APPENDFSYNC", "no", "must be one of always, everysec"),
    ("block-zero", "FLUSH_BLOCK_MILLISECONDS", "0", "must be between 10 and 60000"),
    ("stop-timeout-0", "COLLECTOR_STOP_TIMEOUT_SECONDS", "0", "must be between 1 and 3600"),
    (
        "header-timeout-0",
        "COLLECTOR_HEADER_TIMEOUT_SECONDS",
        "0",
        "must be between 0.1 and 600 seconds",
    ),
    (
        "body-timeout-nan",
        "COLLECTOR_BODY_TIMEOUT_SECONDS",
        "nan",
        "must be between 0.1 and 600 seconds",
    ),
    (
        "body-timeout-word",
        "COLLECTOR_BODY_TIMEOUT_SECONDS",
        "soon",
        "could not convert string to float: 'soon'",
    ),
]


PASSWORD = "S3cr3t-pa55"
TOO_SHORT = "must be at least 32 characters"
# Variables that may hold a secret or a password: (id, variable, raw value, reason after
# "VARIABLE: "), the value never shown.
CONFIDENTIAL_REFUSED = [
    ("secret-short", "COLLECTOR_SECRET", f"short-{PASSWORD}", TOO_SHORT),
    ("secret-31-chars", "COLLECTOR_SECRET", "s" * 31, TOO_SHORT),
    ("previous-secret-short", "COLLECTOR_PREVIOUS_SECRET", f"old-{PASSWORD}", TOO_SHORT),
    (
        "redis-http",
        "REDIS_URL",
        f"http://:{PASSWORD}@cache:6379",
        "must start with redis:// or rediss:// or unix://",
    ),
    (
        "database-mysql",
        "DATABASE_URL",
        f"mysql://admin:{PASSWORD}@db.internal/cf",
        "must start with sqlite:/// or postgresql:// or postgres://",
    ),
    (
        "database-unclosed-ipv6",
        "DATABASE_URL",
        f"postgresql://admin:{PASSWORD}@[db/cf",
        "not a connection URL psycopg accepts: end of string reached when looking for "
        'matching "…" in IPv6 host address in URI: "…"',
    ),
    (
        "database-unknown-parameter",
        "DATABASE_URL",
        f"postgres://admin:{PASSWORD}@db/cf?{PASSWORD}=1",
        'not a connection URL psycopg accepts: invalid URI query parameter: "…"',
    ),
]


def test_defaults_when_the_environment_is_empty() -> None:
    assert Settings.from_environment({}) == Settings(
        host="127.0.0.1",
        port=8000,
        data_dir=Path("data"),
        secret="",
        public_url="",
        redis_url="",
        embedded_redis_port=0,
        database_url="",
        run_flusher=True,
        create_demo=True,
        log_level="info",
        rate_limit_per_minute=30,
        form_token_max_age_seconds=43200,
        flush_batch_size=1000,
        flush_block_milliseconds=2000,
        flush_max_deliveries=5,
        flush_claim_idle_seconds=60,
    )


@pytest.mark.parametrize(
    ("variable", "raw", "attribute", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in PARSED],
)
def test_each_variable_is_parsed(variable: str, raw: str, attribute: str, expected: object) -> None:
    settings = Settings.from_environment({variable: raw})
    assert getattr(settings, attribute) == expected


@pytest.mark.parametrize(
    ("variable", "raw", "reason"),
    [pytest.param(*row[1:], id=row[0]) for row in REFUSED],
)
def test_bad_values_fail_naming_the_variable(variable: str, raw: str, reason: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_environment({variable: raw})
    assert str(caught.value).startswith(f"{variable}=")
    assert str(caught.value) == f"{variable}={raw!r}: {reason}"


@pytest.mark.parametrize(
    ("variable", "raw", "reason"),
    [pytest.param(*row[1:], id=row[0]) for row in CONFIDENTIAL_REFUSED],
)
def test_bad_secrets_and_urls_are_named_but_never_shown(
    variable: str, raw: str, reason: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_environment({variable: raw})
    assert str(caught.value) == f"{variable}: {reason}"
    assert PASSWORD not in str(caught.value)
    assert raw not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://admin:{PASSWORD}@db:5432/cf", "postgresql://admin:***@db:5432/cf"),
        (f"redis://:{PASSWORD}@127.0.0.1:6390/0", "redis://:***@127.0.0.1:6390/0"),
        ("sqlite:////srv/c.db", "sqlite:////srv/c.db"),
        (f"postgres://admin:{PASSWORD}@[db/cf", "postgres://…"),
        (
            f"postgresql://db/cf?user=admin&password={PASSWORD}&sslmode=require",
            "postgresql://db/cf?user=admin&password=***&sslmode=require",
        ),
        (
            f"postgresql://admin@db/cf?sslpassword={PASSWORD}&sslkey=/k.pem",
            "postgresql://admin@db/cf?sslpassword=***&sslkey=/k.pem",
        ),
        (f"postgresql://db/cf?PassWord={PASSWORD}", "postgresql://db/cf?PassWord=***"),
        (f"postgresql://db/cf?pass%77ord={PASSWORD}", "postgresql://db/cf?pass%77ord=***"),
        (f"rediss://cache:6380/0?password={PASSWORD}", "rediss://cache:6380/0?password=***"),
        (
            f"postgresql://admin:{PASSWORD}@db/cf?password={PASSWORD}",
            "postgresql://admin:***@db/cf?password=***",
        ),
        (f"redis://user:{PASSWORD}@cache:6379", "redis://user:***@cache:6379"),
        (f"redis://:p@ss{PASSWORD}@cache:6379", "redis://:***@cache:6379"),
        ("redis://user@cache:6379?db=2", "redis://user@cache:6379?db=2"),
        (
            "postgresql://db/cf?sslmode=require&passfile=/p",
            "postgresql://db/cf?sslmode=require&passfile=/p",
        ),
    ],
)
def test_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_with_secret_creates_a_private_secret_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    settings = Settings(data_dir=data_dir).with_secret()
    path = data_dir / SECRET_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="ascii") == settings.secret + "\n"
    assert len(settings.secret) >= 32


def test_with_secret_reuses_the_persisted_secret(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).with_secret()
    second = Settings(data_dir=tmp_path).with_secret()
    assert second.secret == first.secret


def test_with_secret_keeps_an_explicit_secret(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret=LONG_SECRET)
    assert settings.with_secret() is settings
    assert not (tmp_path / SECRET_FILE_NAME).exists()


def test_with_secret_refuses_a_short_secret_file(tmp_path: Path) -> None:
    path = tmp_path / SECRET_FILE_NAME
    path.write_text("short\n", encoding="ascii")
    with pytest.raises(SettingsError) as caught:
        Settings(data_dir=tmp_path).with_secret()
    assert str(caught.value) == f"{path}: the secret must be at least 32 chars"


def test_effective_database_url_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve()}/collector.db"


def test_effective_database_url_resolves_a_relative_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(data_dir=Path("data"))
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve()}/data/collector.db"


def test_effective_database_url_prefers_the_configured_one(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="sqlite:////srv/c.db")
    assert settings.effective_database_url == "sqlite:////srv/c.db"


@pytest.mark.parametrize(
    ("host", "port", "public_url", "expected"),
    [
        pytest.param("127.0.0.1", 8000, "", "http://127.0.0.1:8000", id="default"),
        pytest.param("localhost", 9000, "", "http://localhost:9000", id="host-and-port"),
        pytest.param(
            "127.0.0.1",
            8000,
            "https://feedback.example.gov/",
            "https://feedback.example.gov",
            id="public-url-trailing-slash",
        ),
        pytest.param(
            "127.0.0.1",
            8000,
            "https://example.gov/feedback//",
            "https://example.gov/feedback",
            id="public-url-with-path",
        ),
        pytest.param(
            "::1",
            8000,
            "",
            "http://[::1]:8000",
            id="ipv6-host-bracketed",
        ),
    ],
)
def test_effective_public_url(host: str, port: int, public_url: str, expected: str) -> None:
    settings = Settings(host=host, port=port, public_url=public_url)
    assert settings.effective_public_url == expected


def test_derived_keys_differ_by_purpose_and_need_a_secret() -> None:
    settings = Settings(secret="s" * 40)
    assert settings.derived_key("a") == settings.derived_key("a")
    assert settings.derived_key("a") != settings.derived_key("b")
    assert settings.derived_key("a") != Settings(secret="t" * 40).derived_key("a")
    with pytest.raises(SettingsError, match="no secret"):
        Settings().derived_key("a")
