"""bertlite/checks: one check module per package module it checks, a shared harness, no
circular import, and every check passes bertlite's own reference implementation."""

import ast
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import bertlite.checks as checks
from bertlite import (attention, checkpoints, embeddings, encoder, flops, masking, nsp, optim, sizing,
                      task_encoding, tokenization)
from bertlite.checks import NotDoneYet
from bertlite.checks.hints import exercises

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ROOT / "bertlite" / "checks"
SUBMODULES = sorted(p.stem for p in CHECKS.glob("*.py") if p.name != "__init__.py")
SHARED = ("harness", "hints", "quiz")  # the machinery, the hints and the quizzes: not checks of a module
CHECK_MODULES = [name for name in SUBMODULES if name not in SHARED]

# Every check_* name a lesson calls.
PUBLIC_CHECKS = [
    "check_split_on_punctuation", "check_wordpiece", "check_truncate_pair",
    "check_bert_embeddings", "check_sinusoidal_positions",
    "check_scaled_dot_product_attention", "check_padding_mask", "check_split_merge_heads",
    "check_bert_layer", "check_bert_pooler", "check_bert_model",
    "check_mask_tokens", "check_mlm_loss",
    "check_pair_layout", "check_pick_other_document",
    "check_param_groups", "check_warmup_linear",
    "check_embedding_parameters", "check_layer_parameters", 
    "check_align_labels", "check_best_span",
    "check_flops_per_token", "check_atomic_save",
]


def tree(name):
    return ast.parse((CHECKS / f"{name}.py").read_text())


def top_level_names(path):
    """The names a module defines itself (def, class, assignment), not those it imports."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


# --- (a) no circular import ---------------------------------------------------------------------

# Run in a fresh interpreter: for each submodule X, forget bertlite.checks and import X first,
# (1) through the real package __init__, (2) under an empty package __init__, so X itself runs
# first and may pull in only the harness and the hints. Prints one line per X: "X ok" or "X <the error>".
EACH_FIRST = """
import importlib, sys, traceback, types
import bertlite
from pathlib import Path

checks = Path(bertlite.__file__).parent / "checks"

def forget():
    for m in [m for m in sys.modules if m == "bertlite.checks" or m.startswith("bertlite.checks.")]:
        del sys.modules[m]

for x in sys.argv[1:]:
    try:
        forget()
        importlib.import_module("bertlite.checks." + x)
        forget()
        empty = types.ModuleType("bertlite.checks")
        empty.__path__ = [str(checks)]
        sys.modules["bertlite.checks"] = empty
        importlib.import_module("bertlite.checks." + x)
        extra = sorted(set(m for m in sys.modules if m.startswith("bertlite.checks.")) -
                       {"bertlite.checks." + x, "bertlite.checks.harness", "bertlite.checks.hints"})
        print(x, "ok" if not extra else "imports its sibling(s) " + ", ".join(extra))
    except Exception:
        print(x, repr(traceback.format_exc()))
"""
ORDERS = {"harness and hints, then every module": list(SHARED) + CHECK_MODULES, "every module, reversed": SUBMODULES[::-1]}


def _python(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def fresh_imports():
    """{label: (ok?, output)}, from three fresh interpreters run side by side."""
    each = _python("-c", EACH_FIRST, *SUBMODULES)
    orders = {label: _python("-c", "; ".join(f"import bertlite.checks.{m}" for m in order) + "; print('ok')")
              for label, order in ORDERS.items()}
    out = each.communicate(timeout=300)[0]
    results = {}
    for label, p in orders.items():
        text = p.communicate(timeout=300)[0]
        results[label] = (p.returncode == 0 and text.strip().endswith("ok"), text)
    lines = dict(line.split(" ", 1) for line in out.splitlines() if line.split(" ", 1)[0] in SUBMODULES)
    for name in SUBMODULES:
        line = lines.get(name, out)
        results[name] = (line == "ok", ast.literal_eval(line) if line.startswith("'") else line)
    return results


@pytest.mark.parametrize("label", SUBMODULES + list(ORDERS))
def test_each_submodule_imports_first_in_a_fresh_interpreter(fresh_imports, label):
    ok, output = fresh_imports[label]
    assert ok, f"importing bertlite.checks ({label}) failed:\n{output}"


@pytest.mark.parametrize("name", SUBMODULES)
def test_submodules_import_the_harness_not_the_package(name):
    """`from . import CheckFailed` would import the half-initialised package __init__ back."""
    for node in ast.walk(tree(name)):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            assert node.module in SHARED, (
                f"checks/{name}.py: `from .{node.module or ''} import ...`; import from .harness or .hints")
        if isinstance(node, ast.ImportFrom) and node.level == 2:
            assert node.module != "checks" and "checks" not in [a.name for a in node.names], \
                f"checks/{name}.py imports bertlite.checks back"
    if name in SHARED:  # leaves: nothing from the package but the harness, which imports nothing
        relative = [n.module for n in ast.walk(tree(name)) if isinstance(n, ast.ImportFrom) and n.level]
        assert relative == ([] if name == "harness" else relative) and set(relative) <= {"harness"}, \
            f"{name}.py must not import the package: every check module imports it"


def test_init_imports_explicitly_at_the_top():
    body = tree("__init__").body
    assert isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant), "__init__ needs a docstring"
    kinds = [type(node) for node in body[1:]]
    first_other = next((i for i, k in enumerate(kinds) if k is not ast.ImportFrom), len(kinds))
    assert all(k is not ast.ImportFrom for k in kinds[first_other:]), "every import at the top of __init__"
    for node in body:
        if isinstance(node, ast.ImportFrom):
            assert all(a.name != "*" for a in node.names), f"star import from .{node.module}"


# --- (b) the public names ------------------------------------------------------------------------

@pytest.mark.parametrize("name", PUBLIC_CHECKS)
def test_every_check_imports_from_bertlite_checks(name):
    assert callable(getattr(checks, name, None)), f"bertlite.checks.{name} is gone"
    assert name in checks.__all__


def test_each_check_is_defined_once():
    defined = [n for m in CHECK_MODULES for n in top_level_names(CHECKS / f"{m}.py") if n.startswith("check_")]
    assert sorted(defined) == sorted(set(defined)), "a check_* name is defined in two modules"
    assert set(defined) >= set(PUBLIC_CHECKS)
    assert {n for n in checks.__all__ if n.startswith("check_")} == set(defined)


# --- (c) one place turns a stub into NotDoneYet ----------------------------------------------------

def test_only_the_harness_handles_not_implemented_error():
    mentions = sorted(p.name for p in CHECKS.glob("*.py") if "NotImplementedError" in p.read_text())
    assert mentions == ["harness.py"], f"NotImplementedError handled outside harness.call: {mentions}"


# --- (d) named after the package module they check -----------------------------------------------

@pytest.mark.parametrize("name", CHECK_MODULES)
def test_each_check_module_is_named_after_a_package_module(name):
    assert (ROOT / "bertlite" / f"{name}.py").is_file(), f"checks/{name}.py checks no bertlite/{name}.py"


@pytest.mark.parametrize("name", CHECK_MODULES)
def test_references_come_from_the_module_that_defines_them(name):
    """`from ..m import x` and `ref.x` (after `from .. import m as ref`) name a thing bertlite/m.py
    defines itself, not one it imports from elsewhere."""
    module = tree(name)
    aliases = {}
    for node in ast.walk(module):
        if isinstance(node, ast.ImportFrom) and node.level == 2:
            if node.module:
                defined = top_level_names(ROOT / "bertlite" / f"{node.module}.py")
                for a in node.names:
                    assert a.name in defined, f"checks/{name}.py: {a.name} is not defined in bertlite/{node.module}.py"
            else:
                aliases.update({a.asname or a.name: a.name for a in node.names})
    for node in ast.walk(module):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            source = aliases[node.value.id]
            assert node.attr in top_level_names(ROOT / "bertlite" / f"{source}.py"), \
                f"checks/{name}.py: {node.value.id}.{node.attr} is not defined in bertlite/{source}.py"


# --- every check passes the reference, and says "not written yet" to a stub -------------------------

def mlm_loss(logits, labels):  # lesson 05's solution: the package computes this inside BertForPreTraining
    keep = labels != masking.IGNORE_INDEX
    z = logits[keep]
    log_p = z - torch.logsumexp(z, dim=-1, keepdim=True)
    return -log_p.gather(-1, labels[keep][:, None]).mean()


REFERENCES = {
    "check_split_on_punctuation": (tokenization.split_on_punctuation,),
    "check_wordpiece": (tokenization.wordpiece,),
    "check_truncate_pair": (tokenization.truncate_pair,),
    "check_pair_layout": (tokenization.pair_layout,),
    "check_bert_embeddings": (embeddings.BertEmbeddings,),
    "check_sinusoidal_positions": (embeddings.sinusoidal_positions,),
    "check_scaled_dot_product_attention": (attention.scaled_dot_product_attention,),
    "check_padding_mask": (attention.padding_mask,),
    "check_split_merge_heads": (attention.split_heads, attention.merge_heads),
    "check_bert_layer": (encoder.BertLayer,),
    "check_bert_pooler": (encoder.BertPooler,),
    "check_bert_model": (encoder.BertModel,),
    "check_mask_tokens": (masking.mask_tokens,),
    "check_mlm_loss": (mlm_loss,),
    "check_pick_other_document": (nsp.pick_other_document,),
    "check_param_groups": (optim.param_groups,),
    "check_warmup_linear": (optim.warmup_linear,),
    "check_embedding_parameters": (sizing.embedding_parameters,),
    "check_layer_parameters": (sizing.layer_parameters,),
    "check_align_labels": (task_encoding.align_labels,),
    "check_best_span": (task_encoding.best_span,),
    "check_flops_per_token": (flops.flops_per_token,),
    "check_atomic_save": (checkpoints.atomic_save,),
}


def test_every_public_check_has_a_reference_here():
    assert set(REFERENCES) == set(PUBLIC_CHECKS)


@pytest.mark.parametrize("name", PUBLIC_CHECKS)
def test_the_reference_passes_its_check(name, capsys):
    getattr(checks, name)(*REFERENCES[name])
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.startswith("✓") for line in lines), lines


def _stub(*args, **kwargs):
    raise NotImplementedError("the cell's hint")


@pytest.mark.parametrize("name", PUBLIC_CHECKS)
def test_a_stub_is_not_done_yet(name):
    stubs = (_stub,) * len(REFERENCES[name])
    with pytest.raises(NotDoneYet, match=r"is not written yet \(the cell's hint\)\. Fill in the exercise, "
                                         r"run its cell, then this check\."):
        getattr(checks, name)(*stubs)


# --- each exercise's data: its lesson, its check, its hints, beside its MISTAKES --------------------

def init_groups():
    """{check name: lesson} from the "# lesson NN" comments in checks/__init__.py's __all__."""
    groups, lesson = {}, None
    for line in (CHECKS / "__init__.py").read_text().split("__all__ = [", 1)[1].splitlines():
        m = re.match(r"\s*# lesson (\d\d)", line)
        if m or line.strip().startswith("#"):
            lesson = m.group(1) if m else None
            continue
        for name in re.findall(r'"(check_\w+)"', line):
            groups[name] = lesson
    return groups


def test_every_check_module_holds_its_exercises_beside_their_mistakes():
    from bertlite.checks.hints import CHECK_MODULES as WITH_EXERCISES

    assert sorted(WITH_EXERCISES) == CHECK_MODULES
    for name in CHECK_MODULES:
        module = importlib.import_module(f"bertlite.checks.{name}")
        assert set(module.EXERCISES) == set(module.MISTAKES), f"checks/{name}.py: EXERCISES and MISTAKES differ"
        for exercise, entry in module.EXERCISES.items():
            assert len(entry.hints) == 3 and callable(getattr(module, entry.check)), exercise


def test_the_lesson_groups_of_checks_init_are_the_lessons_that_call_them():
    lessons_of = {}
    for exercise, entry in exercises().items():
        lessons_of.setdefault(entry.check, set()).add(entry.lesson)
    groups = init_groups()
    assert set(groups) == set(lessons_of), "checks/__init__ exports exactly the checks of the exercises"
    wrong = {name: (groups[name], sorted(lessons)) for name, lessons in lessons_of.items() if {groups[name]} != lessons}
    assert not wrong, f"filed under the wrong lesson in checks/__init__.py (filed, taught): {wrong}"


@pytest.mark.parametrize("exercise", sorted(exercises()))
def test_each_exercise_is_checked_in_its_lesson(exercise):
    entry = exercises()[exercise]
    notebook = next((ROOT / "solutions").glob(f"{entry.lesson}_*.ipynb"))
    code = "".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code")
    assert f"{entry.check}(" in code, f"{exercise}: lesson {entry.lesson} never calls {entry.check}"
