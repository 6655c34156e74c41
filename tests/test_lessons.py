"""The lesson machinery: lessons/ is generated from solutions/, and the code a solution shows
for a module is the code that module runs."""

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import make_lessons  # noqa: E402

SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
MODULE_HEADER = re.compile(r"^# (bertlite/[\w/]+)\.py\b")


def test_lessons_are_generated_from_solutions():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "make_lessons.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_solution_has_exercises_and_checks():
    for path in SOLUTIONS:
        nb = nbformat.read(path, as_version=4)
        exercises = sum("### BEGIN SOLUTION" in c.source for c in nb.cells if c.cell_type == "code")
        checks = sum("exercise-check" in c.metadata.get("tags", []) for c in nb.cells)
        assert exercises >= 2, f"{path.name} has {exercises} exercises; a lesson needs at least two"
        assert checks >= exercises, f"{path.name}: {exercises} exercises but only {checks} check cells"


def test_stub_replaces_solution_with_hint():
    src = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION (hint: return x + y)\n    return x + y\n    ### END SOLUTION\n"
    out = make_lessons.stub_solutions(src, "t")
    assert out == "def f(x):\n    y = 1\n    raise NotImplementedError('return x + y')\n"
    with pytest.raises(ValueError, match="never closed"):
        make_lessons.stub_solutions("### BEGIN SOLUTION\nx", "t")


def module_cells():
    for path in SOLUTIONS:
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            m = MODULE_HEADER.match(cell.source) if cell.cell_type == "code" else None
            if m:
                yield pytest.param(path.name, i, m.group(1).replace("/", "."), cell.source, id=f"{path.stem}-cell{i}")


@pytest.mark.parametrize("notebook,index,module_name,source", list(module_cells()))
def test_solution_code_is_package_code(notebook, index, module_name, source):
    """A cell that starts with `# bertlite/<module>.py` shows code from that module: every
    function and class it defines must be, character for character, the module's own."""
    shown = "\n".join(l for l in source.split("\n") if not re.match(r"\s*### (BEGIN|END) SOLUTION", l))
    module = importlib.import_module(module_name)
    module_source = Path(module.__file__).read_text()
    theirs = {n.name: ast.get_source_segment(module_source, n) for n in ast.parse(module_source).body
              if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    defs = [n for n in ast.parse(shown).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert defs, f"{notebook} cell {index} names {module_name} but defines nothing"
    for node in defs:
        assert node.name in theirs, f"{notebook} cell {index} defines {node.name}, which {module_name} lacks"
        assert ast.get_source_segment(shown, node) == theirs[node.name], (
            f"{notebook} cell {index}: {node.name} differs from {module_name}.{node.name}; "
            f"the notebook and the package must show the same code")
