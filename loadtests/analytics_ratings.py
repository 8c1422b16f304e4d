"""Synthetic ratings for the analytics benchmark: services with Zipf-like volumes and
their own star mix, audience, questions and offices, and their ratings a day at a time.

Everything comes from one seeded random.Random, so the same parameters give the same data.
"""

# Comments in Russian and Armenian look like Latin letters to ruff.
# ruff: noqa: RUF001

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from collector.questions import QUESTIONS
from collector.services import Service, ServiceConfig

T = TypeVar("T")

DAYS = 730
# The tenant under test, and two small ones so that its league table is a real filter.
TENANT = ("armenia", "Government of Armenia (benchmark)", "Asia/Yerevan")
OTHER_TENANTS = (
    ("bishkek", "Bishkek city hall (benchmark)", "Asia/Bishkek"),
    ("uzbekistan", "Virtual reception of Uzbekistan (benchmark)", "Asia/Tashkent"),
)
OTHER_TENANT_SERVICES = 3

_NATIONAL_SERVICES = (
    "passport-renewal",
    "vehicle-registration",
    "tax-declaration",
    "pension-application",
    "civil-registry-certificate",
    "property-cadastre-extract",
    "driving-licence",
    "social-benefits",
)
_AGENCIES = (
    "Ministry of Internal Affairs",
    "State Revenue Committee",
    "Ministry of Labour and Social Affairs",
    "Ministry of Justice",
    "Cadastre Committee",
    "Yerevan municipality",
)
_LANGUAGE_MIX = {
    "armenia": {"hy": 60, "ru": 25, "en": 9, "kk": 2, "ky": 2, "uz": 2},
    "bishkek": {"ky": 55, "ru": 40, "en": 5},
    "uzbekistan": {"uz": 70, "ru": 25, "en": 5},
}
# (device class, OS family, browser family, is bot): the names user-agents reports.
_DEVICE_MIX = {
    ("mobile", "Android", "Chrome Mobile", 0): 36,
    ("mobile", "iOS", "Mobile Safari", 0): 20,
    ("mobile", "Android", "Samsung Internet", 0): 6,
    ("mobile", "Android", "Yandex Browser", 0): 3,
    ("desktop", "Windows", "Chrome", 0): 16,
    ("desktop", "Windows", "Edge", 0): 5,
    ("desktop", "Windows", "Firefox", 0): 2,
    ("desktop", "Mac OS X", "Safari", 0): 3,
    ("desktop", "Linux", "Firefox", 0): 1,
    ("tablet", "iOS", "Mobile Safari", 0): 4,
    ("tablet", "Android", "Chrome Mobile", 0): 2,
    ("bot", "Other", "Googlebot", 1): 1,
    ("other", "Other", "Other", 0): 1,
}
# Unhappy citizens write more often: with a typical star mix about 20% comment.
_COMMENT_CHANCE = (0.0, 0.5, 0.38, 0.25, 0.14, 0.11)
_COMMENTS = {
    "en": (
        ("Waited over two hours in the queue.", "Nobody answered the phone for a week.",
         "The online form kept rejecting my documents.", "I came back three times for one stamp."),
        ("It worked, but the instructions were confusing.", "Fine, the office closes too early.",
         "The site is slow on my phone."),
        ("Quick and polite, thank you!", "Everything was done online in ten minutes.",
         "The operator explained every step."),
    ),
    "ru": (
        ("Ждал в очереди больше двух часов.", "Неделю никто не отвечал на звонки.",
         "Онлайн-форма не принимала документы.", "Пришлось приходить три раза ради печати."),
        ("Всё получилось, но инструкции запутанные.", "Нормально, только офис рано закрывается.",
         "Сайт медленно работает с телефона."),
        ("Быстро и вежливо, спасибо!", "Всё сделал онлайн за десять минут.",
         "Оператор объяснил каждый шаг."),
    ),
    "hy": (
        ("Հերթում սպասեցի ավելի քան երկու ժամ։", "Մեկ շաբաթ ոչ ոք չպատասխանեց զանգերին։",
         "Առցանց ձևը չէր ընդունում փաստաթղթերը։"),
        ("Ստացվեց, բայց հրահանգները շփոթեցնող էին։", "Լավ էր, բայց գրասենյակը շուտ է փակվում։"),
        ("Արագ և քաղաքավարի, շնորհակալություն։", "Ամեն ինչ արեցի առցանց տասը րոպեում։",
         "Օպերատորը բացատրեց ամեն քայլը։"),
    ),
}  # fmt: skip
# Local hour of day (Yerevan): office hours, a lunch dip, quiet nights.
_HOUR_WEIGHTS = (2, 1, 0.5, 0.5, 0.5, 1, 3, 8, 15, 26, 32, 33, 30, 28, 30, 31, 29, 24, 18,
                 15, 13, 11, 8, 4)  # fmt: skip
_WEEKDAY_WEIGHTS = (1.0, 1.05, 1.0, 1.0, 0.92, 0.5, 0.38)  # Monday first
_TABLE_SIZE = 1024  # per-service lookup tables: one getrandbits(10) per attribute
HOUR = 3_600_000


def _table(values: Sequence[T], weights: Sequence[float], size: int = _TABLE_SIZE) -> tuple[T, ...]:
    """`size` values in proportion to their weights, for drawing with one random index."""
    cumulative = list(itertools.accumulate(weights))
    total = cumulative[-1]
    return tuple(
        values[bisect.bisect_right(cumulative, (slot + 0.5) * total / size)] for slot in range(size)
    )


def _answer_tables() -> dict[str, tuple[tuple[str, ...], ...]]:
    """Per question, per star (index 1 to 5): 16 answers, more favourable with more stars."""
    tables: dict[str, tuple[tuple[str, ...], ...]] = {}
    for question, values in QUESTIONS.items():
        per_star: list[tuple[str, ...]] = [()]
        for star in range(1, 6):
            favour = (star - 1) / 4  # 0 for one star, 1 for five
            # The first value is the favourable one (yes, agree, under_1h).
            weights = [
                0.3 + 4 * (favour if position == 0 else (1 - favour) * position / len(values))
                for position in range(len(values))
            ]
            per_star.append(_table(values, weights, 16))
        tables[question] = tuple(per_star)
    return tables


_ANSWERS = _answer_tables()
_DEVICES = _table(list(_DEVICE_MIX), list(_DEVICE_MIX.values()))
_HOUR_CUMULATIVE = list(itertools.accumulate(_HOUR_WEIGHTS))


@dataclass(frozen=True, slots=True)
class Profile:
    """How one service's ratings look: volume, star mix, audience, questions, offices."""

    service: Service
    weight: float
    stars: tuple[int, ...]
    languages: tuple[str, ...]
    channels: tuple[str, ...]
    offices: tuple[str, ...]  # empty: the portal signs no transaction tokens
    views_per_rating: float


def _profile(generator: random.Random, service: Service, weight: float) -> Profile:
    slope = generator.triangular(-0.3, 1.0, 0.6)  # above 0: more fives than ones
    star_weights = [math.exp(slope * star) for star in range(5)]
    star_weights[0] += generator.uniform(0, 0.4) * max(star_weights)  # the angry minority
    languages = _LANGUAGE_MIX[service.tenant_id]
    offices: tuple[str, ...] = ()
    if generator.random() < 0.3:
        offices = tuple(f"office-{number:02d}" for number in range(generator.randint(3, 40)))
    channels = {
        "web": 1.0,
        "qr": generator.uniform(0, 0.2),
        "kiosk": generator.uniform(0.05, 0.3) if offices else 0.01,
        "link": generator.uniform(0, 0.15),
    }
    return Profile(
        service=service,
        weight=weight,
        stars=_table(range(1, 6), star_weights),
        languages=_table(
            list(languages), [share * generator.uniform(0.5, 1.5) for share in languages.values()]
        ),
        channels=_table(list(channels), list(channels.values())),
        offices=offices,
        views_per_rating=generator.uniform(3, 12),
    )


def service_profiles(generator: random.Random, services: int) -> list[Profile]:
    """The tenant's services, biggest first (weight 1/rank), then the other tenants'."""
    profiles = []
    for index in range(services):
        slug = (
            _NATIONAL_SERVICES[index]
            if index < len(_NATIONAL_SERVICES)
            else f"local-service-{index:03d}"
        )
        config = ServiceConfig(
            questions=tuple(generator.sample(sorted(QUESTIONS), generator.randint(1, 3)))  # type: ignore[arg-type]
            if generator.random() < 0.65
            else (),
            agency=_AGENCIES[index % len(_AGENCIES)],
        )
        service = Service(
            slug=slug, tenant_id=TENANT[0], name=slug.replace("-", " ").capitalize(), config=config
        )
        profiles.append(_profile(generator, service, 1 / (index + 1)))
    for tenant, _, _ in OTHER_TENANTS:
        for number in range(OTHER_TENANT_SERVICES):
            slug = f"{tenant}-service-{number}"
            service = Service(slug=slug, tenant_id=tenant, name=slug)
            # Each about as busy as the tenant's 100th service.
            profiles.append(_profile(generator, service, 1 / 100))
    return profiles


def day_counts(generator: random.Random, first_day: date, ratings: int) -> list[int]:
    """Ratings per day summing to `ratings`: growth over the two years, quiet weekends,
    New Year's week and August."""
    weights = []
    for number in range(DAYS):
        day = first_day + timedelta(days=number)
        season = 0.45 if (day.month, day.day) <= (1, 7) else 0.8 if day.month == 8 else 1.0
        weights.append(
            (0.6 + 0.4 * number / (DAYS - 1))
            * _WEEKDAY_WEIGHTS[day.weekday()]
            * season
            * generator.uniform(0.9, 1.1)
        )
    exact = [ratings * weight / sum(weights) for weight in weights]
    counts = [int(value) for value in exact]
    # Largest remainders get the ratings rounding left over, so the total is exact.
    by_remainder = sorted(range(DAYS), key=lambda n: exact[n] - counts[n], reverse=True)
    for number in by_remainder[: ratings - sum(counts)]:
        counts[number] += 1
    return counts


def _rating_id(milliseconds: int, random_bits: int) -> str:
    """A UUIDv7 as collector.ids makes it, from the generator's bits (reproducible)."""
    value = (milliseconds << 80) | (0x7 << 76) | (((random_bits >> 62) & 0xFFF) << 64)
    value |= (0b10 << 62) | (random_bits & ((1 << 62) - 1))
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class Ratings:
    """Rows for the ratings table, one local day at a time, in arrival order."""

    def __init__(self, generator: random.Random, profiles: list[Profile]) -> None:
        self._generator = generator
        self._profiles = profiles
        self._cumulative = list(itertools.accumulate(profile.weight for profile in profiles))
        self._transactions = [0] * len(profiles)

    def day(self, start: int, count: int) -> tuple[list[tuple[object, ...]], list[int]]:
        """The day's rows (from local midnight `start`) and ratings per profile."""
        draw = self._generator
        picks = draw.choices(range(len(self._profiles)), cum_weights=self._cumulative, k=count)
        hours = draw.choices(range(24), cum_weights=_HOUR_CUMULATIVE, k=count)
        arrivals = sorted(
            (start + hour * HOUR + draw.randrange(HOUR), pick)
            for hour, pick in zip(hours, picks, strict=True)
        )
        per_profile = [0] * len(self._profiles)
        rows = []
        for received_at, pick in arrivals:
            per_profile[pick] += 1
            rows.append(self._row(received_at, pick))
        return rows, per_profile

    def _row(self, received_at: int, pick: int) -> tuple[object, ...]:
        draw = self._generator
        bits = draw.getrandbits
        profile = self._profiles[pick]
        stars = profile.stars[bits(10)]
        language = profile.languages[bits(10)]
        device_class, os_family, browser, is_bot = _DEVICES[bits(10)]
        comment = ""
        if draw.random() < _COMMENT_CHANCE[stars]:
            mood = _COMMENTS.get(language, _COMMENTS["ru"])[(stars - 1) // 2]
            comment = mood[bits(8) % len(mood)]
            if bits(1):
                comment += " " + mood[bits(8) % len(mood)]
        answers = "{}"
        questions = profile.service.config.questions
        if questions and draw.random() < 0.7:
            answers = (
                "{" + ",".join(f'"{q}":"{_ANSWERS[q][stars][bits(4)]}"' for q in questions) + "}"
            )
        transaction = office = operator = None
        answer_seconds = None
        if profile.offices and draw.random() < 0.6:
            self._transactions[pick] += 1
            transaction = f"case-{self._transactions[pick]}"
            office = profile.offices[bits(16) % len(profile.offices)]
            operator = f"{office}/operator-{bits(3)}"
            # Cases take from minutes to weeks; the median is about a day.
            answer_seconds = min(int(draw.lognormvariate(11.4, 1.3)), 10**8)
        identifier = _rating_id(received_at, bits(74))
        channel = profile.channels[bits(10)]
        # Drawn for the client hash the table no longer has: the same seed still gives
        # the ratings the published figures were measured on.
        bits(96)
        return (
            identifier,
            profile.service.slug,
            stars,
            comment,
            language,
            channel,
            received_at,
            device_class,
            os_family,
            browser,
            is_bot,
            answers,
            transaction,
            office or "",
            operator or "",
            answer_seconds,
            received_at + 200 + bits(12),  # stored_at: the flusher's delay
        )
