"""Translations: the real catalogs are complete, and the language is chosen as documented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector.translations import Catalogs

TRANSLATIONS = Path(__file__).resolve().parents[1] / "widget" / "translations"
LANGUAGES = sorted(path.stem for path in TRANSLATIONS.glob("*.json"))


@pytest.fixture(scope="module")
def catalogs() -> Catalogs:
    return Catalogs(TRANSLATIONS)


def read_catalog(language: str) -> dict[str, str]:
    messages: dict[str, str] = json.loads((TRANSLATIONS / f"{language}.json").read_text("utf-8"))
    return messages


def test_the_real_catalogs_load(catalogs: Catalogs) -> None:
    assert "en" in LANGUAGES
    assert "ru" in LANGUAGES
    assert catalogs.languages == tuple(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_has_exactly_the_english_keys(language: str, catalogs: Catalogs) -> None:
    reference = set(read_catalog("en"))
    keys = set(catalogs.messages(language))
    assert sorted(reference - keys) == [], "missing"
    assert sorted(keys - reference) == [], "extra"


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_has_no_empty_messages(language: str, catalogs: Catalogs) -> None:
    messages = catalogs.messages(language)
    assert all(isinstance(text, str) for text in messages.values())
    assert [key for key, text in messages.items() if not text.strip()] == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_legend_names_the_service(language: str, catalogs: Catalogs) -> None:
    assert "{service}" in catalogs.messages(language)["legend"]


def test_messages_of_a_language_without_a_catalog_are_english(catalogs: Catalogs) -> None:
    assert catalogs.messages("fr") == read_catalog("en")
    assert catalogs.messages("ru") == read_catalog("ru")


@pytest.mark.parametrize(
    ("requested", "accept_language", "default", "expected"),
    [
        pytest.param("ru", "en", "en", "ru", id="lang-parameter-wins"),
        pytest.param("en", "ru", "ru", "en", id="lang-parameter-wins-over-default"),
        pytest.param("fr", "ru", "en", "ru", id="unknown-lang-falls-to-header"),
        pytest.param("", "ru", "en", "ru", id="empty-lang-falls-to-header"),
        pytest.param(None, "ru", "en", "ru", id="no-lang-parameter"),
        pytest.param(None, "en;q=0.5, ru;q=0.9", "en", "ru", id="higher-q-first"),
        pytest.param(None, "ru;q=0.4,en;q=0.8", "ru", "en", id="higher-q-first-no-spaces"),
        pytest.param(None, "ru, en", "en", "ru", id="equal-q-keeps-order"),
        pytest.param(None, "en, ru", "ru", "en", id="equal-q-keeps-order-reversed"),
        pytest.param(None, "fr, de;q=0.9, ru;q=0.1", "en", "ru", id="first-known-language"),
        pytest.param(None, "ru-RU", "en", "ru", id="region-subtag"),
        pytest.param(None, "RU-ru,en;q=0.5", "en", "ru", id="upper-case-tag"),
        pytest.param(None, "ru;q=0, en;q=0.1", "ru", "en", id="q-zero-excluded"),
        pytest.param(None, "ru;q=0", "en", "en", id="only-q-zero-uses-default"),
        pytest.param(None, "ru;q=high", "en", "en", id="bad-q-excluded"),
        pytest.param(None, ";;,,=;q=,", "ru", "ru", id="garbage-header"),
        pytest.param(None, "\x00\xff", "ru", "ru", id="binary-header"),
        pytest.param(None, "*", "ru", "ru", id="wildcard-uses-default"),
        pytest.param(None, "fr-FR, de", "ru", "ru", id="unknown-languages-use-default"),
        pytest.param(None, "", "ru", "ru", id="empty-header-uses-default"),
        pytest.param(None, None, "ru", "ru", id="default-used"),
        pytest.param("fr", None, "ru", "ru", id="unknown-lang-no-header-default"),
        pytest.param(None, None, "fr", "en", id="unknown-default-is-english"),
        pytest.param(None, None, "fr", "en", id="default-without-catalog-is-english"),
        pytest.param(None, "de", "", "en", id="empty-default-is-english"),
    ],
)
def test_choose(
    requested: str | None,
    accept_language: str | None,
    default: str,
    expected: str,
    catalogs: Catalogs,
) -> None:
    assert catalogs.choose(requested, accept_language, default) == expected


def write_catalogs(directory: Path, catalogs: dict[str, dict[str, str]]) -> Path:
    for language, messages in catalogs.items():
        (directory / f"{language}.json").write_text(json.dumps(messages), encoding="utf-8")
    return directory


@pytest.mark.parametrize(
    ("catalogs", "message"),
    [
        pytest.param(
            {"en": {"legend": "L", "submit": "S"}, "ru": {"legend": "Л"}},
            "ru.json lacks submit",
            id="one-key-missing",
        ),
        pytest.param(
            {"en": {"a": "A", "b": "B", "c": "C"}, "kk": {"b": "B"}},
            "kk.json lacks a, c",
            id="several-keys-missing-sorted",
        ),
        pytest.param(
            {"en": {"a": "A"}, "hy": {"a": "A"}, "ky": {}},
            "ky.json lacks a",
            id="empty-catalog",
        ),
    ],
)
def test_a_catalog_missing_a_key_is_refused(
    tmp_path: Path, catalogs: dict[str, dict[str, str]], message: str
) -> None:
    with pytest.raises(RuntimeError) as caught:
        Catalogs(write_catalogs(tmp_path, catalogs))
    assert str(caught.value) == message


def test_a_directory_without_english_is_refused(tmp_path: Path) -> None:
    write_catalogs(tmp_path, {"ru": {"legend": "Л"}})
    with pytest.raises(RuntimeError) as caught:
        Catalogs(tmp_path)
    assert str(caught.value) == f"{tmp_path}: no en.json catalog"
