"""Checks for bertlite/tokenization.py: the tokenizer (lesson 01) and the layout of a
sentence pair (lesson 06)."""

import random

from .. import tokenization as ref
from .harness import Exercise, run_cases
from .hints import first_hint

__all__ = ["check_split_on_punctuation", "check_wordpiece", "check_truncate_pair",
           "check_pair_layout", "MISTAKES"]

def _split(word, keep_punctuation=True, glue=False, empty=False):
    pieces, current = [], ""
    for ch in word:
        if ref.is_punctuation(ch):
            if current or empty:
                pieces.append(current)
            if keep_punctuation and glue and pieces:
                pieces[-1] += ch
            elif keep_punctuation:
                pieces.append(ch)
            current = ""
        else:
            current += ch
    return pieces + [current] if current or empty else pieces


def _wordpiece(word, vocab, unk_token="[UNK]", max_chars=100, prefix="##", shortest=False, partial=False):
    pieces, start = [], 0
    while start < len(word):
        ends = range(start + 1, len(word) + 1) if shortest else range(len(word), start, -1)
        piece = next((word[start:e] if start == 0 else prefix + word[start:e] for e in ends
                      if (word[start:e] if start == 0 else prefix + word[start:e]) in vocab), None)
        if piece is None:
            if not partial:
                return [unk_token]
            pieces.append(unk_token)
            start += 1
            continue
        pieces.append(piece)
        start += len(piece) - (0 if start == 0 else len(prefix))
    return pieces


def _truncate(a, b, budget, rule):
    a, b = list(a), None if b is None else list(b)
    while len(a) + len(b or []) > budget:
        if rule == "front":
            (a if b is None or len(a) > len(b) else b).pop(0)
        elif rule == "always a":
            a.pop() if a else b.pop()
        else:  # BERT's original create_pretraining_data.py: on a tie, b is trimmed
            a.pop() if b is None or len(a) > len(b) else b.pop()
    return a, b


# Each exercise this module checks: the lesson that teaches it, the check its notebook calls,
# and its hints in three tiers (1: the idea, 2: the steps, 3: nearly the code), which hints.py
# hands out one at a time. A find-the-bug exercise hands the learner broken code to fix.
EXERCISES = {
    "split_on_punctuation": Exercise(lesson="01", check="check_split_on_punctuation", hints=(
        "A punctuation character is always a piece of its own; the letters between two of them form one piece.",
        "Walk the characters, building the current piece. At a punctuation character: close the current "
        "piece (if it is not empty), then add the character as a piece. At the end, close the last piece.",
        "pieces, current = [], ''; for each ch: if is_punctuation(ch): flush current if non-empty, append ch, "
        "reset current; else current += ch. Flush once more after the loop.",
    )),
    "wordpiece": Exercise(lesson="01", check="check_wordpiece", hints=(
        "Greedy: from where you are in the word, take the longest piece the vocabulary knows, then go on "
        "from its end. A word that cannot be covered completely is one [UNK].",
        "start = 0. While start < len(word): try end = len(word), len(word) - 1, ... down to start + 1; the "
        "piece is word[start:end], with '##' in front unless start == 0; stop at the first that is in vocab. "
        "If none is, return [unk_token]. Otherwise keep the piece and set start = end.",
        "two nested while loops: the outer moves start, the inner shrinks end; piece = word[start:end] if "
        "start == 0 else '##' + word[start:end]; 'end == start' after the inner loop means no match.",
    )),
    "truncate_pair": Exercise(lesson="01", check="check_truncate_pair", hints=(
        "Cut one token at a time from the end of whichever side is longer, until the pair fits.",
        "While len(a) + len(b) > budget: remove the last token of the longer list. On a tie, remove from a, "
        "unless a was the longer one when you started (then from b; the docstring says why). b may be "
        "None: then only a is cut.",
        "while len(a) + len(b or []) > budget: if b is None or len(a) > len(b) or (tie and not "
        "a_was_longer): a.pop() else: b.pop()",
    )),
    "pair_layout": Exercise(lesson="06", check="check_pair_layout", hints=(
        "[CLS] A [SEP] is segment 0; B [SEP], when there is a B, is segment 1.",
        "Start with [CLS], the ids of a and [SEP], all of type 0. If b is not None, append b's ids and "
        "another [SEP], all of type 1.",
        "ids = [cls] + list(a) + [sep]; types = [0] * len(ids); if b is not None: ids += list(b) + [sep]; "
        "types += [1] * (len(b) + 1)",
    )),
}


# The common mistakes of each exercise, as code (see checks/attention.py).
MISTAKES = {
    "split_on_punctuation": {
        "punctuation dropped instead of kept as pieces": lambda w: _split(w, keep_punctuation=False),
        "punctuation glued to the piece before it": lambda w: _split(w, glue=True),
        "empty pieces kept between neighbouring punctuation": lambda w: _split(w, empty=True),
    },
    "wordpiece": {
        "later pieces without the '##' prefix": lambda w, v, unk_token="[UNK]", max_chars=100: _wordpiece(w, v, unk_token, prefix=""),
        "the shortest match first instead of the longest": (
            lambda w, v, unk_token="[UNK]", max_chars=100: _wordpiece(w, v, unk_token, shortest=True)),
        "[UNK] for the unmatched part only, instead of for the whole word": (
            lambda w, v, unk_token="[UNK]", max_chars=100: _wordpiece(w, v, unk_token, partial=True)),
    },
    "truncate_pair": {
        "BERT's original tie rule (b always loses on a tie)": lambda a, b, n: _truncate(a, b, n, "bert"),
        "tokens cut from the front instead of the end": lambda a, b, n: _truncate(a, b, n, "front"),
        "always cutting a first": lambda a, b, n: _truncate(a, b, n, "always a"),
    },
    "pair_layout": {
        "segment B's [SEP] given token type 0": (
            lambda a, b, cls, sep: ([cls, *a, sep, *b, sep], [0] * (len(a) + 2) + [1] * len(b) + [0])),
        "no [SEP] after segment B": lambda a, b, cls, sep: ([cls, *a, sep, *b], [0] * (len(a) + 2) + [1] * len(b)),
        "the first [SEP] given token type 1": (
            lambda a, b, cls, sep: ([cls, *a, sep, *b, sep], [0] * (len(a) + 1) + [1] * (len(b) + 2))),
    },
}

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
        hint=first_hint("split_on_punctuation"), mistakes=MISTAKES["split_on_punctuation"],
    )


def check_wordpiece(wordpiece):
    vocab = {t: i for i, t in enumerate(
        ["[UNK]", "un", "##aff", "##able", "a", "##f", "##fa", "##b", "##l", "##e", "play", "##ing", "##s", "s"])}
    words = ["unaffable", "playing", "plays", "a", "afable", "xyz", "play", "unx", "s", "", "playingz"]
    cases = [(repr(w), (w, vocab)) for w in words] + [("a 101-character word", ("a" * 101, vocab))]
    run_cases(
        "wordpiece", wordpiece, ref.wordpiece, cases,
        hint=first_hint("wordpiece"), mistakes=MISTAKES["wordpiece"],
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
        hint=first_hint("truncate_pair"), mistakes=MISTAKES["truncate_pair"],
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
              hint=first_hint("pair_layout"), mistakes=MISTAKES["pair_layout"])
