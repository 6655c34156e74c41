"""Lesson 01: learning a WordPiece vocabulary (vocab.txt) from a corpus, and caching it.

sentencepiece's BPE finds which subwords are frequent; learn_vocab rewrites them in BERT's
notation and writes BERT's vocab.txt. cached_vocab learns once per corpus and vocabulary size;
corpus_tokenizer gives a WordPieceTokenizer on that vocabulary.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .cache import atomic_write, cache_dir, cache_entry_ok, cache_key, write_checked
from .data.corpus import load_sotu
from .tokenization import SPECIAL_TOKENS, WordPieceTokenizer, basic_tokenize


def learn_vocab(texts, vocab_size=8000, path=None, do_lower_case=True):
    """Learn a WordPiece vocabulary of exactly `vocab_size` tokens from `texts` and write it
    as BERT's vocab.txt. Returns the file's path.

    sentencepiece's BPE learns which subwords are frequent; we then rewrite its pieces in
    BERT's notation: "▁over" (starts a word) -> "over", "ing" (inside a word) -> "##ing".
    Every character seen gets both forms, so no word made of known characters is ever [UNK].
    """
    import sentencepiece as spm

    texts = [t for t in texts if t.strip()]
    if not texts:
        raise ValueError("learn_vocab got no text: give it a non-empty list of strings.")
    with tempfile.TemporaryDirectory() as tmp:
        corpus_file = Path(tmp) / "corpus.txt"
        seen = set()
        with open(corpus_file, "w", encoding="utf-8") as f:
            for t in texts:
                words = basic_tokenize(t, do_lower_case)
                seen.update(*words)
                for line in _sentencepiece_lines(words):
                    f.write(line + "\n")
        if vocab_size < len(SPECIAL_TOKENS) + 2 * len(seen):
            raise ValueError(
                f"vocab_size={vocab_size} is too small: this text has {len(seen)} distinct characters, "
                f"which need {len(SPECIAL_TOKENS) + 2 * len(seen)} entries before any subword."
            )
        spm.SentencePieceTrainer.train(
            input=str(corpus_file), model_prefix=str(Path(tmp) / "spm"), model_type="bpe",
            vocab_size=vocab_size, character_coverage=1.0, split_digits=False,
            max_sentence_length=1 << 16, num_threads=os.cpu_count() or 1,
            hard_vocab_limit=False, minloglevel=2,
            # basic_tokenize has normalized the text as BERT does; sentencepiece's default NFKC
            # would turn "½" into "1⁄2", and "½" would then be [UNK].
            normalization_rule_name="identity",
        )
        sp = spm.SentencePieceProcessor(model_file=str(Path(tmp) / "spm.model"))
        pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if not sp.is_control(i) and not sp.is_unknown(i)]
    chars = sorted({c for p in pieces for c in p.lstrip("▁")})
    singles = chars + ["##" + c for c in chars]
    merged = [p[1:] if p.startswith("▁") else "##" + p for p in pieces if len(p.lstrip("▁")) > 1]
    vocab = list(dict.fromkeys(SPECIAL_TOKENS + singles + merged))[:vocab_size]
    path = Path(path) if path else Path(tempfile.mkdtemp()) / "vocab.txt"
    return atomic_write(path, "\n".join(vocab) + "\n")  # a half-written vocab.txt never exists


def _sentencepiece_lines(words, max_bytes=1 << 12):
    """Pack words into lines of at most max_bytes bytes of UTF-8 for sentencepiece, which
    silently skips every line over its max_sentence_length (64 KiB here), and with it every word
    on it (with one line per document, that was half of the addresses' text). Cutting between
    words loses nothing: its BPE never merges across a space."""
    line, size = [], 0
    for word in words:
        # A word longer than a line (odd text only: WordPiece makes any word over 100 characters
        # [UNK]) is cut into parts of max_bytes // 4 characters, at most 4 bytes each, so that
        # its characters still reach the vocabulary.
        for start in range(0, len(word), max_bytes // 4):
            part = word[start:start + max_bytes // 4]
            n = len(part.encode("utf-8")) + 1  # with the space before it
            if line and size + n > max_bytes:
                yield " ".join(line)
                line, size = [], 0
            line.append(part)
            size += n
    if line:
        yield " ".join(line)


def cached_vocab(texts, vocab_size=8000, do_lower_case=True):
    """learn_vocab, done once per (corpus, vocab_size): later calls read the cached file, after
    checking it against the checksum written beside it (a truncated file is learned again)."""
    # v2: learn_vocab now sees every word of documents over 64 KB and keeps characters as WordPiece
    # sees them (no NFKC), so a vocabulary cached by an older bertlite must not be reused.
    key = f"v2-{cache_key(texts)}-{vocab_size}{'' if do_lower_case else '-cased'}"
    path = cache_dir() / "vocab" / f"vocab-{key}.txt"
    if not cache_entry_ok(path):
        write_checked(path, lambda tmp: learn_vocab(texts, vocab_size, tmp, do_lower_case))
    return path


def corpus_tokenizer(docs=None, vocab_size=8000):
    """A WordPieceTokenizer whose vocabulary is learned from `docs` (default: the embedded
    corpus) the first time, then read from the cache."""
    docs = load_sotu() if docs is None else docs
    return WordPieceTokenizer(cached_vocab([d.text for d in docs], vocab_size))
