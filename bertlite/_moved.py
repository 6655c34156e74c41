"""Course tool, for older notebooks: old import paths, kept working. A notebook saved before bertlite was split into three wings
(the BERT, data/, course/) still runs, and so does a checkpoint that names an old module.

    import bertlite.finetuning        # works, warns once, and is bertlite.task_models itself

The whole map is the two tables below; nothing else in the package uses this module, apart from
the two modules that lost a function (checkpoints.py and export.py), whose `__getattr__` sends a
caller on to the function's new home.
"""

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED_MODULES = {  # old module -> where it lives now (both under bertlite.)
    "finetuning": "task_models", "fine_tune": "task_training", "metrics": "task_metrics",
    "loading": "hf_weights", "runs": "pretraining_runs",
    "corpus": "data.corpus", "task_data": "data.task_data", "entailment": "data.entailment",
    "course_corpus": "data.course_corpus",
    "cli": "course.cli", "doctor": "course.doctor", "prepare": "course.prepare", "reset": "course.reset",
    "assemble": "course.assemble", "report": "course.report", "verify": "course.verify",
    "diagrams": "course.diagrams", "transfer": "course.transfer",
}
MOVED_NAMES = {  # (old module, name) -> the module that defines it now
    ("checkpoints", "load_pretrained"): "pretrained",
    ("checkpoints", "model_from_checkpoint"): "pretrained",
    ("export", "load_model"): "pretrained",
}


def _warn(old, new, stacklevel=3):
    warnings.warn(f"bertlite.{old} is now bertlite.{new}; the old name keeps working, the new one is the "
                  f"one to write", DeprecationWarning, stacklevel=stacklevel)


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds `bertlite.<old>` and hands back the module that now holds it."""

    def find_spec(self, fullname, path=None, target=None):
        old = fullname[len("bertlite."):] if fullname.startswith("bertlite.") else None
        if old not in MOVED_MODULES:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        old = spec.name[len("bertlite."):]
        _warn(old, MOVED_MODULES[old])
        return importlib.import_module("bertlite." + MOVED_MODULES[old])

    def exec_module(self, module):
        pass  # the module it stands for is already imported


def install():
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.append(_Alias())


def moved_name(module, name):
    """For an old module's `__getattr__`: the object `name` that moved out of `module`."""
    old = module[len("bertlite."):]
    new = MOVED_NAMES.get((old, name))
    if new is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    _warn(f"{old}.{name}", f"{new}.{name}", stacklevel=4)
    return getattr(importlib.import_module("bertlite." + new), name)
