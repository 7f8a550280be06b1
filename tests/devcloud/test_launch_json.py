"""Merging stacktap's configurations into a launch.json (JSON with comments) as text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stacktap.devcloud import launch_json
from stacktap.devcloud.launch_json import LaunchJsonError, merge, parse

OURS = [
    {
        "name": "stacktap: openstack image list",
        "type": "debugpy",
        "request": "launch",
        "args": ["image", "list"],
    },
    {"name": "stacktap: attach glance", "type": "debugpy", "request": "attach", "connect": {"port": 5678}},
]

USER_ENTRY = """{
            // the user's own, with a comment, a trailing comma and a URL in a string
            "name": "My script", "type": "debugpy", "request": "launch",
            "program": "${workspaceFolder}/run.py", "args": ["http://example.org/*x*/"],
        }"""

USER_FILE = f"""// launch.json of my project
{{
    /* version, as VS Code writes it */
    "version": "0.2.0",
    "configurations": [
        {USER_ENTRY},
        {{"name": "stacktap: attach nova", "type": "debugpy", "request": "attach"}},
        {{"name": "stacktap: attach glance", "request": "attach", "connect": {{"port": 1}}}},
    ],
}}
"""


def _is_attach(entry: dict[str, Any]) -> bool:
    return entry.get("request") == "attach"


def _configurations(text: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = parse(text)["configurations"]
    return result


def test_no_file_gets_a_new_document() -> None:
    merged = merge(None, OURS, _is_attach)
    assert json.loads(merged.text) == {"version": "0.2.0", "configurations": OURS}
    assert merged.added == [c["name"] for c in OURS] and merged.kept == 0


def test_the_users_entries_and_comments_stay_byte_for_byte() -> None:
    merged = merge(USER_FILE, OURS, _is_attach)
    assert USER_ENTRY in merged.text
    assert (
        "// launch.json of my project" in merged.text and "/* version, as VS Code writes it */" in merged.text
    )
    names = [c["name"] for c in _configurations(merged.text)]
    assert names == ["My script", "stacktap: attach glance", "stacktap: openstack image list"]
    assert merged.replaced == ["stacktap: attach glance"] and merged.added == [
        "stacktap: openstack image list"
    ]
    assert merged.removed == ["stacktap: attach nova"] and merged.kept == 1
    glance = next(c for c in _configurations(merged.text) if c["name"] == "stacktap: attach glance")
    assert glance["connect"] == {"port": 5678}  # replaced in place with the new one


def test_merging_twice_changes_nothing_more() -> None:
    once = merge(USER_FILE, OURS, _is_attach).text
    twice = merge(once, OURS, _is_attach)
    assert twice.text == once
    assert sorted(twice.replaced) == sorted(c["name"] for c in OURS) and twice.added == [] and twice.kept == 1


def test_launch_entries_of_other_arguments_are_kept() -> None:
    first = merge(None, [{**OURS[0], "name": "stacktap: openstack server list"}], _is_attach).text
    names = [c["name"] for c in _configurations(merge(first, OURS, _is_attach).text)]
    assert names == ["stacktap: openstack server list", *(c["name"] for c in OURS)]


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        '{"version": "0.2.0"}',
        '{"version": "0.2.0",}',
        '{"version": "0.2.0" // no configurations yet\n}',
        '{"configurations": []}',
        '{"configurations": [ /* empty */ ]}',
        '{"configurations": [{"name": "a"}]}',
        '{"configurations": [{"name": "a"},]}',
        '{"configurations": [{"name": "stacktap: attach nova", "request": "attach"}]}',
    ],
)
def test_small_documents_stay_valid_and_keep_theirs(text: str) -> None:
    merged = merge(text, OURS, _is_attach)
    before = [
        c["name"] for c in parse(text).get("configurations", []) if not c["name"].startswith("stacktap: ")
    ]
    after = [c["name"] for c in _configurations(merged.text)]
    assert after == [*before, *(c["name"] for c in OURS)]
    assert parse(merged.text).get("version", "0.2.0") == "0.2.0"


def test_comment_markers_inside_strings_are_not_comments() -> None:
    text = '{"configurations": [{"name": "x", "program": "//not-a-comment", "cwd": "/*", "q": "a\\"//b"}]}'
    entry = _configurations(merge(text, OURS, _is_attach).text)[0]
    assert entry == {"name": "x", "program": "//not-a-comment", "cwd": "/*", "q": 'a"//b'}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"configurations": [ {"name": "a"} {"name": "b"} ]}', "line 1 column"),
        ('{\n  "version": "0.2.0"\n  "configurations": []\n}', "line 3 column 3"),
        ("{ /* never closed ", "unterminated /* comment"),
        ('{"name": "never closed}', "unterminated string"),
        ('[{"name": "a"}]', "the top level is not an object"),
        ('{"configurations": {"name": "a"}}', '"configurations" is not an array'),
    ],
)
def test_what_is_not_jsonc_is_refused_with_where(text: str, where: str) -> None:
    with pytest.raises(LaunchJsonError) as caught:
        merge(text, OURS, _is_attach)
    assert where in str(caught.value) and "\n" not in str(caught.value)


def test_write_replaces_the_file_keeping_its_mode(tmp_path: Any) -> None:
    path = tmp_path / ".vscode" / "launch.json"
    launch_json.write(path, "{}\n")
    path.chmod(0o600)
    launch_json.write(path, '{"configurations": []}\n')
    assert path.read_text() == '{"configurations": []}\n' and path.stat().st_mode & 0o777 == 0o600
    assert launch_json.read(tmp_path / "missing.json") is None
    assert list(path.parent.iterdir()) == [path]


_TEXT = st.text(alphabet=st.sampled_from(list('ab /*"\\:,{}[]\n\té')), max_size=12)
_ENTRY = st.fixed_dictionaries(
    {
        "name": _TEXT.filter(lambda s: not s.startswith("stacktap: ")),
        "request": st.sampled_from(["launch", "attach"]),
    },
    optional={"program": _TEXT, "args": st.lists(_TEXT, max_size=3), "port": st.integers(0, 65535)},
)
_GAP = st.sampled_from(["", " ", "\n        ", " // note */ \n", " /* a // b */ ", "\n/* x */\n"])


@given(
    users=st.lists(_ENTRY, max_size=2),
    ours_before=st.lists(
        st.sampled_from([*OURS, {"name": "stacktap: attach nova", "request": "attach"}]), max_size=3
    ),
    gaps=st.lists(_GAP, min_size=12, max_size=12),
    trailing=st.booleans(),
)
def test_any_users_entries_survive_a_merge(
    users: list[dict[str, Any]], ours_before: list[dict[str, Any]], gaps: list[str], trailing: bool
) -> None:
    items = users + ours_before
    body = ",".join(gaps[4 + i] + json.dumps(entry) + gaps[11 - i] for i, entry in enumerate(items))
    body += "," if trailing and items else ""
    text = f'{{{gaps[0]}"version": "0.2.0",{gaps[1]}"configurations": [{body}{gaps[2]}]{gaps[3]}}}'
    merged = merge(text, OURS, _is_attach)
    after = _configurations(merged.text)
    assert [c for c in after if not c["name"].startswith("stacktap: ")] == users
    assert sorted(c["name"] for c in after if c["name"].startswith("stacktap: ")) == sorted(
        c["name"] for c in OURS
    )
    assert merge(merged.text, OURS, _is_attach).text == merged.text
