"""Course tool, for the learner: `python -m bertlite assemble`, your notebooks become your own bertlite (lesson 10).

Every definition you wrote in a cell headed `# bertlite/<module>.py` is put in place of the
reference's definition of the same name, in a complete copy of the package written to
OUT/bertlite/ (default mine/bertlite/). An exercise you have not attempted yet (it still raises
NotImplementedError), a cell with a syntax error, or a definition that no longer compiles keeps
the reference, and the report says which and where. Your notebooks are only read, never written.

The package records what it is built from: `bertlite.ASSEMBLED` maps each module to its pieces,
each "yours" or "reference", and importing it prints one line saying so.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .._moved import MOVED_MODULES
from .reset import BACKUP

PACKAGE = Path(__file__).resolve().parents[1]  # the reference, which the assembled copy starts from
MODULE_CELL = re.compile(r"\A\s*#\s*bertlite/(\w+)\.py\s*$", re.MULTILINE)
MARKER = "_assembled.json"  # in an assembled package: what it is built from (and proof that we wrote it)


@dataclass
class Piece:
    """One top-level function or class that a lesson's module cell defines."""
    lesson: str  # "03_attention"
    cell: int  # the cell's index in the notebook, from 0
    module: str | None  # "attention"; None for a cell without a `# bertlite/` heading
    name: str
    source: str
    attempted: bool  # False while it still raises NotImplementedError


@dataclass
class Reading:
    """What the notebooks hold: every piece, and every problem met while reading them."""
    pieces: list = field(default_factory=list)
    problems: list = field(default_factory=list)  # {"lesson", "cell", "name", "message"}
    broken: dict = field(default_factory=dict)  # (lesson, name) -> why its cell could not be read

    def problem(self, lesson, cell, message, name=None):
        self.problems.append({"lesson": lesson, "cell": cell, "name": name, "message": message})


def raises_not_implemented(node):
    """True if `node` still holds a lesson stub's `raise NotImplementedError(...)`."""
    for n in ast.walk(node):
        if isinstance(n, ast.Raise) and n.exc is not None:
            exc = n.exc.func if isinstance(n.exc, ast.Call) else n.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                return True
    return False


def code_cells(path):
    """[(index, source)] of a notebook's code cells. ValueError, naming the file, if it cannot be read."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
        return [(i, "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
                for i, c in enumerate(nb["cells"]) if c.get("cell_type") == "code"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{Path(path).name} cannot be read as a notebook ({type(e).__name__}: {e})") from None


def definitions(source):
    """{name: node} of a module's or cell's top-level functions and classes."""
    tree = ast.parse(source)
    return {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def start_line(node):
    """A definition's first line, its decorators included."""
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


def segment(source, node):
    """A definition's text, its decorators included."""
    return "".join(source.splitlines(keepends=True)[start_line(node) - 1:node.end_lineno])


def lesson_notebooks(folder):
    """The lesson notebooks in `folder`, in order, without the backups that `reset` keeps."""
    return sorted(p for p in Path(folder).glob("[0-9][0-9]_*.ipynb") if BACKUP not in p.name)


def read_lessons(lessons):
    """Every piece of every lesson's `# bertlite/` cells (and of its other cells' definitions, which
    exercises outside the package use), and every problem: unreadable notebooks, syntax errors."""
    reading = Reading()
    paths = lesson_notebooks(lessons)
    course = sorted(p.stem for p in lesson_notebooks(PACKAGE.parent / "solutions"))
    for lesson in sorted(set(course) - {p.stem for p in paths}):  # a deleted or renamed notebook
        reading.problem(lesson, None, f"{Path(lessons) / (lesson + '.ipynb')} is missing: its pieces are the "
                                      f"reference's (python -m bertlite reset {lesson[:2]} gives a fresh copy)")
    for path in paths:
        lesson = path.stem
        try:
            cells = code_cells(path)
        except ValueError as e:
            reading.problem(lesson, None, str(e))
            continue
        for index, source in cells:
            heading = MODULE_CELL.match(source)
            try:
                found = definitions(source)
            except SyntaxError as e:
                names = re.findall(r"^(?:def|class)\s+(\w+)", source, re.MULTILINE)  # what it meant to define
                if heading or names:
                    message = f"syntax error, line {e.lineno}: {e.msg}"
                    reading.problem(lesson, index, message, ", ".join(names) or None)
                    reading.broken.update({(lesson, name): f"cell {index}: {message}" for name in names})
                continue
            module = heading and MOVED_MODULES.get(heading.group(1), heading.group(1))  # an older notebook's name
            for name, node in found.items():
                reading.pieces.append(Piece(lesson, index, module or None, name,
                                            segment(source, node), not raises_not_implemented(node)))
    return reading


def replace_definitions(source, pieces):
    """The module's source with each piece put in place of the definition of the same name (or
    added at the end when the reference has none)."""
    lines = source.splitlines(keepends=True)
    reference = definitions(source)
    spans = []
    for piece in pieces:
        node = reference.get(piece.name)
        if node is None:
            lines.append("\n\n" + piece.source.rstrip() + "\n")
            continue
        spans.append((start_line(node), node.end_lineno, piece.source.rstrip() + "\n"))
    for start, end, text in sorted(spans, reverse=True):  # from the bottom, so line numbers stay valid
        lines[start - 1:end] = [text]
    return "".join(lines)


def assemble(lessons="lessons", out="mine"):
    """Write OUT/bertlite/ from the lessons; returns (manifest, reading). The manifest is
    {module: {name: {"from": "yours" | "reference", "lesson", "cell", "why"}}}."""
    reading = read_lessons(lessons)
    target = Path(out) / "bertlite"
    if target.exists() and not (target / MARKER).is_file():
        raise FileExistsError(f"{target} exists and was not written by `bertlite assemble`: it is left as it is. "
                              f"Choose another --out.")
    latest = {}  # (module, name) -> the last piece that defines it (a later lesson may redefine)
    for piece in reading.pieces:
        if piece.module:
            latest[piece.module, piece.name] = piece
    manifest = {}
    Path(out).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        staged = Path(tmp) / "bertlite"
        shutil.copytree(PACKAGE, staged, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", MARKER))
        for module in sorted({m for m, _ in latest}):
            file = staged / f"{module}.py"
            if not file.is_file():
                for (m, name), p in latest.items():
                    if m == module:
                        reading.problem(p.lesson, p.cell, f"bertlite/{module}.py is not a module of bertlite: "
                                                          f"check the cell's first line", name)
                continue
            source = file.read_text(encoding="utf-8")
            entries = manifest.setdefault(module, {n: {"from": "reference"} for n in definitions(source)})
            for (m, name), piece in sorted(latest.items()):
                if m != module:
                    continue
                where = {"lesson": piece.lesson, "cell": piece.cell}
                if not piece.attempted:
                    entries[name] = {"from": "reference", **where, "why": "not attempted yet"}
                    continue
                candidate = replace_definitions(source, [piece])
                try:
                    compile(candidate, str(file), "exec")
                except SyntaxError as e:
                    reading.problem(piece.lesson, piece.cell, f"{name} does not compile in {module}.py: {e.msg}", name)
                    entries[name] = {"from": "reference", **where, "why": "does not compile"}
                    continue
                source = candidate
                entries[name] = {"from": "yours", **where}
            file.write_text(source, encoding="utf-8")
        if manifest.get("attention", {}).get("scaled_dot_product_attention", {}).get("from") == "yours":
            use_your_attention(staged / "config.py")
        for file in sorted(staged.glob("*.py")):  # every module is listed, the ones no lesson touched too
            if file.stem not in ("__init__", "__main__") and file.stem not in manifest:
                manifest[file.stem] = {n: {"from": "reference"} for n in definitions(file.read_text(encoding="utf-8"))}
        (staged / MARKER).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        with open(staged / "__init__.py", "a", encoding="utf-8") as init:
            init.write(ANNOUNCE)
        old = Path(tmp) / "previous"
        if target.exists():
            os.replace(target, old)  # ours (it has the marker); replaced only once the new one is complete
        os.replace(staged, target)
    return manifest, reading


FUSED_DEFAULT = 'attn_implementation: str = "sdpa"'


def use_your_attention(config_file):
    """The reference runs attention through torch's fused kernel; the assembled package runs yours
    (lesson 03's scaled_dot_product_attention) unless a model asks for attn_implementation="sdpa"."""
    source = config_file.read_text(encoding="utf-8")
    if FUSED_DEFAULT not in source:
        raise RuntimeError(f"{config_file} has no line {FUSED_DEFAULT!r}: assemble.py needs updating.")
    config_file.write_text(source.replace(FUSED_DEFAULT, 'attn_implementation: str = "eager"  # assembled: your '
                                          'attention by default; "sdpa" is the fused kernel, a named option'),
                           encoding="utf-8")


ANNOUNCE = '''

# --- written by `python -m bertlite assemble` ---
def _announce():
    import json as _json
    import pathlib as _pathlib

    manifest = _json.loads((_pathlib.Path(__file__).parent / "_assembled.json").read_text(encoding="utf-8"))
    yours = sorted(f"{m}.{n}" for m, names in manifest.items() for n, e in names.items() if e["from"] == "yours")
    print(f"bertlite: your own, assembled from your lessons: {len(yours)} of your definitions in place of "
          f"the reference's ({', '.join(yours[:4])}{', ...' if len(yours) > 4 else ''}); bertlite.ASSEMBLED lists them.")
    return manifest


ASSEMBLED = _announce()
'''


def summary(manifest):
    """{"yours": [...], "reference": [...]} of the pieces the lessons could have replaced."""
    out = {"yours": [], "reference": []}
    for module, names in sorted(manifest.items()):
        for name, entry in sorted(names.items()):
            if "lesson" in entry or entry["from"] == "yours":
                out[entry["from"]].append(f"{module}.{name}")
    return out


def main(lessons="lessons", out="mine", as_json=False, who=None, timeout=60.0, prove=False):
    """`python -m bertlite assemble`: write the package, then check every exercise on it."""
    from .report import STATUSES, line, progress_report, to_json, verify  # report reads this module: import it late

    manifest, reading = assemble(lessons, out)
    pieces = summary(manifest)
    say = (lambda *a, **k: print(*a, file=sys.stderr, **k)) if as_json else print
    say(f"wrote {Path(out) / 'bertlite'}/: {len(pieces['yours'])} of your definitions in place of the reference's, "
        f"{len(pieces['reference'])} kept from the reference. Your notebooks were only read.")
    for pr in reading.problems:
        where = f"{pr['lesson']}" + (f", cell {pr['cell']}" if pr["cell"] is not None else "")
        say(f"! {where}: {pr['message']} (the reference is used for it)")
    exercises = progress_report(lessons, out, reading, timeout, report=None if as_json else lambda e: say(line(e)))
    counts = {s: sum(e.status == s for e in exercises) for s in STATUSES}
    say(", ".join(f"{n} {s}" for s, n in counts.items()) + f" of {len(exercises)} exercises. "
        f"Use it from its folder: cd {out} && python -m bertlite pretrain --out ../runs/mine")
    verified = None
    if prove:
        say("\n--verify: your package against transformers and exact counts ...")
        verified, lines = verify(out)
        for text in lines:
            say(text)
    if as_json:
        data = to_json(exercises, who)
        if prove:
            data["verify"] = {"passed": verified, "lines": lines}
        print(json.dumps(data, indent=1, ensure_ascii=False))
    return 1 if counts["failed"] or counts["broken"] or verified is False else 0
