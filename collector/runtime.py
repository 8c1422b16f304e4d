"""The runtime: every long-lived object a collector process needs, opened and closed once."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from redis.exceptions import RedisError

from collector.auth import AnalystTokens
from collector.buffer import RateLimit, RatingBuffer
from collector.client_hash import ClientHasher
from collector.clock import Clock, wall_clock
from collector.errors import ServiceUnavailable
from collector.form_token import CLOCK_SKEW_SECONDS, FormTokenSigner
from collector.forwarded import TrustedProxies
from collector.impression_counter import ImpressionCounter
from collector.pages import WidgetPages, widget_directory
from collector.redis_clients import RedisClient, hot_path_client
from collector.rejections import RejectionCounter
from collector.sealed_secrets import sealer_for
from collector.services import (
    DEMO_SERVICE,
    DEMO_TENANT_ID,
    DEMO_TENANT_NAME,
    ServiceCatalog,
    ServiceConfig,
    Tenant,
)
from collector.settings import Settings
from collector.signing_keys import KeyRing
from collector.spool import SPOOL_DIRECTORY, RatingSpool
from collector.storage import Storage, open_storage
from collector.transaction_token import TransactionTokenVerifier
from collector.translations import Catalogs

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Runtime:
    settings: Settings
    redis: RedisClient
    storage: Storage
    services: ServiceCatalog
    signer: FormTokenSigner
    hasher: ClientHasher
    buffer: RatingBuffer
    pages: WidgetPages
    analyst_tokens: AnalystTokens
    keys: KeyRing
    transactions: TransactionTokenVerifier
    rejections: RejectionCounter
    proxies: TrustedProxies
    # This process's widget views; runner.py runs its push task.
    impressions: ImpressionCounter
    tenants: dict[str, Tenant]
    # Where ratings wait while Redis does not answer (None: refuse them with a 503).
    spool: RatingSpool | None
    # A rating's moment and every "today": the wall clock, or the one a test sets.
    clock: Clock

    @classmethod
    async def open(cls, settings: Settings, clock: Clock = wall_clock) -> Runtime:
        """Migrate storage, create the demo service if asked, connect to Redis.

        settings must carry a secret and a Redis URL (the embedded server's, if any).
        """
        if not settings.secret or not settings.redis_url:
            raise ValueError("Runtime.open needs settings with a secret and a Redis URL")
        storage = open_storage(settings.effective_database_url, sealer_for(settings))
        await storage.migrate()
        if settings.create_demo:
            await _ensure_demo(storage)
        services = ServiceCatalog(await storage.list_services())
        keys = KeyRing(await storage.list_signing_keys())
        redis = hot_path_client(settings.redis_url, settings.redis_cluster)
        await _check_redis_version(redis)
        directory = widget_directory()
        hasher = ClientHasher(redis)
        # Now, so that views are deduplicated with the day's view salt from the first
        # one (collector/impression_counter.py); Redis down is said above.
        with contextlib.suppress(ServiceUnavailable):
            await hasher.load_view_salt(clock())
            await hasher.load_salt()
        return cls(
            settings=settings,
            redis=redis,
            storage=storage,
            services=services,
            signer=FormTokenSigner(settings.secret, settings.form_token_max_age_seconds),
            hasher=hasher,
            buffer=RatingBuffer(
                redis,
                # A client may send its minute's worth at once (a kiosk after a queue);
                # a service, ten seconds' worth.
                client_limit=RateLimit(
                    settings.rate_limit_per_minute, burst=settings.rate_limit_per_minute
                ),
                service_limit=RateLimit(
                    settings.service_rate_limit_per_minute,
                    burst=max(1, settings.service_rate_limit_per_minute // 6),
                ),
                # A token stays valid up to max_age after a time up to CLOCK_SKEW in
                # the future; its nonce must be remembered at least that long.
                nonce_ttl_seconds=settings.form_token_max_age_seconds + 2 * CLOCK_SKEW_SECONDS,
                shards=settings.redis_shards,
            ),
            pages=WidgetPages(Catalogs(directory / "translations"), directory),
            analyst_tokens=AnalystTokens(settings.secret),
            keys=keys,
            transactions=TransactionTokenVerifier(keys),
            rejections=RejectionCounter(redis, clock),
            proxies=TrustedProxies(settings.forwarded_allow_ips),
            impressions=ImpressionCounter(redis, hasher=hasher, clock=clock),
            tenants=_displayable(await storage.list_tenants()),
            spool=RatingSpool(settings.data_dir / SPOOL_DIRECTORY) if settings.spool else None,
            clock=clock,
        )

    async def reload_services(self) -> set[str]:
        """Load services (and tenants) from storage again; pages of changed services are
        re-rendered."""
        self.tenants = _displayable(await self.storage.list_tenants())
        changed = self.services.replace(await self.storage.list_services())
        if changed:
            self.pages.forget(changed)
            logger.info("services changed: %s", ", ".join(sorted(changed)))
        return changed

    async def reload_keys(self) -> None:
        """Load the portals' signing keys again: a new or revoked key takes effect."""
        self.keys.replace(await self.storage.list_signing_keys())

    async def reload(self) -> None:
        """Services and keys, as the CLI or another process may have changed them."""
        await self.reload_services()
        await self.reload_keys()

    async def close(self) -> None:
        if self.spool is not None:
            self.spool.close()
        await self.redis.aclose()
        await self.storage.close()


def _displayable(tenants: list[Tenant]) -> dict[str, Tenant]:
    """Tenants by id, their names as they may be shown: pages render from here."""
    return {tenant.id: tenant.displayable() for tenant in tenants}


async def _ensure_demo(storage: Storage) -> None:
    """Create the demo service once; never undo what `collector service update` did.
    A demo created before service configurations existed gets the demo configuration."""
    existing = {service.slug: service for service in await storage.list_services()}
    current = existing.get(DEMO_SERVICE.slug)
    if current is None or current.config == ServiceConfig():
        await storage.save_tenant(DEMO_TENANT_ID, DEMO_TENANT_NAME)
        await storage.save_service(DEMO_SERVICE)


# SET ... NX GET (the daily salt) needs Redis 7.0; Valkey reports 7.2.4 for compatibility.
_MINIMUM_REDIS_VERSION = (7, 0)


async def _check_redis_version(redis: RedisClient) -> None:
    """Fail at start on a Redis too old for our commands; start anyway if it is down
    (ratings then get the 503 page until it answers)."""
    try:  # INFO only reads
        version = str((await redis.info("server"))["redis_version"])
    except (RedisError, OSError) as error:
        logger.warning(
            "Redis does not answer at start (%s); widget POSTs get 503 until it does", error
        )
        return
    numbers = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
    if numbers < _MINIMUM_REDIS_VERSION:
        raise RuntimeError(f"Redis {version} is too old: civic-feedback needs 7.0 or newer")
