"""Every lesson: hints for the exercises, in three tiers, given only when asked for.

    from bertlite.checks import hint
    hint("padding_mask")      # tier 1: the idea
    hint("padding_mask", 2)   # tier 2: the steps
    hint("padding_mask", 3)   # tier 3: nearly the code

A stub in a lesson states its contract (the docstring) and where hints are; a failing check
shows tier 1 and says how to ask for tier 2. The hints themselves live beside each exercise's
mistakes, in the EXERCISES table of the check module that checks it (checks/attention.py holds
lesson 03's); this module only collects and hands them out.
"""

import difflib
import importlib

__all__ = ["CHECK_MODULES", "exercises", "hint", "first_hint", "HINTS", "FIND_THE_BUG"]

CHECK_MODULES = ("tokenization", "embeddings", "attention", "encoder", "masking", "heads", "nsp", "optim",
                 "pretraining", "sizing", "flops", "task_encoding", "checkpoints")  # those with EXERCISES
_EXERCISES = {}


def exercises():
    """{exercise name: Exercise} over every check module, in lesson order."""
    if not _EXERCISES:  # read once, when first asked: the check modules import this one
        found = {}
        for module in CHECK_MODULES:
            found.update(importlib.import_module(f"{__package__}.{module}").EXERCISES)
        _EXERCISES.update(sorted(found.items(), key=lambda item: item[1].lesson))
    return _EXERCISES


def __getattr__(name):  # HINTS and FIND_THE_BUG, read from the tables when first used
    if name == "HINTS":
        return {n: e.hints for n, e in exercises().items()}
    if name == "FIND_THE_BUG":
        return tuple(n for n, e in exercises().items() if e.find_the_bug)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _entry(name):
    known = exercises()
    if name not in known:
        close = difflib.get_close_matches(str(name), known, n=3)
        raise KeyError(f"no hints for {name!r}. " + (f"Did you mean {', '.join(map(repr, close))}? " if close else "")
                       + f"The exercises with hints: {', '.join(known)}.")
    return known[name].hints

def first_hint(name):
    """Tier 1 and how to ask for tier 2: what a failing check prints."""
    return f"{_entry(name)[0]} (More: from bertlite.checks import hint; hint({name!r}, 2).)"


def hint(name, tier=1):
    """Print hint `tier` (1: the idea, 2: the steps, 3: nearly the code) for exercise `name`."""
    tiers = _entry(name)
    if tier not in (1, 2, 3):
        raise ValueError(f"tier={tier!r}: use 1 (the idea), 2 (the steps) or 3 (nearly the code).")
    kind = {1: "the idea", 2: "the steps", 3: "nearly the code"}[tier]
    more = f"\n  (hint({name!r}, {tier + 1}) gives {'the steps' if tier == 1 else 'nearly the code'}.)" if tier < 3 else ""
    print(f"hint {tier} of 3 for {name}, {kind}:\n  {tiers[tier - 1]}{more}")
