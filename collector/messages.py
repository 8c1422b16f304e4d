"""Wire messages: one msgspec Struct each, limits in the types.

New fields get defaults and go at the end, so entries already in the stream still
decode after an upgrade (msgspec's schema evolution rules).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from collector.questions import QuestionId

# The widget's textarea says 1,000 characters; the limit is counted after Unicode
# normalisation (NFC), so "é" typed as e + combining accent counts as one.
COMMENT_MAXIMUM_CHARACTERS = 1000
# Enough for every real browser's User-Agent; longer ones are cut, not refused.
USER_AGENT_MAXIMUM_CHARACTERS = 512
# A JWT with every optional claim and an RS256 signature is under 1,000 characters.
TRANSACTION_TOKEN_MAXIMUM_CHARACTERS = 4096

Rating = Annotated[int, msgspec.Meta(ge=1, le=5)]
Comment = Annotated[str, msgspec.Meta(max_length=COMMENT_MAXIMUM_CHARACTERS)]
Language = Literal["en", "ru", "hy", "ky", "uz", "kk"]
Channel = Literal["web", "kiosk", "qr", "link"]
ServiceSlug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]

AnswerValue = Annotated[str, msgspec.Meta(max_length=16)]
Answers = dict[QuestionId, AnswerValue]

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "ru", "hy", "ky", "uz", "kk")
CHANNELS: tuple[str, ...] = ("web", "kiosk", "qr", "link")


class RatingForm(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """What the citizen's form POST carries, after decoding and normalisation."""

    token: Annotated[str, msgspec.Meta(max_length=128)]
    rating: Rating
    comment: Comment = ""
    lang: Language = "en"
    channel: Channel = "web"
    # The honeypot: hidden from people, filled in by naive bots.
    website: Annotated[str, msgspec.Meta(max_length=200)] = ""
    layout: Literal["compact", "full", "page"] = "full"
    # One optional radio group per built-in question (collector/questions.py).
    q_duration: AnswerValue = ""
    q_resolved: AnswerValue = ""
    q_easy: AnswerValue = ""
    q_efficient: AnswerValue = ""
    q_transparent: AnswerValue = ""
    q_staff_helpful: AnswerValue = ""
    q_trust: AnswerValue = ""
    # The portal's transaction token, carried from the widget's link (?t=) to the POST.
    transaction: Annotated[str, msgspec.Meta(max_length=TRANSACTION_TOKEN_MAXIMUM_CHARACTERS)] = ""

    def answers(self) -> Answers:
        """The questions answered, by question id."""
        given: Answers = {
            "duration": self.q_duration,
            "resolved": self.q_resolved,
            "easy": self.q_easy,
            "efficient": self.q_efficient,
            "transparent": self.q_transparent,
            "staff_helpful": self.q_staff_helpful,
            "trust": self.q_trust,
        }
        return {question: value for question, value in given.items() if value}


class RatingEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One accepted rating as it travels through the Redis stream (JSON encoded)."""

    id: str
    service: ServiceSlug
    rating: Rating
    comment: Comment
    language: Language
    channel: Channel
    received_at: Annotated[int, msgspec.Meta(ge=0, lt=2**48)]  # ms since the epoch, UTC
    user_agent: Annotated[str, msgspec.Meta(max_length=USER_AGENT_MAXIMUM_CHARACTERS)] = ""
    answers: Answers = {}
    # From a verified transaction token: the portal's reference and attributes, and the
    # seconds the agency took to answer the case (from its case timestamps).
    transaction: Annotated[str, msgspec.Meta(max_length=128)] = ""
    office: Annotated[str, msgspec.Meta(max_length=64)] = ""
    operator: Annotated[str, msgspec.Meta(max_length=64)] = ""
    answer_seconds: Annotated[int, msgspec.Meta(ge=0, lt=2**40)] | None = None


class StoredRating(msgspec.Struct, frozen=True, kw_only=True):
    """A rating as storage keeps it: the event plus what the flusher derived."""

    id: str
    service: str
    rating: int
    comment: str
    language: str
    channel: str
    received_at: int
    device_class: str
    os_family: str
    browser_family: str
    is_bot: bool
    answers: dict[str, str] = {}
    transaction: str = ""
    office: str = ""
    operator: str = ""
    answer_seconds: int | None = None


class StarCounts(msgspec.Struct, frozen=True):
    one: int
    two: int
    three: int
    four: int
    five: int


class ServiceSummary(msgspec.Struct, frozen=True, kw_only=True):
    """GET /api/v1/services/{service}/summary."""

    service: str
    period_from: str | None
    period_to: str | None
    count: int
    mean: float | None
    csat: float | None  # share of 4 and 5 star ratings, 0..1
    stars: StarCounts
    newest_rating_at: str | None
    # Closed questions: count per answer value, by question id.
    answers: dict[str, dict[str, int]] = {}
    # Ratings whose transaction token gave the case's timestamps, and the mean time
    # the agency took to answer those cases.
    answered: int = 0
    mean_answer_seconds: float | None = None
    # Lower bound of the 95% Wilson interval of csat (collector/figures.py).
    csat_lower_bound: float | None = None
    comments: int = 0
    impressions: int = 0  # widget views over the same days
    response_rate: float | None = None  # count / impressions
    time_zone: str = "UTC"  # the tenant's: periods are its local days


class ErrorBody(msgspec.Struct, frozen=True, omit_defaults=True):
    """Every JSON error: what went wrong, and the field when one field is to blame."""

    status: int
    error: str
    detail: str
    field: str | None = None


EVENT_ENCODER = msgspec.json.Encoder()
EVENT_DECODER = msgspec.json.Decoder(RatingEvent)
