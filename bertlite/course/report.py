"""Course tool, for learners and instructors: the progress report of `assemble`, and a room's table (`progress`).

Every exercise of every lesson gets one status:
- "passed": solved, and its check passes on the assembled definitions;
- "failed": solved, and its check fails (with the check's message);
- "not attempted": it still raises NotImplementedError;
- "broken": a syntax error, a missing cell, an exception at import, or a timeout.

Each check runs in its own subprocess with a time limit, so an endless loop in a learner's code
stops that check, not the report. The JSON form (`assemble --json`) holds statuses and messages,
never code, so participants can send it to an instructor; `progress` turns many into one table.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from .assemble import code_cells, lesson_notebooks

STATUSES = ("passed", "failed", "not attempted", "broken")
SYMBOLS = {"passed": "✓", "failed": "✗", "not attempted": "·", "broken": "!"}
FORMAT = "bertlite-progress/1"


@dataclass
class Exercise:
    lesson: str  # "03_attention"
    check: str  # "check_padding_mask"
    args: list  # the names the check is given: ["padding_mask"]
    status: str = "not attempted"
    message: str = ""


def exercises_of(path):
    """The exercises of one notebook: each cell tagged exercise-check calls `check_x(name, ...)`."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    found = []
    for cell in nb["cells"]:
        if "exercise-check" not in cell.get("metadata", {}).get("tags", []):
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.startswith("check_"):
                found.append(Exercise(Path(path).stem, node.func.id, [a.id for a in node.args if isinstance(a, ast.Name)]))
    return found


RUNNER = r'''
import importlib.util, json, sys, traceback
out, pieces, check = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
def say(status, message=""):
    print("\n@@report@@" + json.dumps({"status": status, "message": message}))
    sys.exit(0)
try:
    spec = importlib.util.spec_from_file_location("mybertlite", out + "/bertlite/__init__.py",
                                                  submodule_search_locations=[out + "/bertlite"])
    mine = importlib.util.module_from_spec(spec); sys.modules["mybertlite"] = mine; spec.loader.exec_module(mine)
    import bertlite.checks as checks  # the reference's checks, which compare with the reference
    from bertlite.checks.harness import CheckFailed, NotDoneYet
    args = []
    for p in pieces:
        if p["module"]:
            args.append(getattr(importlib.import_module("mybertlite." + p["module"]), p["name"]))
        else:  # an exercise outside the package: its cell, run after the lesson's imports
            namespace = {}
            exec(p["imports"], namespace); exec(p["source"], namespace)
            args.append(namespace[p["name"]])
except Exception as e:
    say("broken", f"importing your code failed: {type(e).__name__}: {e}")
try:
    getattr(checks, check)(*args)
except NotDoneYet as e:
    say("not attempted", str(e))
except CheckFailed as e:
    say("failed", str(e))
except Exception as e:
    say("failed", f"your code raised {type(e).__name__}: {e}")
say("passed")
'''


def lesson_imports(path):
    """The import statements of a lesson's code cells, for running a cell outside the package."""
    lines = []
    for _, source in code_cells(path):
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        lines += [ast.get_source_segment(source, n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return "\n".join(lines)


def run_check(out, check, pieces, timeout):
    """(status, message) of one check, run in a subprocess on the assembled package in `out`."""
    try:
        result = subprocess.run([sys.executable, "-c", RUNNER, str(Path(out).resolve()), json.dumps(pieces), check],
                                capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})  # several run side by side
    except subprocess.TimeoutExpired:
        return "broken", f"timed out after {timeout:g} s: an endless loop? (stopped; the other checks went on)"
    tail = result.stdout.rpartition("@@report@@")[2]
    if "@@report@@" not in result.stdout:
        err = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return "broken", f"the check's process ended without a result: {err}"
    found = json.loads(tail)
    return found["status"], found["message"]


def progress_report(lessons, out, reading, timeout=60.0, report=None):
    """Every exercise's status, as Exercises, for the lessons in `lessons` assembled into `out`."""
    by_name = {}  # (lesson, name) and (None, name) -> the piece in effect: the last one that defines it
    for p in reading.pieces:
        by_name[p.lesson, p.name] = p
        if p.module:
            by_name[None, p.name] = p
    done = []
    pool = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)))  # checks run side by side
    for path in lesson_notebooks(lessons):
        try:
            found = exercises_of(path)
        except (OSError, ValueError, SyntaxError, KeyError) as e:
            done.append(Exercise(path.stem, "(the whole lesson)", [], "broken", f"cannot be read: {e}"))
            continue
        for ex in found:
            pieces = [by_name.get((ex.lesson, a)) or by_name.get((None, a)) for a in ex.args]
            missing = [a for a, p in zip(ex.args, pieces) if p is None]
            unreadable = [reading.broken[ex.lesson, a] for a in ex.args if (ex.lesson, a) in reading.broken]
            if unreadable:
                ex.status, ex.message = "broken", f"{unreadable[0]}; the package keeps the reference"
            elif missing:
                ex.status, ex.message = "broken", (f"no cell defines {', '.join(missing)} any more (deleted or "
                                                   f"renamed?); the package keeps the reference")
            elif not all(p.attempted for p in pieces):
                ex.status = "not attempted"
            else:
                specs = [{"module": p.module, "name": p.name, "source": None if p.module else p.source,
                          "imports": None if p.module else lesson_imports(path)} for p in pieces]
                ex.status = pool.submit(run_check, out, ex.check, specs, timeout)  # resolved below
            done.append(ex)
    for ex in done:  # in the lessons' order, each as soon as its check (and those before it) finished
        if isinstance(ex.status, Future):
            ex.status, ex.message = ex.status.result()
        if report:
            report(ex)
    pool.shutdown()
    return done


def to_json(exercises, who=None):
    return {"format": FORMAT, "who": who, "exercises": [asdict(e) for e in exercises],
            "counts": {s: sum(e.status == s for e in exercises) for s in STATUSES}}


def line(ex):
    text = f"{SYMBOLS[ex.status]} {ex.status:13s} {ex.lesson:20s} {ex.check.removeprefix('check_')}"
    return text + (f"\n      {ex.message.splitlines()[0][:200]}" if ex.message and ex.status != "not attempted" else "")


def read_report(path):
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a report of `bertlite assemble --json` (no \"format\": \"{FORMAT}\").")
    return data


def progress_table(paths):
    """A room's table: one row per exercise, one column per participant, and who is stuck where."""
    reports = [read_report(p) for p in paths]
    names = [r.get("who") or Path(p).stem for r, p in zip(reports, paths)]
    keys = []
    for r in reports:
        for e in r["exercises"]:
            if (e["lesson"], e["check"]) not in keys:
                keys.append((e["lesson"], e["check"]))
    status = [{(e["lesson"], e["check"]): e["status"] for e in r["exercises"]} for r in reports]
    width = max([len(n) for n in names] + [3])
    rows = [f"{'exercise':38s} " + " ".join(f"{n[:width]:>{width}s}" for n in names) + "   stuck (failed or broken)"]
    for key in sorted(keys):
        marks = [SYMBOLS.get(s.get(key, ""), "?") for s in status]
        stuck = [n for n, s in zip(names, status) if s.get(key) in ("failed", "broken")]
        label = f"{key[0][:2]} {key[1].removeprefix('check_')}"
        rows.append(f"{label:38s} " + " ".join(f"{m:>{width}s}" for m in marks) + f"   {', '.join(stuck)}")
    done = [sum(s.get(k) == "passed" for k in keys) for s in status]
    rows.append(f"{'passed':38s} " + " ".join(f"{d:>{width}d}" for d in done) + f"   of {len(keys)}")
    rows.append("✓ passed  ✗ failed  · not attempted  ! broken  ? not in that report")
    return "\n".join(rows)


def verify(out, timeout=600):
    """(passed, printed lines) of the end-to-end proofs (verify.py), run on the package in `out`."""
    try:
        result = subprocess.run([sys.executable, "-m", "bertlite.course.verify"], capture_output=True, text=True,
                                cwd=out, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, [f"✗ --verify timed out after {timeout} s"]
    lines = [x for x in result.stdout.splitlines() if not x.startswith("bertlite: your own")]
    if result.returncode not in (0, 1):
        lines.append(f"✗ --verify crashed: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
    return result.returncode == 0, lines


def main(paths):
    """`python -m bertlite progress REPORT.json ...`: a room's table."""
    print(progress_table(paths))
    return 0
