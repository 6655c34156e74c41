"""The tokenizer against transformers' BertTokenizer (the reference) and hand computations."""

import random

import pytest
import torch

from bertlite import vocab
from bertlite.tokenization import SPECIAL_TOKENS, WordPieceTokenizer, basic_tokenize, truncate_pair, wordpiece
from bertlite.vocab import cached_vocab, learn_vocab

transformers = pytest.importorskip("transformers")

# Sentences from the State of the Union addresses (public domain), plus made-up awkward ones.
SOTU = [
    "Fellow-Citizens of the Senate and House of Representatives:",
    "I embrace with great satisfaction the opportunity which now presents itself of congratulating you.",
    "Mr. Speaker, Mr. Vice President, Members of Congress, my fellow Americans:",
    "The state of our Union is strong.",
    "Among the many interesting objects which will engage your attention that of providing for the common defense will merit particular regard.",
    "We have nothing to fear but fear itself; the U.S. economy grew 3.5% in 1997, and $1,000,000 was spent.",
    "\"Ask not,\" he said, \"what your country can do for you!\"",
]
TRICKY = [
    "", " ", "\t\n  \r", "Hello, World!", "Don't stop.", "Café naïve RÉSUMÉ Ångström", "e\u0301 vs é",
    "中文字符 mixed with text", "日本語のテキスト and 한국어", "tab\there, new\nline", "zero\u200bwidth \x00 NUL \ufffd",
    "bell\x07 and \x1f unit separator", "line\u2028separator", "non\u00a0breaking space",
    "a" * 100, "b" * 101, "antidisestablishmentarianism" * 5, "Ω≈ç √ ∫ 😀 emoji", "ＦＵＬＬＷＩＤＴＨ",
    "the capital of france is [MASK].", "[CLS] already [SEP] here [PAD]", "lower [mask] is text",
    "glued[MASK]together", "$^+=<>|~`@#&*_{}", "¿Qué? ¡Sí! «quoted» — dash … ellipsis",
    "İstanbul straße ǅ ß", "1,234.56 3.14159 1e-12",
]
TEXTS = SOTU + TRICKY


def learning_corpus():
    rng = random.Random(0)
    words = " ".join(SOTU).split()
    extra = ["Café naïve Ångström", "中文字符", "unaffable playing played plays", "a" * 30]
    return [" ".join(rng.choice(words) for _ in range(25)) for _ in range(300)] + extra


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
    return learn_vocab(learning_corpus(), vocab_size=300, path=tmp_path_factory.mktemp("v") / "vocab.txt")


@pytest.fixture(scope="module", params=[True, False], ids=["uncased", "cased"])
def pair(request, tmp_path_factory):
    lower = request.param
    path = learn_vocab(learning_corpus(), vocab_size=400, do_lower_case=lower,
                       path=tmp_path_factory.mktemp("v") / "vocab.txt")
    ours = WordPieceTokenizer(path, do_lower_case=lower)
    theirs = transformers.BertTokenizer(str(path), do_lower_case=lower)
    return ours, theirs


# --- parity with transformers ----------------------------------------------------------------

@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_tokens_and_ids_match_bert_tokenizer(pair, text):
    ours, theirs = pair
    tokens = ours.tokenize(text)
    assert tokens == theirs.tokenize(text)
    assert ours.convert_tokens_to_ids(tokens) == theirs.convert_tokens_to_ids(tokens)
    assert ours.encode(text) == theirs.encode(text)


def test_empty_text_is_no_tokens(pair):
    ours, theirs = pair
    for text in ["", "   ", "\n\t"]:
        assert ours.tokenize(text) == theirs.tokenize(text) == []
        assert ours.encode(text) == theirs.encode(text) == [ours.cls_token_id, ours.sep_token_id]


@pytest.mark.parametrize("kwargs", [
    {}, dict(padding=True), dict(max_length=12, truncation=True), dict(max_length=7, truncation=True),
    dict(max_length=16, truncation=True, padding="max_length"), dict(max_length=40, padding="max_length"),
], ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "plain")
def test_batch_encoding_of_singles_and_pairs_matches(pair, kwargs):
    ours, theirs = pair
    texts = TEXTS if "truncation" in kwargs else [t for t in TEXTS if len(ours.tokenize(t)) <= 18]
    pairs = texts[3:] + texts[:3]
    for b in (None, pairs):
        got, want = ours(texts, b, **kwargs), theirs(texts, b, **kwargs)
        for key in ("input_ids", "token_type_ids", "attention_mask"):
            assert got[key] == [list(r) for r in want[key]], key


def test_single_encodings_with_truncation_match(pair):
    ours, theirs = pair
    rng = random.Random(1)
    for _ in range(60):
        a, b = rng.choice(TEXTS), rng.choice(TEXTS)
        if not b:
            continue  # transformers reads a lone text_pair="" as "no pair"; its batch form does not
        n = rng.randint(3, 30)
        assert ours(a, b, max_length=n, truncation=True) == dict(theirs(a, b, max_length=n, truncation=True))
        assert ours.encode(a, max_length=n, truncation=True) == theirs.encode(a, max_length=n, truncation=True)


def test_pair_truncation_matches_on_every_split(pair):
    ours, theirs = pair
    word = ours.tokenize("the")[0]
    for na in range(7):
        for nb in range(1, 7):
            for n in range(3, 14):
                a, b = " ".join([word] * na), " ".join(["of"] * nb)
                assert ours(a, b, max_length=n, truncation=True)["input_ids"] == \
                    theirs(a, b, max_length=n, truncation=True)["input_ids"], (na, nb, n)


def test_return_tensors(pair):
    ours, theirs = pair
    got = ours(SOTU[:3], SOTU[3:6], padding=True, return_tensors="pt")
    want = theirs(SOTU[:3], SOTU[3:6], padding=True, return_tensors="pt")
    for key in got:
        assert got[key].dtype == torch.long and torch.equal(got[key], want[key])


# --- hand computations -------------------------------------------------------------------------

def test_basic_tokenize_by_hand():
    assert basic_tokenize("Hello, World!") == ["hello", ",", "world", "!"]
    assert basic_tokenize("Don't   CAFÉ\tnaïve") == ["don", "'", "t", "cafe", "naive"]
    assert basic_tokenize("中文x") == ["中", "文", "x"]
    assert basic_tokenize("a\x00b\u200bc") == ["abc"]
    assert basic_tokenize("Café", do_lower_case=False) == ["Café"]


def test_wordpiece_by_hand():
    vocab = {"un", "##aff", "##able", "a", "##b"}
    assert wordpiece("unaffable", vocab) == ["un", "##aff", "##able"]  # the example of BERT's README
    assert wordpiece("ab", vocab) == ["a", "##b"]
    assert wordpiece("abc", vocab) == ["[UNK]"]  # a rest without any piece: the whole word
    assert wordpiece("a" * 101, {"a", "##a"}) == ["[UNK]"]
    assert wordpiece("", vocab) == []


def test_truncate_pair_by_hand():
    assert truncate_pair([1, 2, 3, 4, 5], [6], 4) == ([1, 2, 3], [6])
    assert truncate_pair([1], [2, 3, 4, 5], 3) == ([1], [2, 3])
    assert truncate_pair([1, 2, 3], [4, 5, 6], 5) == ([1, 2], [4, 5, 6])  # equal at the start: a loses
    assert truncate_pair([1, 2, 3, 4], [5, 6, 7], 5) == ([1, 2, 3], [5, 6])  # a was longer: a keeps one more
    assert truncate_pair([1, 2, 3], None, 1) == ([1], None)
    with pytest.raises(ValueError, match="max_length"):
        truncate_pair([1], [2], -1)


def test_special_tokens_and_mask(vocab_file):
    tok = WordPieceTokenizer(vocab_file)
    assert [tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id] == [0, 1, 2, 3, 4]
    ids = tok("the union", "is strong", max_length=10, padding="max_length")["input_ids"]
    mask = tok.get_special_tokens_mask(ids)
    assert mask == [int(i in (0, 2, 3)) for i in ids]
    assert tok.decode(tok.encode("unaffable"), skip_special_tokens=True) == "unaffable"


# --- learning a vocabulary ---------------------------------------------------------------------

def test_learn_vocab_exact_size_specials_and_characters(tmp_path):
    corpus = learning_corpus()
    path = learn_vocab(corpus, vocab_size=250, path=tmp_path / "sub" / "vocab.txt")
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and len(lines) - 1 == 250  # one token per line, newline-terminated
    vocab = lines[:-1]
    assert vocab[:5] == SPECIAL_TOKENS
    assert len(set(vocab)) == len(vocab)
    chars = {c for t in corpus for w in basic_tokenize(t) for c in w}
    for c in chars:
        assert c in vocab and "##" + c in vocab, c
    tok = WordPieceTokenizer(path)
    rng = random.Random(0)
    alphabet = sorted(chars)
    made_up = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 15))) for _ in range(300)]
    for word in made_up + [w for t in corpus for w in basic_tokenize(t)]:
        assert "[UNK]" not in tok.tokenize(word), word


def test_learn_vocab_errors(tmp_path):
    with pytest.raises(ValueError, match="no text"):
        learn_vocab(["", "  "], vocab_size=100, path=tmp_path / "v.txt")
    with pytest.raises(ValueError, match="too small"):
        learn_vocab(learning_corpus(), vocab_size=30, path=tmp_path / "v.txt")


def test_cached_vocab_learns_once(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTLITE_CACHE", str(tmp_path))
    corpus = learning_corpus()
    path = cached_vocab(corpus, vocab_size=200)
    assert path.is_file() and tmp_path in path.parents
    first = path.read_text(encoding="utf-8")

    def no_relearning(*args, **kwargs):
        raise AssertionError("cached_vocab learned again instead of reading the cache")

    monkeypatch.setattr(vocab, "learn_vocab", no_relearning)
    assert cached_vocab(corpus, vocab_size=200) == path
    assert path.read_text(encoding="utf-8") == first
    with pytest.raises(AssertionError):  # another size is another file
        cached_vocab(corpus, vocab_size=210)


# --- clear errors ------------------------------------------------------------------------------

def test_too_long_without_truncation_is_an_error(vocab_file):
    tok = WordPieceTokenizer(vocab_file)
    with pytest.raises(ValueError, match=r"more than max_length=5.*truncation=True"):
        tok("the state of our union is strong", max_length=5)
    with pytest.raises(ValueError, match="no room"):
        tok("a", "b", max_length=2, truncation=True)
    long_text = "the " * 600
    with pytest.raises(ValueError, match="max_length=512"):
        tok(long_text, padding="max_length")


def test_missing_special_tokens_is_an_error(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n[UNK]\nthe\n##s\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[CLS\].*\[SEP\].*\[MASK\]"):
        WordPieceTokenizer(path)


def test_other_bad_arguments(vocab_file):
    tok = WordPieceTokenizer(vocab_file)
    with pytest.raises(ValueError, match="padding=True"):
        tok(["the", "the state of the union"], return_tensors="pt")
    with pytest.raises(ValueError, match="pair"):
        tok(["a", "b"], ["c"])
    with pytest.raises(ValueError, match="'pt'"):
        tok("a", return_tensors="np")


def test_single_text_tensors_keep_the_batch_axis(tmp_path):
    """As in transformers: return_tensors="pt" gives (1, T) for one text, ready for a model."""
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat"]) + "\n")
    enc = WordPieceTokenizer(vocab)("the cat", return_tensors="pt")
    assert enc["input_ids"].tolist() == [[2, 5, 6, 3]]
    assert enc["attention_mask"].shape == enc["token_type_ids"].shape == (1, 4)
