"""The corpus: sentence splitting, the embedded addresses, and your own text files."""

from pathlib import Path

import pytest

from bertlite.data.corpus import Document, load_corpus, load_sotu, load_text_files, split_sentences
from bertlite.vocab import corpus_tokenizer


@pytest.mark.parametrize("text,expected", [
    ("Mr. Smith went to Washington. He arrived on Monday.",
     ["Mr. Smith went to Washington.", "He arrived on Monday."]),
    ("Dr. Rush and Mrs. Adams met Gen. Washington. They talked.",
     ["Dr. Rush and Mrs. Adams met Gen. Washington.", "They talked."]),
    ("John Q. Adams was elected. J. Madison was not.", ["John Q. Adams was elected.", "J. Madison was not."]),
    ("The U.S. Government is strong. So is the U.S.A. Navy.",
     ["The U.S. Government is strong.", "So is the U.S.A. Navy."]),
    ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ('"Why?" she asked. Is it? Yes! Good.', ['"Why?" she asked.', "Is it?", "Yes!", "Good."]),
    ("It cost $5.50 in 1990. In 1991 it rose.", ["It cost $5.50 in 1990.", "In 1991 it rose."]),
    ("See the Report. (It is long.) Done.", ["See the Report.", "(It is long.)", "Done."]),
    ("no capital after. so one sentence", ["no capital after. so one sentence"]),
    ("", []),
    ("   ", []),
])
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


@pytest.fixture(scope="module")
def sotu_docs():
    return load_sotu()


def test_load_sotu(sotu_docs):
    assert len(sotu_docs) == 249
    assert sotu_docs[0].name.startswith("1790-Washington")
    names = [d.name for d in sotu_docs]
    years = [int(n[:4]) for n in names]
    assert years == sorted(years) and len(set(names)) == 249  # date order, one per address
    assert all(d.paragraphs and all(p for p in d.paragraphs) and d.sentences for d in sotu_docs)
    n_sentences = sum(len(d.sentences) for d in sotu_docs)
    n_words = sum(len(d.text.split()) for d in sotu_docs)
    assert 60_000 < n_sentences < 90_000 and 1_800_000 < n_words < 2_500_000
    first = sotu_docs[0].sentences[0]
    assert first.startswith("Fellow-Citizens of the Senate") and first.endswith(":")
    assert [d.name for d in load_sotu(limit=3)] == names[:3]


def test_document_text_and_sentences():
    doc = Document("d", [["One.", "Two."], ["Three."]])
    assert doc.sentences == ["One.", "Two.", "Three."]
    assert doc.text == "One. Two.\n\nThree."


def test_load_text_files_one_document_per_file(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("First paragraph. It wraps\nonto a second line.\n\nSecond paragraph here.\n", encoding="utf-8")
    b = tmp_path / "b.txt"
    b.write_text("Only one sentence in b.", encoding="utf-8")
    docs = load_text_files([a, b])
    assert [d.name for d in docs] == ["a", "b"]
    assert docs[0].paragraphs == [["First paragraph.", "It wraps onto a second line."], ["Second paragraph here."]]
    assert docs[1].sentences == ["Only one sentence in b."]
    assert [d.name for d in load_text_files(str(a))] == ["a"]  # one path as a string


def test_load_text_files_blank_line_documents(tmp_path):
    f = tmp_path / "corpus.txt"
    f.write_text("Doc one, line one.\nDoc one, line two. Still doc one.\n\n\nDoc two.\n\n  \nDoc three.\n",
                 encoding="utf-8")
    docs = load_text_files(f, documents="blank-line")
    assert [d.name for d in docs] == ["corpus:0", "corpus:1", "corpus:2"]
    assert docs[0].sentences == ["Doc one, line one.", "Doc one, line two.", "Still doc one."]
    assert docs[1].sentences == ["Doc two."] and docs[2].sentences == ["Doc three."]


def test_load_corpus_sources(tmp_path):
    (tmp_path / "x.txt").write_text("Hello there.", encoding="utf-8")
    (tmp_path / "y.txt").write_text("General Kenobi.", encoding="utf-8")
    assert [d.name for d in load_corpus(tmp_path)] == ["x", "y"]
    assert [d.name for d in load_corpus(tmp_path / "x.txt")] == ["x"]


def test_missing_and_empty_corpus_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_text_files(tmp_path / "nope.txt")
    with pytest.raises(ValueError, match="no corpus files"):
        load_text_files([])
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n\n \n", encoding="utf-8")
    with pytest.raises(ValueError, match="no text"):
        load_text_files(empty)
    with pytest.raises(ValueError, match="'file' or 'blank-line'"):
        load_text_files(empty, documents="paragraph")
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(ValueError, match="no .txt files"):
        load_corpus(folder)


def test_corpus_tokenizer_on_own_documents(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTLITE_CACHE", str(tmp_path / "cache"))
    docs = [Document(f"d{i}", [[f"The union number {i} is strong.", "We will endure together."]]) for i in range(40)]
    tok = corpus_tokenizer(docs, vocab_size=120)
    assert tok.vocab_size == 120 and (tmp_path / "cache") in Path(tok.vocab_file).parents
    assert "[UNK]" not in tok.tokenize("the union is strong")
