"""Devices: a User-Agent string into device class, OS family, browser family, bot flag.

user-agents is pure-Python regular expressions and far slower than the rest of a
request, so this runs in the flusher, cached per distinct string (real traffic has few).
"""

from __future__ import annotations

from functools import lru_cache

import msgspec
import user_agents


class Device(msgspec.Struct, frozen=True):
    device_class: str  # mobile, tablet, desktop, bot or other
    os_family: str
    browser_family: str
    is_bot: bool


UNKNOWN_DEVICE = Device("other", "Other", "Other", False)


@lru_cache(maxsize=4096)
def classify(user_agent: str) -> Device:
    if not user_agent:
        return UNKNOWN_DEVICE
    parsed = user_agents.parse(user_agent)
    if parsed.is_bot:
        device_class = "bot"
    elif parsed.is_tablet:
        device_class = "tablet"
    elif parsed.is_mobile:
        device_class = "mobile"
    elif parsed.is_pc:
        device_class = "desktop"
    else:
        device_class = "other"
    return Device(
        device_class=device_class,
        os_family=str(parsed.os.family)[:64],
        browser_family=str(parsed.browser.family)[:64],
        is_bot=bool(parsed.is_bot),
    )
