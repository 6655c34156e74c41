"""Lesson 01: BERT's tokenizer, from raw text to input_ids.

Two stages, exactly as in the original BERT:
  1. basic_tokenize: clean, lower-case, strip accents, split on white space and punctuation,
     and put every CJK character on its own.
  2. wordpiece: split each word into the longest vocabulary pieces, greedily from the left;
     pieces after the first carry a "##" prefix. A word that cannot be split becomes [UNK].
The vocabulary itself is learned from a corpus (learn_vocab) and stored in BERT's vocab.txt
format: one token per line, the line number is the id.
"""

from __future__ import annotations

import json
import re
import unicodedata
from itertools import accumulate
from pathlib import Path

import torch

from .cache import atomic_write, read_utf8

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


# --- stage 1: basic tokenization -------------------------------------------------------------

def is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def is_control(ch):
    # Tabs and newlines are white space, not control characters.
    return ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")


def is_punctuation(ch):
    # All non-alphanumeric ASCII counts, e.g. "$" and "^", which Unicode files as symbols.
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(ch):
    # The CJK Unified Ideographs blocks. Chinese is written without spaces, so BERT treats
    # each ideograph as a word of its own. (Japanese kana and Korean Hangul are not included.)
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F
    )


def strip_accents(text):
    # NFD splits "é" into "e" + a combining accent (category Mn), which we drop.
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def split_on_punctuation(word):
    """"don't!" -> ["don", "'", "t", "!"]: every punctuation character is a token of its own."""
    pieces, current = [], ""
    for ch in word:
        if is_punctuation(ch):
            if current:
                pieces.append(current)
            pieces.append(ch)
            current = ""
        else:
            current += ch
    if current:
        pieces.append(current)
    return pieces


def basic_tokenize(text, do_lower_case=True):
    """Raw text -> words and punctuation, before WordPiece."""
    cleaned = []
    for ch in text:
        if ch == "\x00" or ch == "\ufffd" or is_control(ch):
            continue  # dropped: NUL, the replacement character, control characters
        if is_whitespace(ch):
            cleaned.append(" ")
        elif is_cjk(ch):
            cleaned.append(f" {ch} ")
        else:
            cleaned.append(ch)
    tokens = []
    for word in "".join(cleaned).split():
        if do_lower_case:
            word = strip_accents(word.lower())
        tokens.extend(split_on_punctuation(word))
    return tokens


# --- stage 2: WordPiece ----------------------------------------------------------------------

def wordpiece(word, vocab, unk_token="[UNK]", max_chars=100):
    """Greedy longest-match-first: "unaffable" -> ["un", "##aff", "##able"].

    Take the longest prefix that is in the vocabulary, then repeat on the rest with a "##"
    prefix. If some rest has no piece at all, the whole word becomes [UNK]."""
    if len(word) > max_chars:
        return [unk_token]
    pieces, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                break
            end -= 1
        if end == start:  # not even one character matched
            return [unk_token]
        pieces.append(piece)
        start = end
    return pieces


def load_vocab(vocab_file):
    """vocab.txt -> {token: id}; the id of a token is its line number."""
    lines = read_utf8(vocab_file, "vocab file").split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line starts no token
    # Only "\n" ends a line: str.splitlines() would also split at characters such as U+2028,
    # which are tokens in some vocabularies.
    return {token: i for i, token in enumerate(lines)}


class WordPieceTokenizer:
    """BERT's tokenizer, with the same names and the same output as transformers' BertTokenizer."""

    def __init__(self, vocab_file, do_lower_case=True, model_max_length=512, *, do_basic_tokenize=True,
                 never_split=None, tokenize_chinese_chars=True, strip_accents=None):
        """The options mean what they mean for BertTokenizer; strip_accents=None follows do_lower_case."""
        self.vocab_file = str(vocab_file)
        self.vocab = load_vocab(vocab_file)
        missing = [t for t in SPECIAL_TOKENS[1:4] if t not in self.vocab]
        if missing:  # [PAD] and [MASK] may be missing until padding or masking needs them
            raise ValueError(f"{vocab_file} lacks the special tokens {missing}, which every encoding needs. A BERT "
                             f"vocab.txt contains {SPECIAL_TOKENS}; learn_vocab writes them first.")
        self.ids_to_tokens = {i: t for t, i in self.vocab.items()}
        self.do_lower_case, self.model_max_length, self.strip_accents = do_lower_case, model_max_length, strip_accents
        self.do_basic_tokenize, self.tokenize_chinese_chars = do_basic_tokenize, tokenize_chinese_chars
        self.never_split = set(never_split or ())
        self.unk_token_id, self.cls_token_id, self.sep_token_id = (self.vocab[t] for t in SPECIAL_TOKENS[1:4])

    pad_token_id = property(lambda self: self._special_id("[PAD]", "padding"))
    mask_token_id = property(lambda self: self._special_id("[MASK]", "masking"))

    def _special_id(self, token, use):
        if token not in self.vocab:
            raise ValueError(f"{self.vocab_file} has no {token} token, which {use} needs; add it to the vocab.txt.")
        return self.vocab[token]

    vocab_size = property(lambda self: len(self.vocab))
    __len__ = lambda self: len(self.vocab)  # noqa: E731

    def tokenize(self, text):
        return [token for token, _ in self._tokens_and_spans(text)]

    def _tokens_and_spans(self, text):
        """[(token, (start, end) in text)]: BertTokenizer's tokens, each with the characters it came from."""
        if not isinstance(text, str):  # None would silently give no tokens, 5 a deep TypeError
            raise TypeError(f"got {repr(text)[:80]} ({type(text).__name__}): text must be a str, or a list of str for a batch.")
        # Special tokens written in the text ("paris is [MASK].") stay whole and keep their case.
        out, at, basic = [], 0, self.do_basic_tokenize
        for chunk in _split_on_specials(text):
            if chunk in SPECIAL_TOKENS:
                out.append((chunk, (at, at + len(chunk))))
            word = []  # as basic_tokenize: drop control characters, split at white space and around CJK
            for i, ch in enumerate("" if chunk in SPECIAL_TOKENS else chunk + " "):
                if basic and (ch in "\x00\ufffd" or is_control(ch)):
                    continue
                cjk = basic and self.tokenize_chinese_chars and is_cjk(ch)
                if ch.isspace() or cjk:
                    out += self._word_pieces(word, at) + (self._word_pieces([(ch, i)], at) if cjk else [])
                    word = []
                else:
                    word.append((ch, i))
            at += len(chunk)
        return out

    def _normalize(self, word):  # as basic_tokenize: lower case, then strip accents (None: if lower-cased)
        word = word.lower() if self.do_lower_case else word
        return strip_accents(word) if (self.do_lower_case if self.strip_accents is None else self.strip_accents) else word

    def _word_pieces(self, chars, at):
        if not chars:
            return []  # no word between two spaces
        raw, span = "".join(c for c, _ in chars), (at + chars[0][1], at + chars[-1][1] + 1)
        if not self.do_basic_tokenize:
            norm, where, words = raw, [at + i for _, i in chars], [raw]
        elif raw in self.never_split:
            return [(raw, span)]
        else:
            norm = self._normalize(raw)
            parts = norm if raw.isascii() else [self._normalize(c) for c, _ in chars]  # ASCII: one for one
            # Where each normalized character came from; if unknown (final sigma), pieces get the word's span.
            where = [at + i for p, (_, i) in zip(parts, chars) for _ in p] if "".join(parts) == norm else None
            words = [norm] if norm in self.never_split else split_on_punctuation(norm)
        out, k = [], 0
        for w in words:
            k = norm.index(w, k)
            pieces = [w] if self.do_basic_tokenize and w in self.never_split else wordpiece(w, self.vocab)
            sizes = [len(w)] if pieces == ["[UNK]"] else [len(p) - 2 * (j > 0) for j, p in enumerate(pieces)]
            for p, s, e in zip(pieces, accumulate(sizes, initial=k), accumulate(sizes[1:], initial=k + sizes[0])):
                out.append((p, (where[s], where[e - 1] + 1) if where else span))
            k += len(w)
        return out

    def convert_tokens_to_ids(self, tokens):
        if isinstance(tokens, str):
            return self.vocab.get(tokens, self.unk_token_id)
        return [self.vocab.get(t, self.unk_token_id) for t in tokens]

    def convert_ids_to_tokens(self, ids):
        if isinstance(ids, int):
            return self._token_of(ids)
        return [self._token_of(int(i)) for i in ids]

    def _token_of(self, i):
        if i not in self.ids_to_tokens:
            raise ValueError(
                f"id {i} is not in the vocabulary of {self.vocab_file}, whose {self.vocab_size} ids run "
                f"from 0 to {self.vocab_size - 1}. Were the ids made with another vocabulary, or by a "
                f"model whose vocab_size is not this tokenizer's?"
            )
        return self.ids_to_tokens[i]

    def decode(self, ids, skip_special_tokens=False):
        tokens = self.convert_ids_to_tokens(ids)
        if skip_special_tokens:
            tokens = [t for t in tokens if t not in SPECIAL_TOKENS]
        return " ".join(tokens).replace(" ##", "")

    def get_special_tokens_mask(self, ids):
        """1 where an id is [CLS], [SEP], [PAD] (never masked in pre-training), else 0: a list for a
        list of ids, a tensor of the same shape for a tensor (a whole batch at once)."""
        special = [self.vocab[t] for t in ("[CLS]", "[SEP]", "[PAD]") if t in self.vocab]
        if isinstance(ids, torch.Tensor):
            return torch.isin(ids, torch.tensor(special, device=ids.device)).long()
        return [int(i in special) for i in ids]

    def encode(self, text, text_pair=None, **kwargs):
        """The ids only: [CLS] A [SEP] (B [SEP])."""
        return self(text, text_pair, **kwargs)["input_ids"]

    def __call__(self, text, text_pair=None, *, add_special_tokens=True, max_length=None, truncation=False,
                 padding=False, return_tensors=None, return_offsets_mapping=False):
        """Encode a text, a pair, or a batch (lists of texts) for BERT.

        Returns a dict with input_ids, token_type_ids (0 for [CLS] A [SEP], 1 for B [SEP]) and
        attention_mask (1 = real token, 0 = padding).
        truncation=True trims the longer side, one token at a time, until the pair fits
        max_length; without it, an input that does not fit is an error, never cut silently.
        padding: False, True / "longest" (to the longest in the batch) or "max_length".
        return_tensors="pt" gives torch tensors of shape (batch, T), also for a single text.
        add_special_tokens=False leaves out [CLS] and [SEP]; return_offsets_mapping=True adds
        offset_mapping: each token's (start, end) in its text, (0, 0) for [CLS], [SEP] and padding."""
        batched = isinstance(text, (list, tuple))
        texts = list(text) if batched else [text]
        pairs = list(text_pair) if batched and text_pair is not None else [text_pair] * len(texts)
        if len(pairs) != len(texts):
            raise ValueError(f"got {len(texts)} texts but {len(pairs)} text pairs; give one pair per text.")
        if max_length is None and (truncation or padding == "max_length"):
            max_length = self.model_max_length
        rows = [self._encode_one(a, b, max_length, truncation, add_special_tokens) for a, b in zip(texts, pairs)]
        if padding:
            width = max_length if padding == "max_length" else max(len(r["input_ids"]) for r in rows)
            pad = dict(input_ids=self.pad_token_id, token_type_ids=0, attention_mask=0, offset_mapping=(0, 0))
            for r in rows:
                n = width - len(r["input_ids"])
                r.update({k: r[k] + [v] * n for k, v in pad.items()})
        keys = ["input_ids", "token_type_ids", "attention_mask"] + ["offset_mapping"] * bool(return_offsets_mapping)
        out = {k: [r[k] for r in rows] for k in keys}
        if return_tensors == "pt":
            if len({len(r["input_ids"]) for r in rows}) > 1:
                raise ValueError("sequences have different lengths; pass padding=True to make a tensor.")
            out = {k: torch.tensor(v) for k, v in out.items()}
        elif return_tensors is not None:
            raise ValueError(f"return_tensors={return_tensors!r}: only 'pt' or None are supported.")
        if not batched and return_tensors is None:
            out = {k: v[0] for k, v in out.items()}  # lists for one text; tensors stay (1, T)
        return out

    def _encode_one(self, text, text_pair, max_length, truncation, add_special_tokens=True):
        a = self._tokens_and_spans(text)  # [(token, span)], cut as a whole by truncate_pair
        b = None if text_pair is None else self._tokens_and_spans(text_pair)
        n_special = (2 if b is None else 3) if add_special_tokens else 0
        if max_length is not None and len(a) + len(b or []) + n_special > max_length:
            if not truncation:
                raise ValueError(f"the input is {len(a) + len(b or []) + n_special} tokens with [CLS]/[SEP], more than "
                                 f"max_length={max_length}. Pass truncation=True to trim it, or raise max_length.")
            a, b = truncate_pair(a, b, max_length - n_special)
        if add_special_tokens:
            spans = [(0, 0)] + [s for _, s in a] + [(0, 0)] + ([] if b is None else [s for _, s in b] + [(0, 0)])
            a, b = [t for t, _ in a], None if b is None else [t for t, _ in b]
            tokens, types = pair_layout(a, b, "[CLS]", "[SEP]")
        else:
            tokens, spans = [t for t, _ in a + (b or [])], [s for _, s in a + (b or [])]
            types = [0] * len(tokens)  # as the Python BertTokenizer (the Rust one gives b type 1)
        ids = self.convert_tokens_to_ids(tokens)
        return {"input_ids": ids, "token_type_ids": types, "attention_mask": [1] * len(ids), "offset_mapping": spans}

    def save_vocabulary(self, save_directory, filename_prefix=None):
        """vocab.txt (one token a line, in id order) in save_directory, as BertTokenizer writes it."""
        path = Path(save_directory) / ((filename_prefix + "-" if filename_prefix else "") + "vocab.txt")
        return (str(atomic_write(path, "".join(t + "\n" for t, _ in sorted(self.vocab.items(), key=lambda x: x[1])))),)

    def save_pretrained(self, save_directory):
        """vocab.txt, tokenizer_config.json and special_tokens_map.json, which BertTokenizer.from_pretrained reads."""
        names = dict(zip(["pad_token", "unk_token", "cls_token", "sep_token", "mask_token"], SPECIAL_TOKENS))
        config = dict(tokenizer_class="BertTokenizer", do_lower_case=self.do_lower_case, strip_accents=self.strip_accents,
                      do_basic_tokenize=self.do_basic_tokenize, never_split=sorted(self.never_split),
                      tokenize_chinese_chars=self.tokenize_chinese_chars, model_max_length=self.model_max_length, **names)
        return self.save_vocabulary(save_directory) + tuple(str(atomic_write(Path(save_directory) / f, json.dumps(
            c, indent=2) + "\n")) for f, c in [("tokenizer_config.json", config), ("special_tokens_map.json", names)])


def pair_layout(a, b, cls_token_id, sep_token_id):
    """Token ids of segments a and b -> (input_ids, token_type_ids) for [CLS] a [SEP] b [SEP]:
    type 0 for [CLS], a and the first [SEP], type 1 for b and the last [SEP]. With b=None,
    [CLS] a [SEP], all of type 0. The one layout every BERT input has (NSP pairs, QA, tasks)."""
    input_ids = [cls_token_id] + list(a) + [sep_token_id]
    token_type_ids = [0] * len(input_ids)
    if b is not None:
        input_ids += list(b) + [sep_token_id]
        token_type_ids += [1] * (len(b) + 1)
    return input_ids, token_type_ids


def truncate_pair(a, b, budget):
    """Cut tokens from the ends of a and b (b may be None) until len(a) + len(b) <= budget,
    longest first: one token at a time from the longer. On a tie the one that was shorter at the
    start loses it (a, if they started equal), so with an odd budget the originally longer one
    keeps the extra token, as in transformers. (BERT's original code always trimmed b on a tie.)"""
    if budget < 0:
        raise ValueError(f"budget={budget}: max_length leaves no room for the [CLS]/[SEP] tokens; raise max_length.")
    a, b = list(a), None if b is None else list(b)
    a_was_longer = b is not None and len(a) > len(b)
    while len(a) + len(b or []) > budget:
        if b is None or len(a) > len(b) or (len(a) == len(b) and not a_was_longer):
            a.pop()
        else:
            b.pop()
    return a, b


# One pass over the text: the capture group makes re.split keep the special tokens it splits at.
# (Searching the rest of the text again after each hit took minutes on a megabyte.)
_SPECIALS = re.compile("(" + "|".join(map(re.escape, SPECIAL_TOKENS)) + ")")


def _split_on_specials(text):
    """"a [MASK]." -> ["a ", "[MASK]", "."]; the empty strings re.split leaves are dropped."""
    return [chunk for chunk in _SPECIALS.split(text) if chunk]
