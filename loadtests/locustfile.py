"""A citizen's visit, as Locust users: open the widget, think, rate, see the thanks.

Most citizens rate once. Some send an incomplete form first (422, then they fix it),
some press "send" twice (the second is thanked and stores nothing), and a few bots post
with a forged form token (403). Any other answer is a failure, and Locust then exits
with 1. Every rating that got a 303 is counted in ACCEPTED_FILE (when set), so the
run can be reconciled with storage.
"""

from __future__ import annotations

import json
import os
import random
import re
from typing import Any
from urllib.parse import urlencode

import gevent
from locust import FastHttpUser, between, events, task

SERVICE = os.environ.get("LOADTEST_SERVICE", "demo-passport")
_TOKEN = re.compile(r'name="token" value="([^"]+)"')
_LANGUAGES = ("hy", "ru", "ky", "uz", "kk", "en")
_COMMENTS = ("", "", "", "Быстро и вежливо", "Hերթը երկար էր", "Long queue at window 3")
accepted = 0


class Citizen(FastHttpUser):
    wait_time = between(1, 5)  # between one citizen's visits

    def on_start(self) -> None:
        # Each simulated citizen comes from an address of their own (through the
        # trusted local proxy), so the rate limit per citizen applies as in real life.
        self.address = (
            f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"  # noqa: S311
        )

    def _post(self, fields: dict[str, str], expected: int, name: str) -> Any:
        with self.client.post(
            f"/w/{SERVICE}",
            data=urlencode(fields),
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "x-forwarded-for": self.address,
            },
            allow_redirects=False,
            name=name,
            catch_response=True,
        ) as response:
            if response.status_code != expected:
                response.failure(f"expected {expected}, got {response.status_code}")
            else:
                response.success()
            return response

    @task
    def visit(self) -> None:
        language = random.choice(_LANGUAGES)  # noqa: S311
        with self.client.get(
            f"/w/{SERVICE}?lang={language}", name="GET form", catch_response=True
        ) as page:
            match = _TOKEN.search(page.text or "")
            if page.status_code != 200 or not match:
                page.failure(f"no form (status {page.status_code})")
                return
        token = match.group(1)
        gevent.sleep(random.uniform(2, 8))  # noqa: S311 (reading, choosing the stars)
        fields = {
            "token": token,
            "rating": str(random.choice((1, 2, 3, 4, 4, 5, 5, 5))),  # noqa: S311
            "comment": random.choice(_COMMENTS),  # noqa: S311
            "lang": language,
            "layout": "full",
            "channel": "web",
        }
        kind = random.random()  # noqa: S311
        if kind < 0.03:
            forged = {**fields, "token": token[:-4] + "AAAA"}
            self._post(forged, 403, "POST forged token")
            return
        if kind < 0.13:
            self._post({**fields, "rating": ""}, 422, "POST without stars")
            gevent.sleep(random.uniform(1, 3))  # noqa: S311
        response = self._post(fields, 303, "POST rating")
        if response.status_code != 303:
            return
        global accepted
        accepted += 1
        if kind > 0.93:
            self._post(fields, 303, "POST again (duplicate)")
        self.client.get(response.headers["location"], name="GET thanks")


@events.test_stop.add_listener
def _write_accepted(**_: Any) -> None:
    path = os.environ.get("ACCEPTED_FILE")
    if path:
        with open(path, "w", encoding="ascii") as handle:
            json.dump({"accepted": accepted}, handle)
