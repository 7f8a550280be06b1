"""The probe's cliff-like matching, in process (it is plain stdlib Python)."""

from __future__ import annotations

from stacktap.which.probe import command_words, find_command, suggestions

NAMES = [
    "server list",
    "server show",
    "server set",
    "service list",
    "image list",
    "help",
    "database instance list",
]


def test_longest_prefix_wins_and_the_rest_are_arguments() -> None:
    assert find_command(["server", "list", "--long"], NAMES) == ("server list", "server list", ["--long"])
    assert find_command(["server", "show", "vm1"], NAMES) == ("server show", "server show", ["vm1"])
    assert find_command(["help", "server", "list"], NAMES) == ("help", "help", ["server", "list"])


def test_unique_partial_words_match_like_cliff() -> None:
    assert find_command(["image", "li"], NAMES) == ("image list", "image li", [])
    assert find_command(["serv", "li"], NAMES) is None  # server list and service list: ambiguous


def test_words_after_an_option_are_never_command_words() -> None:
    assert find_command(["server", "--long", "list"], NAMES) is None


def test_global_options_are_skipped() -> None:
    assert command_words(["--os-cloud", "devstack", "--debug", "server", "list"]) == ["server", "list"]
    assert command_words(["--os-cloud=x", "image", "list"]) == ["image", "list"]


def test_suggestions_for_a_typo() -> None:
    assert suggestions(["sever", "lsit"], NAMES)[0] == "server list"
    assert suggestions(["zzz"], NAMES) == []
