"""Configuration a newcomer can read: every variable settings.py reads is documented (in .env.example or the
README's table), .env.example shows at most 30 everyday ones and none that nothing reads, and every
default is written once."""

from __future__ import annotations

import re

from tests.conftest import PROJECT

SETTINGS = (PROJECT / "liqsite" / "settings.py").read_text()
README = (PROJECT / "README.md").read_text()
EXAMPLE = (PROJECT / ".env.example").read_text()


def read_by_settings() -> set[str]:
    """Every variable name settings.py reads: through the env helpers, os.environ, or by pattern."""
    names = set(re.findall(r'\b(?:env_[a-z]+|_[a-z_]+)\(\s*"([A-Z][A-Z0-9_]+)"', SETTINGS))
    names |= set(re.findall(r'os\.environ(?:\.get\(|\[)\s*"([A-Z][A-Z0-9_]+)"', SETTINGS))
    names |= set(re.findall(r'"([A-Z][A-Z0-9_]+)" in os\.environ', SETTINGS))
    if "EXCHANGE_[A-Z0-9]+_[A-Z0-9]+_URL" in SETTINGS:
        names.add("EXCHANGE_<NAME>_<KIND>_URL")
    return names


def in_readme_table() -> set[str]:
    section = README[README.index("## Configuration") :]
    section = section[: section.index("\n## ", 1)]
    names: set[str] = set()
    for row in (line for line in section.splitlines() if line.startswith("| `")):
        first_cell = row.split(" | ")[0]
        names |= set(re.findall(r"`([A-Z][A-Z0-9_<>]+)`", first_cell))
    return names


def in_example() -> list[str]:
    return re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", EXAMPLE, flags=re.MULTILINE)


def test_every_variable_settings_reads_is_documented():
    undocumented = read_by_settings() - in_readme_table() - set(in_example())
    assert not undocumented, f"document these in README.md's Configuration table: {sorted(undocumented)}"


def test_the_readme_table_names_no_variable_that_nothing_reads():
    by_pattern = {n for n in in_readme_table() if re.fullmatch(r"EXCHANGE_[A-Z0-9]+_[A-Z0-9]+_URL", n)}
    stale = in_readme_table() - read_by_settings() - by_pattern
    assert not stale, f"no longer read by settings.py: {sorted(stale)}"


def test_env_example_shows_at_most_30_everyday_variables_each_once_and_each_read():
    names = in_example()
    assert len(names) <= 30, len(names)
    assert len(names) == len(set(names))
    assert set(names) <= read_by_settings(), sorted(set(names) - read_by_settings())


def test_the_http_limits_defaults_are_written_once():
    """HttpPolicy holds them; settings.py and the README table point at it instead of repeating numbers."""
    assert not re.search(r'env_(?:int|float)\("LIQUIDATION_HTTP_', SETTINGS)  # no number repeated here
    assert re.search(r'"LIQUIDATION_STREAM_SILENCE_SECONDS", STREAM_SILENCE\b', SETTINGS)
