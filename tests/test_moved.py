"""_moved.py: every import path that a notebook saved before the three wings used still works, and
gives the very object that now lives under its new name."""

import importlib
import subprocess
import sys

import pytest

from bertlite._moved import MOVED_MODULES, MOVED_NAMES


@pytest.mark.parametrize("old", sorted(MOVED_MODULES))
def test_an_old_module_is_the_new_one(old):
    with pytest.warns(DeprecationWarning, match=f"bertlite.{old} is now bertlite.{MOVED_MODULES[old]}"):
        module = importlib.import_module(f"bertlite.{old}")
    assert module is importlib.import_module(f"bertlite.{MOVED_MODULES[old]}")


@pytest.mark.parametrize("old_module,name", sorted(MOVED_NAMES))
def test_an_old_name_is_the_new_one(old_module, name):
    module = importlib.import_module(f"bertlite.{old_module}")
    with pytest.warns(DeprecationWarning, match="keeps working"):
        found = getattr(module, name)
    assert found is getattr(importlib.import_module(f"bertlite.{MOVED_NAMES[old_module, name]}"), name)


def test_the_imports_of_the_lessons_before_the_move_still_run():
    """The import lines of the solutions as they were before the move (commit 61cd7f1), in a
    fresh interpreter."""
    lines = ["from bertlite.corpus import load_sotu", "from bertlite import diagrams",
             "from bertlite.runs import pretrained_dir, reference_run, run_pretraining", "from bertlite.runs import lesson07_model",
             "from bertlite.finetuning import ClassifierOutput, NoPooler, QuestionAnsweringOutput",
             "from bertlite.finetuning import BertForSequenceClassification, load_encoder",
             "from bertlite import metrics, task_data, task_encoding", "from bertlite.fine_tune import fine_tune, predict",
             "from bertlite.task_data import sentiment_task", "from bertlite.metrics import accuracy",
             "from bertlite.checkpoints import load_pretrained", "from bertlite.report import verify",
             "from bertlite.assemble import assemble, summary", "from bertlite import transfer", "from bertlite import entailment",
             "from bertlite.export import fill_mask", "import bertlite; bertlite.transfer.transfer_experiment"]
    code = "\n".join(lines) + "\nprint('ok')"
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_an_older_notebooks_cell_heading_is_assembled_into_the_new_module():
    from bertlite.course.assemble import MODULE_CELL

    heading = MODULE_CELL.match("# bertlite/finetuning.py\nclass NoPooler: pass\n").group(1)
    assert MOVED_MODULES.get(heading, heading) == "task_models"
