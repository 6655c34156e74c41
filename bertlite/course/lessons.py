"""Course tool, for authors and workshops: what a lesson is, made from its solution notebook.

tools/make_lessons.py writes lessons/ with it, and `python -m bertlite reset NN` gives a learner a
fresh copy with it; this module is the one definition the two share.

Conventions in a solution notebook (see CONTRIBUTING.md):
- Inside an exercise, the solution sits between two marker lines:
      ### BEGIN SOLUTION (hint: what to do)
      ...
      ### END SOLUTION
  In the lesson the block becomes `raise NotImplementedError("<hint>")` at the same indent.
- The cell that checks an exercise carries the tag `exercise-check`. In the lesson it also gets
  nbval's `raises-exception`, because it fails until the learner has solved the exercise.
- A find-the-bug exercise shows the lesson the broken code and keeps the fix in the solution:
      ### BEGIN FIX
      <the fixed lines>
      ### BUGGY
      # <the broken lines, commented out>
      ### END FIX
  In the lesson the block becomes the broken lines, uncommented.
- A quiz answer is a dict entry that ends in `# your answer`: `2: 64,  # your answer`. In the
  lesson its value becomes `...`.
- Lessons keep every other cell and tag as they are, with outputs cleared.
"""

from __future__ import annotations

import re
from pathlib import Path

BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION(?:\s*\(hint:\s*(?P<hint>.*)\))?\s*$")
END = re.compile(r"^[ \t]*### END SOLUTION\s*$")
FIX, BUGGY, END_FIX = (re.compile(rf"^[ \t]*### {m}\s*$") for m in ("BEGIN FIX", "BUGGY", "END FIX"))
ANSWER = re.compile(r"^(?P<head>[ \t]*\d+:[ \t]*).*?(?P<tail>,[ \t]*# your answer.*)$")


def show_bugs(source: str, where: str) -> str:
    """Replace every BEGIN FIX/BUGGY/END FIX block with its broken lines, uncommented, and blank
    every quiz answer."""
    out, state = [], None
    for n, line in enumerate(source.split("\n"), 1):
        if FIX.match(line) or BUGGY.match(line) or END_FIX.match(line):
            expected = {"BEGIN FIX": None, "BUGGY": "fixed", "END FIX": "buggy"}
            marker = line.strip()[4:]
            if state != expected[marker]:
                raise ValueError(f"{where}, line {n}: ### {marker} out of order")
            state = {"BEGIN FIX": "fixed", "BUGGY": "buggy", "END FIX": None}[marker]
        elif state == "buggy":
            indent = line[:len(line) - len(line.lstrip())]
            if not line.lstrip().startswith("# "):
                raise ValueError(f"{where}, line {n}: a BUGGY line must be commented out with '# '")
            out.append(indent + line.lstrip()[2:])
        elif state is None:
            answer = ANSWER.match(line)
            out.append(f"{answer['head']}...{answer['tail']}" if answer else line)
    if state is not None:
        raise ValueError(f"{where}: a BEGIN FIX block is never closed")
    return "\n".join(out)


def stub_solutions(source: str, where: str) -> str:
    """Replace every BEGIN/END SOLUTION block with a NotImplementedError stub."""
    out, inside = [], False
    for n, line in enumerate(source.split("\n"), 1):
        begin = BEGIN.match(line)
        if begin:
            if inside:
                raise ValueError(f"{where}, line {n}: BEGIN SOLUTION inside another solution block")
            inside = True
            hint = (begin.group("hint") or "write this part").strip()
            out.append(f"{begin.group('indent')}raise NotImplementedError({hint!r})")
        elif END.match(line):
            if not inside:
                raise ValueError(f"{where}, line {n}: END SOLUTION without BEGIN SOLUTION")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: a BEGIN SOLUTION block is never closed")
    return "\n".join(out)


def make_lesson(solution, name: str):
    """The lesson (an nbformat notebook) made from a solution notebook."""
    import nbformat  # a Jupyter dependency: imported only when a lesson is made

    lesson = nbformat.from_dict(solution)  # a deep copy
    for i, cell in enumerate(lesson.cells):
        cell.pop("id", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        cell.source = show_bugs(stub_solutions(cell.source, f"{name}, cell {i}"), f"{name}, cell {i}")
        cell.outputs = []
        cell.execution_count = None
        tags = cell.metadata.get("tags", [])
        if "exercise-check" in tags and "raises-exception" not in tags:
            cell.metadata["tags"] = tags + ["raises-exception"]
    lesson.metadata.pop("widgets", None)  # progress bars' saved state: output, not content
    lesson.nbformat, lesson.nbformat_minor = 4, 4  # 4.4: cells without ids, stable to diff
    return lesson


def lesson_text(solution_path: Path) -> str:
    """The lesson's file text, made from solutions/NN_topic.ipynb."""
    import nbformat

    solution = nbformat.read(solution_path, as_version=4)
    return nbformat.writes(make_lesson(solution, solution_path.name)) + "\n"
