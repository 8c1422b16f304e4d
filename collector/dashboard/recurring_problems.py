"""Recurring problems: the words and phrases that a service's 1 and 2 star comments
repeat, per language (collector/recurring_terms.py finds them)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from collector.recurring_terms import RecurringTerm, recurring_terms
from collector.storage.base import CommentQuery, Storage

# The newest low-star comments read per page view: enough for terms to stand out,
# few enough that counting them (about 0.1 s for 3,000) stays off the page's way.
COMMENTS_READ = 3000
TERMS_SHOWN = 10
LOWEST_STARS, HIGHEST_STARS = 1, 2


@dataclass(frozen=True, slots=True)
class LanguageProblems:
    language: str
    comments: int  # the language's low-star comments read
    terms: list[RecurringTerm]


@dataclass(frozen=True, slots=True)
class RecurringProblems:
    comments: int  # low-star comments read, every language
    languages: list[LanguageProblems]  # most comments first; only those with terms


async def recurring_problems(
    storage: Storage, service: str, received_from: int | None, received_before: int | None
) -> RecurringProblems:
    """The terms of the newest COMMENTS_READ 1 and 2 star comments in the bounds."""
    rows = await storage.comments(
        CommentQuery(
            services=(service,),
            received_from=received_from,
            received_before=received_before,
            minimum_rating=LOWEST_STARS,
            maximum_rating=HIGHEST_STARS,
            limit=COMMENTS_READ,
            include_bots=False,
        )
    )
    texts = [(row.language, row.comment) for row in rows]
    # Counting is CPU work: a thread keeps the widget's requests on this loop moving.
    found = await asyncio.to_thread(recurring_terms, texts, limit=TERMS_SHOWN)
    per_language: dict[str, int] = {}
    for language, _ in texts:
        per_language[language] = per_language.get(language, 0) + 1
    languages = [
        LanguageProblems(language, per_language.get(language, 0), terms)
        for language, terms in found.items()
        if terms
    ]
    languages.sort(key=lambda entry: (-entry.comments, entry.language))
    return RecurringProblems(len(texts), languages)
