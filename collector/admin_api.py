"""Admin API: tenants, services and portal signing keys, and the rejection counters.

Tokens with role admin manage their own tenant; role platform manages every tenant and
alone creates tenants. Another tenant's service or key answers 404, like a missing one.
Every change is written to storage and applied to this process at once; other
processes follow within CONFIGURATION_RELOAD_SECONDS.
"""

from __future__ import annotations

import re
import time
from typing import Annotated

from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from collector.admin_messages import (
    KeyRequest,
    KeyView,
    RejectionReport,
    ServiceDefinition,
    ServiceView,
    TenantDefinition,
    TenantView,
)
from collector.analyst_scope import AnalystScope
from collector.auth import AnalystClaims
from collector.errors import BadRequest, CollectorError, Forbidden, NotFound
from collector.local_days import is_time_zone
from collector.rejections import REJECTION_DAYS_KEPT, UNKNOWN_SERVICE
from collector.runtime import Runtime
from collector.services import Service
from collector.signing_keys import KeyMaterialError, new_signing_key
from collector.storage import RecordRejected

_IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_ADMIN = "/api/v1/admin"


class Conflict(CollectorError):
    status_code = 409
    reason = "conflict"


def _admin(runtime: Runtime, request: Request) -> AnalystClaims:  # type: ignore[type-arg]
    claims = runtime.analyst_tokens.verify_header(request.headers.get("authorization"))
    if claims.role not in ("admin", "platform"):
        raise Forbidden("this needs a token with the admin role")
    return claims


def _identifier(value: str, what: str) -> str:
    if not _IDENTIFIER.fullmatch(value):
        raise BadRequest(f"{what} {value[:70]!r}: use 1 to 63 lower-case letters, digits, hyphens")
    return value


def _target_tenant(claims: AnalystClaims, named: str | None) -> str:
    """The tenant a change is for: the token's own, or the one a platform token names."""
    if claims.role == "platform":
        if not named:
            raise BadRequest("a platform token must name the tenant", field="tenant")
        return _identifier(named, "tenant")
    if named and named != claims.tenant:
        raise NotFound(f"no tenant {named!r} for your token", field="tenant")
    return claims.tenant


async def _known_tenant(runtime: Runtime, tenant_id: str) -> None:
    if tenant_id not in {tenant.id for tenant in await runtime.storage.list_tenants()}:
        raise NotFound(f"no tenant {tenant_id!r}", field="tenant")


@get(f"{_ADMIN}/tenants", summary="Tenants the token may see")
async def list_tenants(
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
) -> list[TenantView]:
    claims = _admin(runtime, request)
    return [
        TenantView(tenant.id, tenant.name, tenant.time_zone)
        for tenant in await runtime.storage.list_tenants()
        if claims.may_read(tenant.id)
    ]


@put(f"{_ADMIN}/tenants/{{tenant:str}}", summary="Create or rename a tenant (platform)")
async def save_tenant(
    tenant: FromPath[str],
    data: JSONBody[TenantDefinition],
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
) -> TenantView:
    claims = _admin(runtime, request)
    if claims.role != "platform":
        raise Forbidden("only a platform token creates or renames tenants")
    data = data.cleaned()
    if data.time_zone is not None and not is_time_zone(data.time_zone):
        raise BadRequest(
            f"unknown time zone {data.time_zone[:64]!r}; use an IANA name such as Asia/Yerevan",
            field="time_zone",
        )
    await runtime.storage.save_tenant(_identifier(tenant, "tenant"), data.name)
    if data.time_zone is not None:
        await runtime.storage.set_tenant_time_zone(tenant, data.time_zone)
    await runtime.reload_services()
    saved = runtime.tenants[tenant]
    return TenantView(saved.id, saved.name, saved.time_zone)


@get(f"{_ADMIN}/services", summary="The tenant's services")
async def list_services(
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
) -> list[ServiceView]:
    claims = _admin(runtime, request)
    services = await runtime.storage.list_services()
    return [ServiceView.of(s) for s in services if claims.may_read(s.tenant_id)]


@get(f"{_ADMIN}/services/{{slug:str}}", summary="One service")
async def show_service(
    slug: FromPath[str],
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
) -> ServiceView:
    return ServiceView.of(AnalystScope(_admin(runtime, request), runtime).service(slug))


@put(f"{_ADMIN}/services/{{slug:str}}", summary="Create or replace a service")
async def save_service(
    slug: FromPath[str],
    data: JSONBody[ServiceDefinition],
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
) -> Response[ServiceView]:
    """201 when created, 200 when replaced. A slug is unique across tenants."""
    claims = _admin(runtime, request)
    _identifier(slug, "service slug")
    data = data.cleaned()
    existing = runtime.services.get(slug)
    if existing is not None and not claims.may_manage(existing.tenant_id):
        raise Conflict(f"the slug {slug!r} is taken; choose another", field="slug")
    tenant_id = existing.tenant_id if existing else _target_tenant(claims, data.tenant)
    if existing and data.tenant and data.tenant != existing.tenant_id:
        raise BadRequest("a service cannot move to another tenant", field="tenant")
    await _known_tenant(runtime, tenant_id)
    service = Service(
        slug=slug,
        tenant_id=tenant_id,
        name=data.name,
        default_language=data.default_language,
        config=data.config,
    )
    await runtime.storage.save_service(service)
    await runtime.reload_services()
    return Response(ServiceView.of(service), status_code=200 if existing else 201)


@get(f"{_ADMIN}/keys", summary="The tenant's signing keys (never their secrets)")
async def list_keys(
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
) -> list[KeyView]:
    claims = _admin(runtime, request)
    keys = await runtime.storage.list_signing_keys()
    return [KeyView.of(key) for key in keys if claims.may_read(key.tenant_id)]


@post(f"{_ADMIN}/keys", summary="Add a signing key (HS256 secrets are shown once)")
async def add_key(
    data: JSONBody[KeyRequest],
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
) -> Response[KeyView]:
    claims = _admin(runtime, request)
    tenant_id = _target_tenant(claims, data.tenant)
    await _known_tenant(runtime, tenant_id)
    try:
        key = new_signing_key(tenant_id, data.algorithm, data.public_key, data.kid)
    except KeyMaterialError as error:
        raise BadRequest(str(error), field="public_key" if data.public_key else "kid") from None
    try:
        await runtime.storage.save_signing_key(key)
    except RecordRejected:
        # Only the tenant's own kids clash: another tenant's are never revealed.
        raise Conflict(
            f"tenant {tenant_id!r} has a key {key.kid!r} already; choose another kid",
            field="kid",
        ) from None
    await runtime.reload_keys()
    return Response(KeyView.of(key, with_secret=True), status_code=201)


@post(
    f"{_ADMIN}/keys/{{kid:str}}/revoke",
    summary="Revoke a key: its tokens fail at once",
    status_code=200,  # nothing is created; the schema said 201
)
async def revoke_key(
    kid: FromPath[str],
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
    tenant: Annotated[
        str | None, QueryParameter(description="the key's tenant (platform tokens only)")
    ] = None,
) -> Response[KeyView]:
    """A kid is unique within its tenant: a platform token names the tenant."""
    tenant_id = _target_tenant(_admin(runtime, request), tenant)
    revoked = await runtime.storage.revoke_signing_key(tenant_id, kid, int(time.time()))
    if revoked is None:
        raise NotFound(f"no key {kid[:70]!r} in tenant {tenant_id!r}", field="kid")
    await runtime.reload_keys()
    return Response(KeyView.of(revoked), status_code=200)


@get(f"{_ADMIN}/rejections", summary="Refused requests per service and reason")
async def rejections(
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
    days: Annotated[
        int,
        QueryParameter(ge=1, le=REJECTION_DAYS_KEPT, description="UTC days back, today included"),
    ] = 7,
) -> RejectionReport:
    """Reasons: token_* (transaction tokens), form_token_* (replayed or forged forms),
    duplicate (a second rating of one form or transaction: thanked, not stored),
    rate_limited, honeypot, bad_request, payload_too_large, view_flood and
    view_overflow (widget views not counted), and so on. Requests for
    services that do not exist are counted under "-" (platform tokens only)."""
    claims = _admin(runtime, request)
    services = [
        s.slug for s in await runtime.storage.list_services() if claims.may_read(s.tenant_id)
    ]
    if claims.role == "platform":
        services.append(UNKNOWN_SERVICE)
    return RejectionReport(days, await runtime.rejections.read(services, days))


ROUTES = [
    list_tenants,
    save_tenant,
    list_services,
    show_service,
    save_service,
    list_keys,
    add_key,
    revoke_key,
    rejections,
]
