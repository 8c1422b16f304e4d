"""The runtime: every long-lived object a collector process needs, opened and closed once."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from collector.auth import AnalystTokens
from collector.buffer import RatingBuffer
from collector.client_hash import ClientHasher
from collector.form_token import FormTokenSigner
from collector.pages import WidgetPages, widget_directory
from collector.redis_clients import hot_path_client
from collector.services import DEMO_SERVICE, DEMO_TENANT_ID, DEMO_TENANT_NAME, ServiceCatalog
from collector.settings import Settings
from collector.storage import Storage, open_storage
from collector.translations import Catalogs


@dataclass(slots=True)
class Runtime:
    settings: Settings
    redis: Redis
    storage: Storage
    services: ServiceCatalog
    signer: FormTokenSigner
    hasher: ClientHasher
    buffer: RatingBuffer
    pages: WidgetPages
    analyst_tokens: AnalystTokens

    @classmethod
    async def open(cls, settings: Settings) -> Runtime:
        """Migrate storage, create the demo service if asked, connect to Redis.

        settings must carry a secret and a Redis URL (the embedded server's, if any).
        """
        if not settings.secret or not settings.redis_url:
            raise ValueError("Runtime.open needs settings with a secret and a Redis URL")
        storage = open_storage(settings.effective_database_url)
        await storage.migrate()
        if settings.create_demo:
            await storage.ensure_tenant(DEMO_TENANT_ID, DEMO_TENANT_NAME)
            await storage.ensure_service(DEMO_SERVICE)
        services = ServiceCatalog(await storage.list_services())
        redis = hot_path_client(settings.redis_url)
        directory = widget_directory()
        return cls(
            settings=settings,
            redis=redis,
            storage=storage,
            services=services,
            signer=FormTokenSigner(settings.secret, settings.form_token_max_age_seconds),
            hasher=ClientHasher(redis),
            buffer=RatingBuffer(
                redis,
                rate_limit_per_minute=settings.rate_limit_per_minute,
                nonce_ttl_seconds=settings.form_token_max_age_seconds,
            ),
            pages=WidgetPages(Catalogs(directory / "translations"), directory),
            analyst_tokens=AnalystTokens(settings.secret),
        )

    async def close(self) -> None:
        await self.redis.aclose()
        await self.storage.close()
