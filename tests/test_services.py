"""Service configuration: only validated values reach the widget's CSS."""

from __future__ import annotations

import msgspec
import pytest

from collector.services import CONFIG_DECODER, ServiceConfig, Theme, contrast_with_white


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"theme": {"accent": "red"}}', "Expected `str` matching regex"),
        ('{"theme": {"accent": "#000;} body{display:none"}}', "Expected `str` matching regex"),
        ('{"theme": {"accent": "#ffff00"}}', "contrast 1.07:1 with white text"),
        ('{"theme": {"radius": 99}}', "Expected `int` <= 24"),
        ('{"theme": {"font": "Comic Sans\\"; }"}}', "Invalid enum value"),
        ('{"theme": {"colour": "#000000"}}', "unknown field `colour`"),
        ('{"questions": ["duration", "resolved", "easy", "trust"]}', "length <= 3"),
        ('{"questions": ["duration", "duration"]}', "a question is listed twice"),
        ('{"questions": ["favourite_colour"]}', "Invalid enum value 'favourite_colour'"),
        ('{"layout": "huge"}', "Invalid enum value 'huge'"),
        ('{"names": {"fr": "Permis"}}', "Invalid enum value 'fr'"),
        ('{"allowed_origins": ["https://portal.gov/done"]}', "Expected `str` matching regex"),
        ('{"allowed_origins": ["javascript:alert(1)"]}', "Expected `str` matching regex"),
        ('{"allowed_origins": ["https://a.gov; script-src *"]}', "Expected `str` matching regex"),
    ],
)
def test_bad_configurations_are_refused(document: str, message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=message.replace("(", r"\(")):
        CONFIG_DECODER.decode(document)


def test_a_good_configuration() -> None:
    config = CONFIG_DECODER.decode(
        '{"theme": {"accent": "#1d4d2b", "radius": 12, "font": "serif"},'
        ' "questions": ["easy", "trust"], "layout": "compact", "languages": ["ru", "kk"]}'
    )
    assert config.theme == Theme(accent="#1d4d2b", radius=12, font="serif")
    assert config.questions == ("easy", "trust")
    assert ServiceConfig().theme.accent == "#0b57d0"


@pytest.mark.parametrize(
    ("colour", "expected"), [("#000000", 21.0), ("#ffffff", 1.0), ("#0b57d0", 6.39)]
)
def test_contrast_with_white(colour: str, expected: float) -> None:
    assert round(contrast_with_white(colour), 2) == expected
