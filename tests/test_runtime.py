"""Opening the runtime: migrations, the demo service, reloading services."""

from __future__ import annotations

import msgspec

from collector.runtime import Runtime
from collector.services import DEMO_SERVICE, ServiceConfig
from collector.settings import Settings


async def test_demo_is_created_once_and_keeps_later_changes(settings: Settings) -> None:
    first = await Runtime.open(settings)
    assert first.services.get(DEMO_SERVICE.slug) == DEMO_SERVICE
    changed = msgspec.structs.replace(DEMO_SERVICE, config=ServiceConfig(layout="compact"))
    await first.storage.save_service(changed)
    await first.close()
    second = await Runtime.open(settings)  # a restart
    assert second.services.get(DEMO_SERVICE.slug) == changed
    await second.close()


async def test_reload_reports_and_rerenders_changed_services(runtime: Runtime) -> None:
    before = runtime.pages.blank_form(DEMO_SERVICE, "en", "full", "web", "t").body
    assert await runtime.reload_services() == set()
    compact = msgspec.structs.replace(DEMO_SERVICE, config=ServiceConfig(layout="compact"))
    await runtime.storage.save_service(compact)
    assert await runtime.reload_services() == {DEMO_SERVICE.slug}
    service = runtime.services.get(DEMO_SERVICE.slug)
    assert service is not None
    after = runtime.pages.blank_form(service, "en", "full", "web", "t").body
    assert after != before  # the cached page was dropped (no questions any more)
