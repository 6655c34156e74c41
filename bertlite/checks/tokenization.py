"""Checks for bertlite/tokenization.py: the tokenizer (lesson 01) and the layout of a
sentence pair (lesson 06)."""

import random

from .. import tokenization as ref
from .harness import run_cases
from .hints import first_hint

__all__ = ["check_split_on_punctuation", "check_basic_tokenize", "check_wordpiece", "check_truncate_pair",
           "check_pair_layout"]

EDGE_TEXTS = [
    "", "   ", "Hello, World!", "Don't stop.", "Café naïve RÉSUMÉ", "中文 and text",
    "tab\there, new\nline", "zero\u200bwidth and \x00 NUL", "$1,000.50 (approx.)", "Ω≈ç √ ∫",
]


def check_split_on_punctuation(split_on_punctuation):
    rng = random.Random(0)
    words = ["", "hello", "don't!", "...", "u.s.a.", "$1,000", "(approx)", "a-b-c", "«quoted»",
             "¿qué?", "c++", "x", "!", "e=mc^2", "50%off", "中"]
    alphabet = "abc123.,!'-$()¿« "
    cases = [(repr(w), (w,)) for w in words]
    cases += [(f"random word {i}", ("".join(rng.choice(alphabet) for _ in range(12)).replace(" ", ""),))
              for i in range(20)]
    run_cases(
        "split_on_punctuation", split_on_punctuation, ref.split_on_punctuation, cases,
        hint=first_hint("split_on_punctuation"),
    )


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
        hint=first_hint("wordpiece"),
    )


def check_truncate_pair(truncate_pair):
    rng = random.Random(0)
    cases = [
        ("fits already", ([1, 2], [3], 5)),
        ("a is longer", ([1, 2, 3, 4, 5], [6], 4)),
        ("b is longer", ([1], [2, 3, 4, 5, 6], 4)),
        ("a tie at the start: a loses the token", ([1, 2, 3], [4, 5, 6], 5)),
        ("a was longer, then a tie: b loses the token", ([1, 2, 3, 4], [5, 6, 7], 5)),
        ("b was longer, then a tie: a loses the token", ([1, 2], [3, 4, 5, 6], 3)),
        ("no pair (b is None)", ([1, 2, 3, 4], None, 2)),
        ("empty b", ([1, 2, 3], [], 1)),
        ("budget 0", ([1, 2], [3, 4], 0)),
    ]
    for i in range(20):
        a = list(range(rng.randint(0, 12)))
        b = None if i % 5 == 0 else list(range(100, 100 + rng.randint(0, 12)))
        cases.append((f"random {len(a)}+{len(b or [])} tokens", (a, b, rng.randint(0, 16))))
    run_cases(
        "truncate_pair", truncate_pair, ref.truncate_pair, cases,
        hint=first_hint("truncate_pair"),
    )


def check_pair_layout(pair_layout):
    cases = [("short", ([7, 8], [9], 2, 3)), ("one token each", ([5], [6], 101, 102)),
             ("B longer", ([10], [11, 12, 13, 14], 2, 3))]
    rng = random.Random(0)
    for i in range(5):
        a = [rng.randrange(5, 100) for _ in range(rng.randint(1, 10))]
        b = [rng.randrange(5, 100) for _ in range(rng.randint(1, 10))]
        cases.append((f"random {i}", (a, b, 2, 3)))
    run_cases("pair_layout", pair_layout, ref.pair_layout, cases,
              hint=first_hint("pair_layout"))
