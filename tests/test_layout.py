"""The package's layout is its architecture, in three wings: bertlite/ (the BERT you build) and
bertlite/data/ (the data it reads), whose modules each say which lesson teaches them and import
only down the lesson order; and bertlite/course/ (the course's tools), which state their role
instead, may import the other two, and are imported by neither. One concern per module, no
re-export facades, short modules."""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bertlite"
TOOLS = ("_moved.py",)  # the one course tool at the top: old import paths (it imports nothing of bertlite)
TAUGHT = sorted(p for p in [*PACKAGE.glob("*.py"), *(PACKAGE / "data").glob("*.py")]
                if p.name not in ("__init__.py", "__main__.py", *TOOLS))
COURSE = sorted(p for p in (PACKAGE / "course").glob("*.py") if p.name != "__init__.py")
MODULES = TAUGHT + COURSE
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
    """The files under bertlite/ that `path` imports, relative ones and `bertlite.` ones alike."""
    here = path.parent
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            base = here.parents[node.level - 2] if node.level > 1 else here
            parts = node.module.split(".") if node.module else []
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bertlite."):
            base, parts = PACKAGE, node.module.split(".")[1:]
        else:
            continue
        target = base.joinpath(*parts)
        names = [target / f"{a.name}.py" for a in node.names] if not parts or target.is_dir() else []
        found = [n for n in names if n.is_file()] or [target.with_suffix(".py")]
        yield from (f for f in found if f.is_file() and f.name != "__init__.py")


def rel(path):
    return str(path.relative_to(PACKAGE))


@pytest.mark.parametrize("path", TAUGHT, ids=rel)
def test_each_module_names_its_lesson_and_is_short(path):
    first_lesson(path)
    n = len(path.read_text().splitlines())
    assert n <= LIMIT, f"{rel(path)} has {n} lines; split it by concern (about 350 at most)"


@pytest.mark.parametrize("path", COURSE + [PACKAGE / t for t in TOOLS], ids=rel)
def test_each_course_tool_states_its_role_not_a_lesson(path):
    line = ast.get_docstring(ast.parse(path.read_text())).splitlines()[0]
    assert line.startswith("Course tool"), f"{rel(path)}: a course tool's first docstring line says what it does for the learner or instructor ('Course tool, for workshops: ...'); it says {line!r}"
    n = len(path.read_text().splitlines())
    assert n <= LIMIT, f"{rel(path)} has {n} lines; split it by concern (about 350 at most)"


@pytest.mark.parametrize("path", TAUGHT, ids=rel)
def test_imports_point_down_the_lesson_order(path):
    mine = first_lesson(path)
    for target in local_imports(path):
        if target.parent.name == "checks" or target.name in TOOLS:
            continue
        assert target.parent.name != "course", f"{rel(path)} imports {rel(target)}: the BERT and its data never import the course's tools"
        theirs = first_lesson(target)
        assert theirs <= mine, f"{rel(path)} (lesson {mine:02d}) imports {rel(target)}, taught later (lesson {theirs:02d})"


def test_the_checks_import_no_course_tool():
    for path in sorted((PACKAGE / "checks").glob("*.py")):
        for target in local_imports(path):
            assert target.parent.name != "course", f"checks/{path.name} imports {rel(target)}"


def test_the_import_test_sees_imports():
    """The import walk itself, on modules whose imports are known."""
    assert PACKAGE / "data" / "corpus.py" in set(local_imports(PACKAGE / "vocab.py"))
    assert PACKAGE / "cache.py" in set(local_imports(PACKAGE / "data" / "corpus.py"))
    assert PACKAGE / "course" / "reset.py" in set(local_imports(PACKAGE / "course" / "assemble.py"))


def test_no_re_export_facades():
    """A name is imported from the module that defines it: only the package's __init__ gathers names."""
    for path in MODULES + sorted((PACKAGE / "checks").glob("*.py")):
        if path.name == "__init__.py":
            continue
        assert "noqa: F401" not in path.read_text(), f"{path} re-exports names it does not use"


def test_the_benchmark_uses_the_installed_package():
    bench = (PACKAGE.parent / "benchmarks" / "bench_pretrain.py").read_text()
    assert "sys.path" not in bench


# --- every test file is named after what it tests ----------------------------------------------------

REPOSITORY = {"layout": "the package's wings and imports (this file)",
              "packaging": "pyproject.toml, environment.yml and .ci/run",
              "references": "docs/references.md, the bibliography"}
ASPECTS = {"guarantees": "its promises about bad input and lost data (the README's table)",
           "options": "its Hugging Face options", "mistakes": "the mistakes its checks must catch",
           "layout": "its folder's layout"}


def subjects():
    """Every name a test file may be named after: a module of any wing (without a leading _), a
    package, a script in tools/ or benchmarks/, or a repository-wide subject."""
    names = {p.stem.lstrip("_") for p in PACKAGE.rglob("*.py") if p.stem != "__init__"}
    names |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    names |= {p.stem for folder in ("tools", "benchmarks") for p in (PACKAGE.parent / folder).glob("*.py")}
    return names | set(REPOSITORY)


def test_every_test_file_is_named_after_what_it_tests():
    names, wrong = subjects(), []
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        stem = path.stem[len("test_"):]
        fits = stem in names or any(stem == f"{n}_{a}" for n in names for a in ASPECTS)
        if not fits:
            wrong.append(path.name)
    assert not wrong, (f"{wrong}: name a test file test_<module>.py after the module it tests (or "
                       f"test_<module>_<aspect>.py, aspect one of {sorted(ASPECTS)})")
