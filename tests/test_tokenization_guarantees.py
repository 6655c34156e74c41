"""Guarantees of the tokenizer and its vocabulary: every document reaches sentencepiece, cached
vocabularies are checked, special tokens split in linear time, and bad input gets errors that
name the value and the fix."""

import random
import time

import pytest
import torch

from bertlite import tokenization
from bertlite.data.corpus import load_text_files
from bertlite.tokenization import SPECIAL_TOKENS, WordPieceTokenizer, _split_on_specials, basic_tokenize, load_vocab
from bertlite.vocab import _sentencepiece_lines, cached_vocab, learn_vocab

SP_LIMIT = 1 << 16  # sentencepiece's max_sentence_length, in bytes


def small_vocab(tmp_path, tokens=("the", "cat", "##s")):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(SPECIAL_TOKENS + list(tokens)) + "\n", encoding="utf-8")
    return path


def vocab_lines(path):
    return path.read_text(encoding="utf-8").split("\n")[:-1]


# --- 1. every document reaches sentencepiece, however long ------------------------------------

def test_sentencepiece_lines_keep_every_word_and_stay_short():
    rng = random.Random(0)
    alphabet = "abcdefghijklmnopqrstuvwxyzéß中😀"  # 1-, 2-, 3- and 4-byte characters
    words = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(30000)]
    words += ["😀" * 5000, "x" * 20000] + words[:100]  # words longer than a line are cut, not lost
    lines = list(_sentencepiece_lines(words))
    assert max(len(line.encode("utf-8")) for line in lines) <= 4096 < SP_LIMIT
    assert "".join(" ".join(lines).split()) == "".join(words)  # every character, in order
    assert " ".join(lines).split()[:30000] == words[:30000]  # ordinary words stay whole
    assert list(_sentencepiece_lines([])) == []


def test_learn_vocab_when_every_document_is_over_64kb(tmp_path):
    """Used to die inside sentencepiece with [!sentences_.empty()]: it skipped every line."""
    docs = [("quixotic liberty " * 4000) + f"union{i} þ" for i in range(3)]
    assert all(len(d.encode("utf-8")) > SP_LIMIT for d in docs)
    vocab = vocab_lines(learn_vocab(docs, vocab_size=60, path=tmp_path / "vocab.txt"))
    assert len(vocab) == 60
    assert {"quixotic", "liberty", "þ", "##þ"} <= set(vocab)  # words and characters of those documents
    tok = WordPieceTokenizer(tmp_path / "vocab.txt")
    assert "[UNK]" not in tok.tokenize("Quixotic liberty union2 þ")


def test_a_character_only_in_a_long_document_is_learned(tmp_path):
    short = [f"the state of the union is strong {i}" for i in range(200)]
    long = "the people " * 7000 + "þorn"  # þ occurs only here, in a document over 64 KB
    assert len(long.encode("utf-8")) > SP_LIMIT
    path = learn_vocab(short + [long], vocab_size=120, path=tmp_path / "vocab.txt")
    assert {"þ", "##þ"} <= set(vocab_lines(path))
    assert "[UNK]" not in WordPieceTokenizer(path).tokenize("Þorn")


def test_characters_are_learned_as_wordpiece_sees_them(tmp_path):
    """sentencepiece's default NFKC normalization would learn "1⁄2" for "½", leaving "½" [UNK]."""
    texts = [f"{i}½ miles and ﬁve ２ ounces" for i in range(50)]
    path = learn_vocab(texts, vocab_size=80, path=tmp_path / "vocab.txt")
    seen = {c for t in texts for w in basic_tokenize(t) for c in w}
    assert seen <= set(vocab_lines(path))
    assert "[UNK]" not in WordPieceTokenizer(path).tokenize(" ".join(texts))


# --- 2. the vocabulary cache is checked before it is trusted -----------------------------------

def test_a_truncated_cached_vocab_is_learned_again(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BERTLITE_CACHE", str(tmp_path))
    corpus = [f"the union number {i} is strong and we will endure together" for i in range(100)]
    path = cached_vocab(corpus, vocab_size=150)
    full = path.read_text(encoding="utf-8")
    path.write_text(full[: len(full) // 2], encoding="utf-8")  # a crash or a partial copy
    capsys.readouterr()
    assert cached_vocab(corpus, vocab_size=150) == path
    assert str(path) in capsys.readouterr().out
    assert path.read_text(encoding="utf-8") == full and len(WordPieceTokenizer(path)) == 150


def test_a_vocab_cached_by_the_old_version_is_not_reused(tmp_path, monkeypatch):
    """Before v2, long documents were left out of the vocabulary: such a file must not be read."""
    import hashlib

    monkeypatch.setenv("BERTLITE_CACHE", str(tmp_path))
    corpus = [f"the union number {i} is strong" for i in range(100)]
    h = hashlib.sha256()
    for t in corpus:
        h.update(t.encode("utf-8") + b"\0")
    old = tmp_path / "vocab" / f"vocab-{h.hexdigest()[:16]}-100.txt"
    old.parent.mkdir()
    old.write_text("\n".join(SPECIAL_TOKENS + ["stale"]) + "\n", encoding="utf-8")
    path = cached_vocab(corpus, vocab_size=100)
    assert "stale" not in vocab_lines(path) and len(vocab_lines(path)) == 100


# --- 3. special tokens split in linear time ----------------------------------------------------

def split_on_specials_reference(text):
    """The old implementation, quadratic but plainly right: the reference for the new one."""
    chunks, rest = [], text
    while rest:
        hits = [(rest.find(t), t) for t in SPECIAL_TOKENS if t in rest]
        if not hits:
            chunks.append(rest)
            break
        i, token = min(hits)
        if i:
            chunks.append(rest[:i])
        chunks.append(token)
        rest = rest[i + len(token):]
    return chunks


def test_split_on_specials_matches_the_reference():
    rng = random.Random(0)
    parts = SPECIAL_TOKENS + ["[", "]", "[PAD", "MASK]", "[mask]", "[[", "a", " ", "the union", "é中", "\n"]
    texts = ["", "[PAD]", "x", "[PAD][PAD]", "[[MASK]]", "[CLS]a[SEP]b[SEP]", "[PA[PAD]D]"]
    texts += ["".join(rng.choice(parts) for _ in range(rng.randint(0, 30))) for _ in range(2000)]
    for text in texts:
        assert _split_on_specials(text) == split_on_specials_reference(text), text


def test_tokenizing_a_megabyte_of_special_tokens_and_text_is_fast(tmp_path):
    tok = WordPieceTokenizer(small_vocab(tmp_path))
    unit = "[PAD]" * 8 + "the cats[MASK] the cat. [SEP]"
    text = (unit * ((1 << 20) // len(unit) + 1))[: 1 << 20]
    start = time.perf_counter()
    tokens = tok.tokenize(text)
    seconds = time.perf_counter() - start
    assert seconds < 2.0, f"tokenize took {seconds:.1f} s on 1 MB (was minutes when it rescanned the text)"
    n = (1 << 20) // len(unit)
    assert tokens.count("[PAD]") >= 8 * n and tokens.count("[MASK]") >= n
    assert tokens[:12] == ["[PAD]"] * 8 + ["the", "cat", "##s", "[MASK]"]
    start = time.perf_counter()
    assert tok.tokenize("[PAD]" * 40000) == ["[PAD]"] * 40000  # 10 s before
    assert time.perf_counter() - start < 1.0


# --- 4. errors that name the value and the fix -------------------------------------------------

def test_a_corpus_file_that_is_not_utf8_is_a_clear_error(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"The union is strong.\n" * 1000 + "Caf\u00e9 society.".encode("latin-1"))
    offset = 21 * 1000 + 3  # the é, far past the first buffer's worth of bytes
    with pytest.raises(ValueError, match=rf"latin1\.txt is not UTF-8.*byte offset {offset}.*Convert the file to UTF-8") as e:
        load_text_files(path)
    assert not isinstance(e.value, UnicodeDecodeError)


def test_a_vocab_file_that_is_not_utf8_is_a_clear_error(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_bytes("\n".join(SPECIAL_TOKENS + ["the", "caf\u00e9"]).encode("cp1252") + b"\n")
    for load in (load_vocab, WordPieceTokenizer):
        with pytest.raises(ValueError, match=r"vocab\.txt is not UTF-8.*byte offset 38.*Convert the file to UTF-8") as e:
            load(path)
        assert not isinstance(e.value, UnicodeDecodeError)


def test_a_missing_vocab_file_is_named(tmp_path):
    for load in (load_vocab, WordPieceTokenizer):
        with pytest.raises(FileNotFoundError, match=r"vocab file .*nope\.txt does not exist"):
            load(tmp_path / "nope.txt")


def test_vocab_lines_end_only_at_newlines(tmp_path):
    """Reading the file whole (for the error's byte offset) keeps what open() gave line by line."""
    lf, crlf, odd = tmp_path / "lf.txt", tmp_path / "crlf.txt", tmp_path / "odd.txt"
    lf.write_bytes(b"[PAD]\n[UNK]\nthe\n")
    crlf.write_bytes(b"[PAD]\r\n[UNK]\r\nthe\r\n")
    odd.write_bytes("[PAD]\na\u2028b\n\nlast".encode("utf-8"))  # U+2028 is inside a token
    assert load_vocab(lf) == load_vocab(crlf) == {"[PAD]": 0, "[UNK]": 1, "the": 2}
    assert load_vocab(odd) == {"[PAD]": 0, "a\u2028b": 1, "": 2, "last": 3}
    (tmp_path / "empty.txt").write_bytes(b"")
    assert load_vocab(tmp_path / "empty.txt") == {}


def test_unknown_ids_are_a_clear_error(tmp_path):
    tok = WordPieceTokenizer(small_vocab(tmp_path))  # 8 tokens: ids 0 to 7
    assert tok.decode(torch.tensor([2, 5, 7, 3]), skip_special_tokens=True) == "thes"
    for bad in (8, -1, [2, 8, 3], torch.tensor([2, 99])):
        i = 99 if isinstance(bad, torch.Tensor) else 8 if bad != -1 else -1
        with pytest.raises(ValueError, match=rf"id {i} is not in the vocabulary of .*vocab\.txt, whose 8 ids run from 0 to 7"):
            tok.decode(bad if not isinstance(bad, int) else [bad])
        with pytest.raises(ValueError, match=rf"id {i} "):
            tok.convert_ids_to_tokens(bad)


@pytest.mark.parametrize("call", [
    lambda tok: tok(None), lambda tok: tok([None]), lambda tok: tok(["the", 5]), lambda tok: tok(5),
    lambda tok: tok("the", 5), lambda tok: tok.encode(None), lambda tok: tok.tokenize(b"the"),
], ids=["None", "[None]", "list-with-int", "int", "pair-int", "encode-None", "bytes"])
def test_text_that_is_not_a_string_is_a_type_error(tmp_path, call):
    tok = WordPieceTokenizer(small_vocab(tmp_path))
    with pytest.raises(TypeError, match=r"got (None|5|b'the') \((NoneType|int|bytes)\): text must be a str, or a list of str"):
        call(tok)
    assert tok("the", None)["input_ids"] == [2, 5, 3]  # no pair is still fine
