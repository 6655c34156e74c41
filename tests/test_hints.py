"""Hints come in three tiers and only when asked for: every lesson stub states its contract and
where the hints are, never its solution's code; a failing check shows tier 1 and how to get
tier 2, never tier 3."""

import json
import re
from pathlib import Path

import pytest
import torch

from bertlite import checks
from bertlite.checks import CheckFailed, first_hint, hint
from bertlite.checks.hints import FIND_THE_BUG, HINTS

ROOT = Path(__file__).resolve().parents[1]
STUB = re.compile(r"""raise NotImplementedError\('the docstring states what to return; stuck\? """
                  r"""from bertlite\.checks import hint; hint\("(?P<name>\w+)"\)'\)""")


def stub_lines():
    for path in sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            for line in "".join(cell["source"]).splitlines():
                if "raise NotImplementedError" in line:
                    yield path.name, line.strip()


def test_every_stub_points_at_its_hints_and_holds_no_code():
    named = []
    for lesson, line in stub_lines():
        match = STUB.fullmatch(line)
        assert match, f"{lesson}: a stub that is not the standard one: {line}"
        named.append(match["name"])
    assert sorted(named) == sorted(set(HINTS) - set(FIND_THE_BUG))  # one stub per exercise, hints for each


@pytest.mark.parametrize("name", list(HINTS))
def test_each_exercise_has_three_tiers_each_saying_more(name, capsys):
    tiers = HINTS[name]
    assert len(tiers) == 3 and all(t.strip() for t in tiers)
    for tier in (1, 2, 3):
        hint(name, tier)
        out = capsys.readouterr().out
        assert tiers[tier - 1] in out and f"hint {tier} of 3" in out
        assert (f"hint({name!r}, {tier + 1})" in out) == (tier < 3)


def test_bad_requests_say_what_to_do():
    with pytest.raises(KeyError, match=r"Did you mean 'padding_mask'"):
        hint("paddingmask")
    with pytest.raises(ValueError, match=r"tier=4: use 1 \(the idea\), 2 \(the steps\) or 3"):
        hint("padding_mask", 4)


def test_a_failing_check_shows_tier_one_and_the_way_to_tier_two():
    def padding_mask(attention_mask, dtype=torch.float32):  # the mask's sign flipped: a common slip
        return attention_mask[:, None, None, :].to(dtype) * torch.finfo(dtype).min

    with pytest.raises(CheckFailed) as info:
        checks.check_padding_mask(padding_mask)
    message = str(info.value)
    assert first_hint("padding_mask") in message and "hint('padding_mask', 2)" in message
    assert HINTS["padding_mask"][1] not in message and HINTS["padding_mask"][2] not in message


def lesson_function(name):
    """The source of `def name` as a lesson shows it (the broken version, for a find-the-bug)."""
    for path in sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            if source.startswith(f"def {name}("):
                return source.split("\n\n\n")[0]
    raise AssertionError(f"no lesson defines {name}")


@pytest.mark.parametrize("name", FIND_THE_BUG)
def test_each_find_the_bug_hands_out_a_broken_function_that_its_check_names(name):
    import math

    import torch.nn.functional as F

    from bertlite.checks.attention import MISTAKES as attention
    from bertlite.checks.masking import MISTAKES as masking
    from bertlite.checks.nsp import MISTAKES as nsp

    namespace = {"torch": torch, "math": math, "F": F}
    exec(lesson_function(name), namespace)  # the lesson's broken function, as the learner gets it
    with pytest.raises(CheckFailed) as info:
        getattr(checks, f"check_{name}")(namespace[name])
    first_mistake = next(iter({**attention, **masking, **nsp}[name]))  # the bug the lesson plants
    if name != "choose_for_masking":  # that check describes the symptom in its own words
        assert first_mistake in str(info.value)
    assert "hint: " in str(info.value)
