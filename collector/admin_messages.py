"""Wire messages of the admin API (collector/admin_api.py)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from collector import plain_text
from collector.messages import Language
from collector.plain_text import NAME_CHARACTERS
from collector.services import Service, ServiceConfig
from collector.signing_keys import Algorithm, SigningKey

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_CHARACTERS)]


class TenantDefinition(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """PUT /api/v1/admin/tenants/{tenant}."""

    name: Name
    # IANA zone whose days the tenant's figures use, e.g. "Asia/Yerevan". Omitted: kept
    # (UTC for a new tenant). A change rebuilds the tenant's rollups from raw ratings.
    time_zone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None

    def cleaned(self) -> TenantDefinition:
        """Texts checked and normalised; Unprocessable (422) names the field."""
        zone = self.time_zone
        return msgspec.structs.replace(
            self,
            name=plain_text.clean(self.name, "name", maximum=NAME_CHARACTERS),
            time_zone=None if zone is None else plain_text.clean(zone, "time_zone", maximum=64),
        )


class TenantView(msgspec.Struct, frozen=True):
    id: str
    name: str
    time_zone: str = "UTC"


class ServiceDefinition(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """PUT /api/v1/admin/services/{slug}: the whole service, created or replaced."""

    name: Name
    default_language: Language = "en"
    # A factory, not an instance: Litestar's schema generator hashes defaults.
    config: ServiceConfig = msgspec.field(default_factory=ServiceConfig)
    # Platform tokens say which tenant; a tenant admin's services are their tenant's.
    tenant: str | None = None

    def cleaned(self) -> ServiceDefinition:
        """Texts checked and normalised; Unprocessable (422) names the field."""
        return msgspec.structs.replace(
            self,
            name=plain_text.clean(self.name, "name", maximum=NAME_CHARACTERS),
            config=self.config.cleaned(),
        )


class ServiceView(msgspec.Struct, frozen=True, kw_only=True):
    slug: str
    tenant: str
    name: str
    default_language: str
    config: ServiceConfig

    @classmethod
    def of(cls, service: Service) -> ServiceView:
        return cls(
            slug=service.slug,
            tenant=service.tenant_id,
            name=service.name,
            default_language=service.default_language,
            config=service.config,
        )


class KeyRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """POST /api/v1/admin/keys: HS256 gets a generated secret; EdDSA and RS256 need the
    portal's public key as PEM."""

    algorithm: Algorithm = "HS256"
    public_key: Annotated[str, msgspec.Meta(max_length=8192)] | None = None
    kid: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    tenant: str | None = None  # platform tokens only


class KeyView(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    kid: str
    tenant: str
    algorithm: str
    created_at: int
    revoked_at: int | None = None
    public_key: str | None = None
    # Only in the answer that created an HS256 key: it is never shown again.
    secret: str | None = None

    @classmethod
    def of(cls, key: SigningKey, *, with_secret: bool = False) -> KeyView:
        return cls(
            kid=key.kid,
            tenant=key.tenant_id,
            algorithm=key.algorithm,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
            public_key=key.material if key.algorithm != "HS256" else None,
            secret=key.material if with_secret and key.algorithm == "HS256" else None,
        )


class RejectionReport(msgspec.Struct, frozen=True):
    """Refused requests per service and reason over the last `days` UTC days."""

    days: int
    services: dict[str, dict[str, int]]
