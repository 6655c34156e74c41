"""`pytest` at the root runs the unit tests and every notebook.

Notebooks are collected here rather than through nbval's --nbval flags, so that one run can
check solutions strictly (stored outputs must match) and lessons laxly (the cells must run;
exercise checks are expected to fail until the learner solves them).
"""

from nbval.plugin import IPyNbFile


def pytest_collect_file(file_path, parent):
    if file_path.suffix != ".ipynb" or file_path.parent.name not in ("solutions", "lessons"):
        return None
    if ".backup-" in file_path.name:
        return None  # a learner's copy that `python -m bertlite reset` kept
    if parent.config.option.nbval or parent.config.option.nbval_lax:
        return None  # nbval's own collector has it
    notebook = IPyNbFile.from_parent(parent, path=file_path)
    notebook.compare_outputs = file_path.parent.name == "solutions"
    return notebook
