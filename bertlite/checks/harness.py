"""The machinery every check shares: the two failures, comparing outputs, and calling the
learner's code.

Every call of a learner's function or class goes through `call`, which turns the
NotImplementedError of an exercise's unfinished stub into NotDoneYet. The check modules import
from here, never from the package's __init__, so importing any of them in any order works.
"""

from typing import NamedTuple

import torch

__all__ = ["CheckFailed", "Exercise", "NotDoneYet", "call", "describe", "compare", "copy_weights", "recognise", "run_cases", "shapes", "variant"]


class Exercise(NamedTuple):
    """One exercise, as data beside its MISTAKES: the lesson that teaches it ("03"), the check its
    notebook calls, and its hints in three tiers (the idea, the steps, nearly the code)."""
    lesson: str
    check: str
    hints: tuple
    find_the_bug: bool = False  # the lesson hands out broken code to fix, not a stub to fill in

class CheckFailed(AssertionError):
    """An exercise's output differs from the reference."""


class NotDoneYet(CheckFailed):
    """The exercise still raises NotImplementedError."""


def call(name, fn, *args, **kwargs):
    """fn(*args, **kwargs), the learner's code; an unfinished stub (NotImplementedError) becomes
    NotDoneYet, which says what to do next. Every other exception passes through unchanged."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as e:
        raise NotDoneYet(f"{name} is not written yet ({e}). Fill in the exercise, run its cell, "
                         f"then this check.") from None


def describe(x):
    if isinstance(x, torch.Tensor):
        if x.numel() <= 12:
            return f"tensor {x.tolist()} (shape {tuple(x.shape)}, {x.dtype})"
        return f"tensor of shape {tuple(x.shape)}, {x.dtype}"
    text = repr(x)
    return text if len(text) < 200 else text[:200] + " ..."


def compare(got, expected, what, atol=1e-5):
    """Return None if got matches expected, else a sentence saying how it differs."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"{what} should be a tensor, got {type(got).__name__}"
        if got.shape != expected.shape:
            return f"{what} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        if expected.dtype == torch.bool or not expected.is_floating_point():
            wrong = (got != expected).nonzero()
            if len(wrong):
                i = tuple(wrong[0].tolist())
                return f"{what}[{', '.join(map(str, i))}] is {got[i].item()}, expected {expected[i].item()}"
            return None
        if expected.numel() == 0:  # the shapes agree, and there is nothing to compare
            return None
        diff = (got.double() - expected.double()).abs()
        if not torch.isfinite(got).all():
            return f"{what} contains NaN or inf"
        if diff.max() > atol:
            i = tuple(int(j) for j in torch.unravel_index(diff.argmax(), diff.shape))
            return (f"{what}[{', '.join(map(str, i))}] is {got[i].item():.6g}, expected "
                    f"{expected[i].item():.6g} (max abs diff {diff.max().item():.3g} > {atol:g})")
        return None
    if isinstance(expected, (list, tuple)) and isinstance(got, (list, tuple)):
        if len(got) != len(expected):
            return f"{what} has {len(got)} items, expected {len(expected)}: expected {describe(list(expected))}, got {describe(list(got))}"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = compare(g, e, f"{what}[{i}]", atol)
            if problem:
                return problem
        return None
    if got != expected:
        return f"{what} is {describe(got)}, expected {describe(expected)}"
    return None


def variant(reference, forward):
    """A copy of the reference module (weights, train or eval mode) whose forward is `forward`,
    a function of (self, *inputs): one of an exercise's known mistakes, as code."""
    import copy
    import types

    wrong = copy.deepcopy(reference)
    wrong.forward = types.MethodType(forward, wrong)
    return wrong


def copy_weights(reference, learner, name, hint):
    """Load the reference module's weights into the learner's, so both compute with the same
    numbers; if they do not fit, say which names the learner's module must keep."""
    try:
        learner.load_state_dict(reference.state_dict())
    except RuntimeError as e:
        raise CheckFailed(f"✗ {name}: bertlite's weights do not load into your module. {hint} "
                          f"torch says: {e}") from None
    return learner


def shapes(args):
    """The inputs of a case in a line: tensors by shape and dtype, anything else by value."""
    return ", ".join(f"{tuple(a.shape)} {str(a.dtype).replace('torch.', '')}" if isinstance(a, torch.Tensor)
                     else describe(a) for a in args if not isinstance(a, torch.nn.Module) and not isinstance(a, tuple))


def where_in_learner_code(error):
    """'at line N of your code: <source>' for the deepest traceback frame outside bertlite, torch
    and the standard library (the learner's notebook cell), or '' when there is none."""
    import sysconfig
    import traceback
    from pathlib import Path

    skip = (str(Path(__file__).resolve().parents[1]), sysconfig.get_paths()["stdlib"], "site-packages")
    mine = [f for f in traceback.extract_tb(error.__traceback__) if not any(s in f.filename for s in skip)]
    return f"\n  at line {mine[-1].lineno} of your code: {(mine[-1].line or '').strip()}" if mine else ""


def _same_overflow(got, out):
    """Both tensors hold NaN or inf in the same places (a mistake that overflows, made twice)."""
    return (isinstance(got, torch.Tensor) and isinstance(out, torch.Tensor) and got.shape == out.shape
            and not torch.isfinite(got).all() and torch.equal(torch.isnan(got), torch.isnan(out))
            and torch.equal(torch.isinf(got), torch.isinf(out)))


def recognise(got, args, mistakes, atol):
    """The labels (joined by "or") of the known mistakes whose output on `args` equals `got`, or None."""
    labels = []
    for label, wrong in (mistakes or {}).items():
        try:
            out = wrong(*args)
        except Exception:  # a mistake that cannot run on this case cannot be the one
            continue
        if compare(got, out, "", atol) is None or _same_overflow(got, out):
            labels.append(label)
    return " or ".join(labels) or None


def run_cases(name, learner_fn, reference_fn, cases, hint="", atol=1e-5, mistakes=None):
    """cases: list of (description, args tuple). Raises CheckFailed on the first mismatch, naming
    the mistake when the output equals one of `mistakes` ({label: wrong function, same args})."""
    for description, args in cases:
        expected = reference_fn(*args)
        try:
            got = call(name, learner_fn, *args)
        except CheckFailed:
            raise
        except Exception as e:  # the learner's code crashed: the case, the inputs and the line
            raise CheckFailed(f"✗ {name}, case «{description}»: your code raised {type(e).__name__}: {e}"
                              f"\n  inputs: {shapes(args)}" + where_in_learner_code(e)
                              + (f"\n  hint: {hint}" if hint else "")) from e
        problem = compare(got, expected, "the output", atol)
        if problem:
            named = recognise(got, args, mistakes, atol)
            raise CheckFailed(f"✗ {name}, case «{description}»: {problem}."
                              + (f"\n  Your output equals {named}: that is the mistake." if named else "")
                              + (f"\n  hint: {hint}" if hint else ""))
    print(f"✓ {name}: all {len(cases)} cases match the reference.")
