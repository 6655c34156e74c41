"""docs/references.md: every paper a lesson, the README or a guide cites is in the bibliography, and\nthe lessons and the README link each citation to it."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITATION = re.compile(r"\b([A-Z][a-z]+(?: et al\.| & [A-Z][a-z]+)),?\s*\(?((?:19|20)\d\d)\b")


def texts():
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        yield path.name, " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    for name in ("README.md", "INSTRUCTORS.md", "CONTRIBUTING.md", "GLOSSARY.md"):
        yield name, (ROOT / name).read_text(encoding="utf-8")


LINK = re.compile(r"\[([^\]]+)\]\((?:\.\./)?docs/references\.md\)")


def citations(text):
    return {f"{who} {year}" for who, year in CITATION.findall(re.sub(r"\s+", " ", LINK.sub(r"\1", text)))}


def test_the_pattern_finds_the_usual_forms():
    found = citations("BERT (Devlin et al., 2018), ELMo (Peters et al. 2018), Wettig et al. (2023,\n"
                      "EACL) and Hutto & Gilbert (2014)")
    assert found == {"Devlin et al. 2018", "Peters et al. 2018", "Wettig et al. 2023", "Hutto & Gilbert 2014"}


def test_every_cited_paper_is_in_the_bibliography():
    listed = citations((ROOT / "docs" / "references.md").read_text(encoding="utf-8"))
    missing = {f"{cite} (in {name})" for name, text in texts() for cite in citations(text) - listed}
    assert not missing, f"add these to docs/references.md: {sorted(missing)}"


def test_every_citation_in_the_lessons_and_the_readme_links_to_the_bibliography():
    unlinked = []
    for name, text in texts():
        if name.endswith(".ipynb") or name == "README.md":
            plain = re.sub(r"\s+", " ", text)
            unlinked += [f"{m.group(0)} (in {name})" for m in CITATION.finditer(plain)]
    assert not unlinked, f"link these to docs/references.md, as [Devlin et al.](../docs/references.md) 2019: {unlinked}"
