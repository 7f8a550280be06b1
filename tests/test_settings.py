"""stacktap.settings: one parser per kind of setting, for flags, variables and paste options."""

import pytest

from stacktap import settings


@pytest.mark.parametrize(
    ("text", "size"), [("1048576", 1048576), ("512k", 512 * 1024), ("2M", 2 * 1024**2), ("1GiB", 1024**3)]
)
def test_sizes(text: str, size: int) -> None:
    assert settings.parse_size(text) == size


def test_a_bad_size_is_a_value_error_and_the_default_from_the_environment() -> None:
    with pytest.raises(ValueError):
        settings.parse_size("lots")
    assert settings.body_cap_from_env({settings.BODY_CAP: "lots"}) == settings.DEFAULT_BODY_CAP
    assert settings.body_cap_from_env({settings.BODY_CAP: "2M"}) == 2 * 1024**2
    assert settings.body_cap_from_env({}) == settings.DEFAULT_BODY_CAP


def test_booleans_and_headers() -> None:
    assert settings.parse_bool("Yes") and not settings.parse_bool("0") and settings.parse_bool("", True)
    assert settings.merge_headers("a=1,b=2", "b=3") == {"a": "1", "b": "3"}


def test_the_bootstrap_reads_the_names_settings_declares() -> None:
    """sitecustomize reads a few variables before stacktap is importable: the same names."""
    from pathlib import Path

    import stacktap

    text = (Path(stacktap.__file__).parent / "agent" / "bootstrap" / "sitecustomize.py").read_text()
    for name in (settings.HOME, settings.DB, settings.OTLP_ENDPOINT, settings.OTLP):
        assert f'"{name}"' in text
