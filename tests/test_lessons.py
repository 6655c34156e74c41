"""The lessons (course/lessons.py makes them): lessons/ is generated from solutions/, the code a
solution shows for a module is the code that module runs, every lesson starts anywhere (its first
cell checks the install, and its switch imports your own package), and INSTRUCTORS.md says what
the notebooks hold."""

import ast
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from bertlite.course import lessons as lesson_maker

ROOT = Path(__file__).resolve().parent.parent

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
    out = lesson_maker.stub_solutions(src, "t")
    assert out == "def f(x):\n    y = 1\n    raise NotImplementedError('return x + y')\n"
    with pytest.raises(ValueError, match="never closed"):
        lesson_maker.stub_solutions("### BEGIN SOLUTION\nx", "t")


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




# --- every lesson starts anywhere ---------------------------------------------------------------------

def first_code_cells():
    cells = {}
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")) + sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells[path] = "".join(next(c for c in nb["cells"] if c["cell_type"] == "code")["source"])
    return cells


def test_every_lesson_first_checks_that_bertlite_is_installed(monkeypatch, capsys):
    cells = first_code_cells()
    assert len(cells) == 20 and len(set(cells.values())) == 1, "the setup cell differs between notebooks"
    code = next(iter(cells.values()))
    exec(code, {})  # installed: silent
    assert capsys.readouterr().out == ""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "bertlite" else real(name, *a))
    with pytest.raises(SystemExit, match="not installed"):
        exec(code, {})
    out = capsys.readouterr().out
    assert 'pip install torch==2.13.0 && pip install -e ".[dev]"' in out  # the README's install line
    assert "Colab" in out and "%pip install -e" in out
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert 'pip install torch==2.13.0 && pip install -e ".[dev]"' in readme


# --- INSTRUCTORS.md says what the notebooks hold -------------------------------------------------------

def lesson_sizes():
    """{NN: (exercises, estimated learner minutes)} by INSTRUCTORS.md's stated rule: prose at 120 words
    a minute, 12 minutes per exercise, half a minute per code cell."""
    sizes = {}
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        words = sum(len("".join(c["source"]).split()) for c in cells if c["cell_type"] == "markdown")
        code = sum(c["cell_type"] == "code" for c in cells)
        exercises = sum("exercise-check" in c.get("metadata", {}).get("tags", []) for c in cells)
        sizes[path.name[:2]] = (exercises, round(words / 120 + 12 * exercises + code / 2))
    return sizes


def instructors_table(heading_start):
    text = (ROOT / "INSTRUCTORS.md").read_text(encoding="utf-8")
    rows = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| ")]
    start = next(i for i, r in enumerate(rows) if r[0].strip() == "lesson" and r[1].strip().startswith(heading_start))
    return {r[0].strip(): [c.strip() for c in r] for r in rows[start + 1:start + 12] if r[0].strip().isdigit()}


def test_instructors_plan_matches_the_notebooks():
    plan = instructors_table("topic")
    sizes = lesson_sizes()
    assert set(plan) == set(sizes)
    for nn, (exercises, minutes) in sizes.items():
        assert plan[nn][2] == str(exercises), nn
        assert plan[nn][3] == f"{minutes} min", (nn, plan[nn][3], minutes)


def test_every_exercise_is_core_or_optional():
    table = instructors_table("core")
    sizes = lesson_sizes()
    for nn, (exercises, _) in sizes.items():
        names = [n for cell in table[nn][1:] for n in cell.replace("/ ", "").split(",") if n.strip()]
        assert len(names) == exercises, (nn, names)


def test_the_switch_makes_a_lesson_import_your_own_package(tmp_path):
    from bertlite.course.assemble import assemble

    code = next(iter(first_code_cells().values())).replace("USE_MY_BERTLITE = False", "USE_MY_BERTLITE = True")
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    probe = code + "\nimport bertlite\nprint('imported', bertlite.__file__)\n"
    missing = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=lessons)
    assert missing.returncode == 1 and "is not there yet: run `python -m bertlite assemble`" in missing.stderr
    assemble(ROOT / "lessons", tmp_path / "mine")
    mine = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=lessons)
    assert mine.returncode == 0, mine.stderr
    assert f"imported {tmp_path / 'mine' / 'bertlite' / '__init__.py'}" in mine.stdout
    assert "bertlite: your own" in mine.stdout
    late = subprocess.run([sys.executable, "-c", "import bertlite\n" + probe], capture_output=True, text=True, cwd=lessons)
    assert late.returncode == 1 and "restart the kernel" in late.stderr
