"""The package's layout is its architecture: one concern per module, each saying which lesson
teaches it, imports that point down the lesson order, no re-export facades, short modules."""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bertlite"
MODULES = sorted(p for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
LIMIT = 360  # "about 350 lines": a module a learner can read in ten minutes


def first_lesson(path):
    """The lesson a module's first docstring line names (0 for "Every lesson")."""
    line = ast.get_docstring(ast.parse(path.read_text())).splitlines()[0]
    if line.startswith("Every lesson"):
        return 0
    m = re.match(r"Lessons? (\d\d)", line)
    assert m, f"{path.name}: the first docstring line must say which lesson teaches it, e.g. 'Lesson 03: ...'; it says {line!r}"
    return int(m.group(1))


def local_imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            yield node.module.split(".")[0]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_each_module_names_its_lesson_and_is_short(path):
    first_lesson(path)
    n = len(path.read_text().splitlines())
    assert n <= LIMIT, f"{path.name} has {n} lines; split it by concern (about 350 at most)"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_imports_point_down_the_lesson_order(path):
    mine = first_lesson(path)
    for name in local_imports(path):
        theirs = first_lesson(PACKAGE / f"{name}.py")
        assert theirs <= mine, f"{path.name} (lesson {mine:02d}) imports {name}.py, taught later (lesson {theirs:02d})"


def test_no_re_export_facades():
    """A name is imported from the module that defines it: only the package's __init__ gathers names."""
    for path in MODULES + sorted((PACKAGE / "checks").glob("*.py")):
        if path.name == "__init__.py":
            continue
        assert "noqa: F401" not in path.read_text(), f"{path} re-exports names it does not use"


def test_the_benchmark_uses_the_installed_package():
    bench = (PACKAGE.parent / "benchmarks" / "bench_pretrain.py").read_text()
    assert "sys.path" not in bench
