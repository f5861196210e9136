"""A cache namespace is checked once, for Python and the command line alike: a blank,
whitespace-only or non-str one was accepted by ``ResponseCache(namespace=...)`` (a
namespace of its own that nobody meant) while ``--cache-namespace " "`` was refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archon_async import InvalidInputError
from archon_async.callpath import ResponseCache
from archon_async.cli import main


@pytest.mark.parametrize(
    ("namespace", "says"),
    [
        ("", "give a name, e.g. exp1; got '', which is blank"),
        ("  \t", "give a name, e.g. exp1; got '  \\t', which is blank"),
        (None, "give a name (a str), e.g. exp1; got NoneType None"),
        (7, "give a name (a str), e.g. exp1; got int 7"),
    ],
)
@pytest.mark.parametrize("on_disk", [False, True])
def test_a_blank_or_non_str_namespace_is_refused_before_the_file_opens(
    tmp_path: Path, namespace: Any, says: str, on_disk: bool
) -> None:
    path = tmp_path / "cache.sqlite" if on_disk else None
    with pytest.raises(InvalidInputError) as caught:
        ResponseCache(path, namespace=namespace)
    assert str(caught.value) == f"ResponseCache(namespace=...): {says}"
    assert not (tmp_path / "cache.sqlite").exists()  # refused before anything was created


def test_a_named_namespace_is_kept_as_given(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite", namespace=" exp1 ")
    try:
        assert cache.namespace == " exp1 "
    finally:
        cache.close()


@pytest.mark.parametrize("text", ["", " ", "\t"])
def test_the_command_line_refuses_it_with_the_same_words_naming_the_flag(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--cache", str(tmp_path / "c.sqlite"), "--cache-namespace", text]
    with pytest.raises(SystemExit) as exited:
        main(["run", "default", "What is 2 + 2?", "--simulate", *flags])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert f"argument --cache-namespace: give a name, e.g. exp1; got {text!r}" in err, err


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("claim_lease_s", -1, "claim_lease_s=...): must be a finite number above 0, got -1"),
        ("claim_lease_s", 0, "above 0, got 0"),
        ("claim_lease_s", float("nan"), "above 0, got nan"),
        ("claim_lease_s", "30", "above 0, got '30'"),
        ("claim_max_s", 0.0, "claim_max_s=...): must be a finite number above 0, got 0.0"),
        ("read_ahead_mib", -3, "read_ahead_mib=...): must be a finite number 0 or more"),
        ("read_ahead_mib", float("inf"), "0 or more (0: off), got inf"),
        ("read_ahead_mib", True, "got True"),
    ],
)
def test_sizes_and_durations_that_mean_nothing_are_refused(
    tmp_path: Path, option: str, value: Any, says: str
) -> None:
    """A lease of 0 s or less has lapsed as it is taken (every waiting process would send
    the request again); a non-number failed only at the first claim, mid-call."""
    with pytest.raises(InvalidInputError, match="ResponseCache") as caught:
        ResponseCache(tmp_path / "cache.sqlite", **{option: value})
    assert says in str(caught.value)
    assert not (tmp_path / "cache.sqlite").exists()
