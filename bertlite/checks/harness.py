"""The machinery every check shares: the two failures, comparing outputs, and calling the
learner's code.

Every call of a learner's function or class goes through `call`, which turns the
NotImplementedError of an exercise's unfinished stub into NotDoneYet. The check modules import
from here, never from the package's __init__, so importing any of them in any order works.
"""

import torch

__all__ = ["CheckFailed", "NotDoneYet", "call", "describe", "compare", "copy_weights", "run_cases"]


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


def copy_weights(reference, learner, name, hint):
    """Load the reference module's weights into the learner's, so both compute with the same
    numbers; if they do not fit, say which names the learner's module must keep."""
    try:
        learner.load_state_dict(reference.state_dict())
    except RuntimeError as e:
        raise CheckFailed(f"✗ {name}: bertlite's weights do not load into your module. {hint} "
                          f"torch says: {e}") from None
    return learner


def run_cases(name, learner_fn, reference_fn, cases, hint="", atol=1e-5):
    """cases: list of (description, args tuple). Raises CheckFailed on the first mismatch."""
    for description, args in cases:
        expected = reference_fn(*args)
        try:
            got = call(name, learner_fn, *args)
        except CheckFailed:
            raise
        except Exception as e:  # the learner's code crashed: say on which case, then show where
            raise CheckFailed(f"✗ {name}, case «{description}»: your code raised {type(e).__name__}: {e}"
                              + (f"\n  hint: {hint}" if hint else "")
                              + "\n  (the traceback above this message shows the line in your code)") from e
        problem = compare(got, expected, "the output", atol)
        if problem:
            raise CheckFailed(f"✗ {name}, case «{description}»: {problem}." + (f"\n  hint: {hint}" if hint else ""))
    print(f"✓ {name}: all {len(cases)} cases match the reference.")
