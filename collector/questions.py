"""Questions: the built-in closed questions a service may add to the stars (at most three).

Answers are stored as typed values so that they can be counted per value. Texts live in
the widget's catalogs (`q_<id>` and `q_<id>_<value>`), and a service may override a
question's wording per language.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Final, Literal

from collector.errors import BadRequest

QuestionId = Literal[
    "duration", "resolved", "easy", "efficient", "transparent", "staff_helpful", "trust"
]

# The customer-experience drivers of government CX programmes, each agree/disagree.
_AGREEMENT: Final = ("agree", "disagree")

QUESTIONS: Final[dict[str, tuple[str, ...]]] = {
    "duration": ("under_1h", "same_day", "under_week", "under_month", "longer"),
    "resolved": ("yes", "partly", "no"),
    "easy": _AGREEMENT,
    "efficient": _AGREEMENT,
    "transparent": _AGREEMENT,
    "staff_helpful": _AGREEMENT,
    "trust": _AGREEMENT,
}

MAXIMUM_QUESTIONS_PER_SERVICE: Final = 3


def answer_field(question: str) -> str:
    """The form field of a question's radio group."""
    return f"q_{question}"


def refuse_unasked(asked: Collection[str], answered: Iterable[str]) -> None:
    """BadRequest for an answer to a question the service does not ask: its form did
    not send it."""
    unasked = [question for question in answered if question not in asked]
    if unasked:
        unasked.sort()
        raise BadRequest(f"this service does not ask {', '.join(unasked)}", field=unasked[0])
