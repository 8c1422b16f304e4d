"""Admin API: erase a portal transaction's rating, on a citizen's request to the agency.

Authorised like the rest of the admin API: an admin token for its own tenant, or a
platform token. Another tenant's service answers 404, exactly like a missing one.
"""

from __future__ import annotations

import msgspec
from litestar import Request, delete
from litestar.di import NamedDependency
from litestar.params import FromPath

from collector.analyst_scope import AnalystScope
from collector.erasure import ErasureReport, check_reference, erase_transaction
from collector.errors import Forbidden
from collector.runtime import Runtime

# Long enough for a flusher to finish the batch holding the rating; a flusher that died
# holding it answers 503 until another one claims its entries (FLUSH_CLAIM_IDLE_SECONDS).
_WAIT_SECONDS = 10.0


class ErasureView(msgspec.Struct, frozen=True):
    """What an erasure removed. Zeros everywhere: nothing was held for the reference."""

    service: str
    transaction: str
    stream_entries: int  # ratings not yet flushed to storage
    dead_letters: int
    stored_ratings: int

    @classmethod
    def of(cls, service: str, transaction: str, report: ErasureReport) -> ErasureView:
        return cls(
            service,
            transaction,
            report.stream_entries,
            report.dead_letters,
            report.stored_ratings,
        )


@delete(
    "/api/v1/admin/services/{slug:str}/transactions/{reference:str}",
    summary="Erase everything stored for a portal transaction (a citizen's request)",
    status_code=200,
)
async def erase(
    slug: FromPath[str],
    reference: FromPath[str],
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
) -> ErasureView:
    """The rating leaves the Redis stream, the dead letters and storage, and the day's
    figures are rebuilt without it. The transaction still cannot be rated again.
    Safe to repeat; 503 when a flusher still holds the rating or a store does not
    answer, and then worth repeating."""
    claims = runtime.analyst_tokens.verify_header(request.headers.get("authorization"))
    if claims.role not in ("admin", "platform"):
        raise Forbidden("this needs a token with the admin role")
    service = AnalystScope(claims, runtime).service(slug)
    check_reference(reference)
    report = await erase_transaction(
        runtime.redis,
        runtime.storage,
        service.slug,
        reference,
        wait_seconds=_WAIT_SECONDS,
        shards=runtime.settings.redis_shards,
    )
    return ErasureView.of(service.slug, reference, report)


ROUTES = [erase]
