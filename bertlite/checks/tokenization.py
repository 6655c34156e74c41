"""Checks for lesson 01 (tokenization)."""

import random

from .. import tokenization as ref
from . import run_cases

__all__ = ["check_basic_tokenize", "check_wordpiece"]

EDGE_TEXTS = [
    "", "   ", "Hello, World!", "Don't stop.", "Café naïve RÉSUMÉ", "中文 and text",
    "tab\there, new\nline", "zero\u200bwidth and \x00 NUL", "$1,000.50 (approx.)", "Ω≈ç √ ∫",
]


def check_basic_tokenize(basic_tokenize):
    rng = random.Random(0)
    alphabet = "abcXYZ éü!?,.'-中 \t\n"
    cases = [(repr(t), (t,)) for t in EDGE_TEXTS]
    cases += [(f"random text {i}", ("".join(rng.choice(alphabet) for _ in range(30)),)) for i in range(20)]
    run_cases(
        "basic_tokenize", basic_tokenize, ref.basic_tokenize, cases,
        hint="order matters: clean and space out CJK first, then split on white space, then "
             "lower-case and strip accents each word, then split it on punctuation.",
    )


def check_wordpiece(wordpiece):
    vocab = {t: i for i, t in enumerate(
        ["[UNK]", "un", "##aff", "##able", "a", "##f", "##fa", "##b", "##l", "##e", "play", "##ing", "##s", "s"])}
    words = ["unaffable", "playing", "plays", "a", "afable", "xyz", "play", "unx", "s", "", "playingz"]
    cases = [(repr(w), (w, vocab)) for w in words] + [("a 101-character word", ("a" * 101, vocab))]
    run_cases(
        "wordpiece", wordpiece, ref.wordpiece, cases,
        hint="take the longest prefix in the vocabulary; later pieces start with '##'; if any "
             "part cannot be matched, the whole word is ['[UNK]'].",
    )
