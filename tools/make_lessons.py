"""Generate lessons/NN_topic.ipynb from solutions/NN_topic.ipynb (what a lesson is: bertlite/course/lessons.py).

    python tools/make_lessons.py            # regenerate every lesson
    python tools/make_lessons.py --check    # exit 1 if lessons/ differs from what it would write
    python tools/make_lessons.py --execute solutions/03_attention.ipynb
                                            # run a solution, store its outputs, regenerate its lesson
"""

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the repository's bertlite, installed or not
from bertlite.course.lessons import lesson_text, make_lesson, show_bugs, stub_solutions  # noqa: E402,F401

def execute(solution_path: Path):
    """Run a solution top to bottom in its own folder and store the outputs in place."""
    from nbclient import NotebookClient

    nb = nbformat.read(solution_path, as_version=4)
    NotebookClient(nb, timeout=1200, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(solution_path.parent)}}).execute()
    nb.metadata.pop("widgets", None)  # progress bars' widget state: large, and differs every run
    nbformat.write(nb, solution_path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if lessons/ is out of date")
    parser.add_argument("--execute", nargs="*", type=Path, default=None, metavar="SOLUTION",
                        help="run these solutions (all if none named) and store their outputs first")
    args = parser.parse_args(argv)

    solutions = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    if args.execute is not None:
        for path in [p.resolve() for p in args.execute] or solutions:
            print(f"executing {path.relative_to(ROOT)} ...", flush=True)
            execute(path)
    stale = []
    for path in solutions:
        target = ROOT / "lessons" / path.name
        text = lesson_text(path)
        if args.check:
            if not target.exists() or target.read_text() != text:
                stale.append(target.relative_to(ROOT))
        else:
            target.parent.mkdir(exist_ok=True)
            target.write_text(text)
    lessons = {p.name for p in (ROOT / "lessons").glob("*.ipynb") if ".backup-" not in p.name}  # reset's backups
    orphans = sorted(lessons - {p.name for p in solutions})
    if args.check and (stale or orphans):
        print("lessons/ is out of date; run `python tools/make_lessons.py` and commit the result:")
        for p in stale:
            print(f"  {p} differs from what solutions/{p.name} generates")
        for name in orphans:
            print(f"  lessons/{name} has no solutions/{name}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
