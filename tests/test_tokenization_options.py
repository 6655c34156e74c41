"""The tokenizer's Hugging Face options, its offsets, saving, and its parity on hard Unicode strings.

The reference is transformers' Python BertTokenizer (BertTokenizerLegacy in transformers 5),
built from the same vocab.txt; offsets are checked against the Rust tokenizer's offset_mapping.
Run this file as a script to print the parity report kept in docs/tokenizer_parity.md."""

import json
import unicodedata

import pytest

from bertlite.tokenization import SPECIAL_TOKENS, WordPieceTokenizer, is_control

transformers = pytest.importorskip("transformers")
try:
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy as PythonBertTokenizer
except ImportError:  # transformers 4: BertTokenizer is the Python one
    PythonBertTokenizer = transformers.BertTokenizer
RustBertTokenizer = transformers.BertTokenizerFast if hasattr(transformers, "BertTokenizerFast") else transformers.BertTokenizer

TEXTS = [
    "", " ", "Hello, World!", "Don't STOP now.", "Café naïve RÉSUMÉ Ångström façade", "İstanbul straße ß",
    "中文字符 mixed with text", "日本語のテキスト and 한국어", "$^+=<>|~`@#&*_{}", "¿Qué? ¡Sí! «quoted» — dash …",
    "the capital of france is [MASK].", "glued[MASK]together [CLS] x [SEP]", "New-York's BIG-apple, ok?",
    "unaffable playing played plays", "tab\there, new\nline  spaces", "ΟΔΟΣ οδος", "mixed CaSe WoRdS",
]
NEVER_SPLIT = ["New-York's", "BIG-apple", "[foo]", "e-mail"]


# --- the hard strings: where Unicode tables and implementations part ways ----------------------

HARD_CHARS = {
    "unassigned code point": ["\u0378", "\u0530", "\U0001FFFE", "\U000E0080", "\U0002FFFF", "\U00031350"],
    "Greek final sigma": ["ΟΔΟΣ", "ς", "Σ", "ΣΑΣ ΟΔΟΣ.", "ὈΔΥΣΣΕΎΣ"],
    "category changed between Unicode versions": ["\u180e", "\U0001F3FB", "\u0c5d", "\U0001E900",
                                                  "\U00016FE4", "\u08be", "\U0001FAE8", "\U0001B132"],
    "combining marks": ["e\u0301", "a\u0300\u0316", "Z\u0337\u0322\u0348a\u0334l\u0335g\u0338o", "\u0301",
                        "n\u0303o", "\u05e9\u05c1\u05b8", "\u0915\u094d\u0937", "\u0628\u064e"],
    "zero-width and format characters": ["a\u200db", "a\u200cb", "a\u200bb", "\ufeffbom", "soft\u00adhyphen",
                                         "\u200frtl\u202e", "a\U000E0041b"],
    "control characters": ["\x00", "a\x07b", "x\x1fy", "\x1b[0m", "\x7f", "a\x85b", "\u2028", "\u2029", "\x0b\x0c"],
    "CJK blocks and extensions": ["\u3400", "\U00020000", "\U0002A700", "\U0002B740", "\U0002B820", "\U0002CEB0",
                                  "\U00030000", "\U0002EBF0", "\uf900", "\U0002F800", "\u2e80", "\u2f00",
                                  "ひらがなカタカナ", "한국어", "\u3007", "\u3000"],
    "full-width and half-width forms": ["ＦＵＬＬ！", "ｈｅｌｌｏ，ｗｏｒｌｄ", "ｶﾀｶﾅ", "１２３"],
    "emoji": ["😀", "👨\u200d👩\u200d👧", "👍🏽", "🇫🇷", "1\ufe0f\u20e3", "❤\ufe0f"],
    "other case and compatibility forms": ["İ", "ẞ", "ǅ", "ﬁ", "Ⅻ", "⅓", "\u212a", "\u2126", "\u212b", "𝐀𝐁𝐂", "²"],
}


def hard_strings():
    """(category, text): each hard character alone, inside a word, and in a sentence."""
    out = []
    for category, chars in HARD_CHARS.items():
        for c in chars:
            out += [(category, c), (category, f"a{c}b"), (category, f"The {c} END, ok.")]
    return out


def hard_vocab(path):
    """A vocab.txt with every character the hard strings can become, alone and with "##", so that a
    difference in normalization shows in the tokens instead of hiding in [UNK]."""
    chars = set()
    for _, text in hard_strings():
        for form in (text, text.lower(), unicodedata.normalize("NFD", text), unicodedata.normalize("NFC", text)):
            chars.update(form)
    chars = sorted(c for c in chars if not c.isspace() and not unicodedata.category(c).startswith("C"))
    words = ["the", "end", "ok", "a", "##b"] + chars + ["##" + c for c in chars]
    path.write_text("\n".join(dict.fromkeys(SPECIAL_TOKENS + words)) + "\n", encoding="utf-8")
    return path


def nfc_after_cleaning(text):
    """The Python BertTokenizer (since transformers 4.3x) composes the cleaned text to NFC; bertlite,
    like the original BERT and the Rust tokenizer, does not. Only where accents are kept can this show."""
    cleaned = "".join(c for c in text if c not in "\x00\ufffd" and not is_control(c))
    return unicodedata.normalize("NFC", cleaned) == cleaned


def compare(vocab_path, **options):
    """{"python": [...], "rust": [...]}: the (category, text) whose tokens differ from bertlite's."""
    ours = WordPieceTokenizer(vocab_path, **options)
    python, rust = PythonBertTokenizer(str(vocab_path), **options), RustBertTokenizer(str(vocab_path), **options)
    diffs = {"python": [], "rust": []}
    for category, text in hard_strings():
        mine = ours.tokenize(text)
        for name, other in (("python", python), ("rust", rust)):
            if other.tokenize(text) != mine:
                diffs[name].append((category, text))
    return diffs


@pytest.fixture(scope="module")
def hard_vocab_file(tmp_path_factory):
    return hard_vocab(tmp_path_factory.mktemp("hard") / "vocab.txt")


@pytest.mark.parametrize("options", [dict(), dict(do_lower_case=False), dict(strip_accents=True, do_lower_case=False)],
                         ids=["uncased", "cased", "cased-strip"])
def test_hard_strings_match_the_python_bert_tokenizer(hard_vocab_file, options):
    diffs = compare(hard_vocab_file, **options)["python"]
    strips = options.get("strip_accents", options.get("do_lower_case", True))
    # With accents stripped (NFD) the Python tokenizer's NFC step changes nothing: no difference at all.
    # With accents kept, the only differences are texts that NFC would change.
    assert [t for _, t in diffs if strips or nfc_after_cleaning(t)] == []
    assert len(hard_strings()) > 200


# --- the options against the Python BertTokenizer ----------------------------------------------

@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
    from bertlite.vocab import learn_vocab
    corpus = [" ".join(TEXTS + NEVER_SPLIT) * 3, "cafe café resume résumé istanbul strasse straße"] * 20
    return learn_vocab(corpus * 5, vocab_size=300, do_lower_case=False, path=tmp_path_factory.mktemp("v") / "vocab.txt")


OPTIONS = [
    dict(), dict(do_lower_case=False), dict(strip_accents=False), dict(strip_accents=True),
    dict(do_lower_case=False, strip_accents=True), dict(do_lower_case=False, strip_accents=False),
    dict(tokenize_chinese_chars=False), dict(do_basic_tokenize=False), dict(do_basic_tokenize=False, do_lower_case=False),
    dict(never_split=NEVER_SPLIT), dict(never_split=NEVER_SPLIT, do_lower_case=False),
]


@pytest.fixture(scope="module", params=OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items() if k != "never_split")
                + (",never_split" if "never_split" in o else "") or "default")
def pair(request, vocab_file):
    return WordPieceTokenizer(vocab_file, **request.param), PythonBertTokenizer(str(vocab_file), **request.param)


def test_options_match_the_python_bert_tokenizer(pair):
    ours, theirs = pair
    for text in TEXTS:
        assert ours.tokenize(text) == theirs.tokenize(text), text
        assert ours.encode(text) == theirs.encode(text), text
        assert ours.encode(text, add_special_tokens=False) == theirs.encode(text, add_special_tokens=False), text


def test_pairs_and_batches_match_the_python_bert_tokenizer(pair):
    ours, theirs = pair
    pairs = list(zip(TEXTS, TEXTS[::-1]))
    for kwargs in [{}, dict(add_special_tokens=False), dict(max_length=9, truncation=True, padding="max_length")]:
        mine = ours([a for a, _ in pairs], [b for _, b in pairs], **kwargs)
        ref = theirs([a for a, _ in pairs], [b for _, b in pairs], return_token_type_ids=True, **kwargs)
        for key in ("input_ids", "token_type_ids", "attention_mask"):
            assert mine[key] == ref[key], (kwargs, key)


def test_strip_accents_is_separate_from_lower_casing(vocab_file):
    def word(**options):
        return "".join(WordPieceTokenizer(vocab_file, **options).tokenize("Café")).replace("#", "")
    assert word() == word(strip_accents=True) == "cafe"
    assert word(strip_accents=False) == "café"
    assert word(do_lower_case=False, strip_accents=True) == "Cafe"
    assert word(do_lower_case=False) == "Café"


def test_never_split_words_stay_whole(vocab_file):
    tok = WordPieceTokenizer(vocab_file, never_split=NEVER_SPLIT, do_lower_case=False)
    tokens = tok.tokenize("New-York's e-mail!")  # a word of never_split (a whole word) is not split
    assert tokens[0] == "New-York's" and tokens[-1] == "!" and "-" in tokens
    assert "-" in WordPieceTokenizer(vocab_file, do_lower_case=False).tokenize("New-York's")
    assert tok.convert_tokens_to_ids(["New-York's"]) == [tok.unk_token_id]  # not in the vocabulary, as in HF


# --- offsets, against the Rust tokenizer's offset_mapping ---------------------------------------

OFFSET_TEXTS = [t for t in TEXTS if "ΟΔΟΣ" not in t and "İ" not in t] + ["  leading and trailing  ", "a\x07b c\u200bd"]


@pytest.mark.parametrize("options", [dict(), dict(do_lower_case=False), dict(tokenize_chinese_chars=False)],
                         ids=["uncased", "cased", "no-cjk"])
def test_offsets_match_the_rust_tokenizer(vocab_file, options):
    ours, rust = WordPieceTokenizer(vocab_file, **options), RustBertTokenizer(str(vocab_file), **options)
    for text in OFFSET_TEXTS:
        mine = ours(text, return_offsets_mapping=True)
        ref = rust(text, return_offsets_mapping=True)
        assert mine["input_ids"] == ref["input_ids"], text
        assert mine["offset_mapping"] == [tuple(o) for o in ref["offset_mapping"]], text
    a, b = OFFSET_TEXTS[3], OFFSET_TEXTS[4]
    mine = ours([a], [b], return_offsets_mapping=True, padding="max_length", max_length=40, truncation=True)
    ref = rust([a], [b], return_offsets_mapping=True, padding="max_length", max_length=40, truncation=True)
    assert mine["offset_mapping"] == [[tuple(o) for o in row] for row in ref["offset_mapping"]]


def test_offsets_point_at_the_text(vocab_file):
    tok = WordPieceTokenizer(vocab_file, do_lower_case=False)
    text = "unaffable [MASK] Café! 中文"
    enc = tok(text, return_offsets_mapping=True)
    spans = [text[s:e] for s, e in enc["offset_mapping"]]
    assert spans[0] == spans[-1] == ""  # [CLS] and [SEP] are (0, 0)
    assert "".join(spans) == text.replace(" ", "")
    assert "[MASK]" in spans and "中" in spans
    assert tok("ΟΔΟΣ", return_offsets_mapping=True)["offset_mapping"] == [(0, 0), (0, 1), (1, 3), (3, 4), (0, 0)]
    # Lower-cased, the word ends in a final sigma that "Σ" alone does not give: each piece gets the word's span.
    spans = WordPieceTokenizer(vocab_file)("ΟΔΟΣ", return_offsets_mapping=True)["offset_mapping"]
    assert spans[1:-1] == [(0, 4)] * (len(spans) - 2)


def test_offsets_as_tensors(vocab_file):
    enc = WordPieceTokenizer(vocab_file)(["the", "the end"], padding=True, return_offsets_mapping=True, return_tensors="pt")
    assert enc["offset_mapping"].shape == (*enc["input_ids"].shape, 2)
    assert enc["offset_mapping"][0, -1].tolist() == [0, 0]  # padding


# --- saving, and vocabularies without [PAD] or [MASK] -------------------------------------------

def test_save_pretrained_loads_in_transformers(vocab_file, tmp_path):
    ours = WordPieceTokenizer(vocab_file, do_lower_case=False, strip_accents=True, never_split=["[foo]"])
    paths = ours.save_pretrained(tmp_path / "tok")
    assert sorted(p.rsplit("/", 1)[1] for p in paths) == ["special_tokens_map.json", "tokenizer_config.json", "vocab.txt"]
    assert (tmp_path / "tok" / "vocab.txt").read_bytes() == vocab_file.read_bytes()
    config = json.loads((tmp_path / "tok" / "tokenizer_config.json").read_text())
    assert config["do_lower_case"] is False and config["strip_accents"] is True
    for cls in (PythonBertTokenizer, transformers.AutoTokenizer):
        theirs = cls.from_pretrained(str(tmp_path / "tok"))
        assert theirs.tokenize("Café naïve RÉSUMÉ") == ours.tokenize("Café naïve RÉSUMÉ")
    again = WordPieceTokenizer(tmp_path / "tok" / "vocab.txt")
    assert again.vocab == ours.vocab
    assert ours.save_vocabulary(tmp_path, "x") == (str(tmp_path / "x-vocab.txt"),)


def test_a_missing_vocab_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        WordPieceTokenizer(tmp_path / "nope" / "vocab.txt")


def test_a_vocab_without_pad_or_mask_works_until_they_are_needed(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[UNK]\n[CLS]\n[SEP]\nthe\ncat\n##s\n", encoding="utf-8")
    tok = WordPieceTokenizer(path)
    assert tok("the cats")["input_ids"] == [1, 3, 4, 5, 2]
    assert tok(["the", "cat"], return_tensors="pt")["input_ids"].tolist() == [[1, 3, 2], [1, 4, 2]]
    assert tok.get_special_tokens_mask([1, 3, 2]) == [1, 0, 1]
    with pytest.raises(ValueError, match=r"no \[PAD\] token, which padding needs"):
        tok(["the", "the cat"], padding=True)
    with pytest.raises(ValueError, match=r"no \[MASK\] token, which masking needs"):
        tok.mask_token_id
    with pytest.raises(ValueError, match=r"\[SEP\]"):
        path.write_text("[UNK]\n[CLS]\nthe\n", encoding="utf-8")
        WordPieceTokenizer(path)


if __name__ == "__main__":  # the report in docs/tokenizer_parity.md
    import tempfile
    from pathlib import Path

    import tokenizers

    print(f"transformers {transformers.__version__}, tokenizers {tokenizers.__version__}, "
          f"Python unicodedata {unicodedata.unidata_version}; {len(hard_strings())} hard strings\n")
    with tempfile.TemporaryDirectory() as d:
        vocab = hard_vocab(Path(d) / "vocab.txt")
        for options in [dict(), dict(do_lower_case=False)]:
            diffs = compare(vocab, **options)
            print(f"## {options or 'default (uncased)'}")
            for name, found in diffs.items():
                print(f"- vs {name}: {len(found)} differ")
                for category, text in found:
                    print(f"  - {category}: {text!r}: bertlite {WordPieceTokenizer(vocab, **options).tokenize(text)}")
