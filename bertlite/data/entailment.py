"""Lesson 09: an NLI-style task (premise, hypothesis -> entailment, neutral or contradiction),
made from the State of the Union corpus by rules. No package on PyPI ships entailment pairs that
we could find (we searched the index's package list for SNLI, MultiNLI, RTE and "entailment"), so
the pairs are built, and the rules are simple enough to state in full:

- The premise is one sentence of one of the last TASK_DOCUMENTS addresses that has an auxiliary verb (is, will, can,
  do, ...) to negate. Half the premises are negated ("we will not"), half are not; each premise
  is used once.
- entailment (0): the hypothesis is 6 to 10 consecutive words of the premise around that verb.
- contradiction (2): the same kind of stretch with its negation flipped ("will" <-> "will not",
  "don't" <-> "do").
- neutral (1): a stretch of the same length from another sentence of the same address, negated
  exactly when the premise is.

So "not" in a hypothesis says nothing about its label, and the labels are balanced. What it is
not: real inference. A hypothesis is entailed here because its words are in the premise, not
because it follows from them, and a short rule (words found in the premise, negation matched)
labels every pair correctly. Lesson 09 measures that rule and says so.
"""

import random
import re

TASK_DOCUMENTS = 40  # the most recent 40 addresses: the last 10 alone give too few negated premises
LABELS = ["entailment", "neutral", "contradiction"]  # MultiNLI's label order
AUXILIARIES = ("is are was were will would can could must should shall may might do does did "
               "has have had").split()
CONTRACTIONS = {"don't": "do", "doesn't": "does", "didn't": "did", "isn't": "is", "aren't": "are",
                "wasn't": "was", "weren't": "were", "won't": "will", "can't": "can", "cannot": "can",
                "couldn't": "could", "shouldn't": "should", "wouldn't": "would", "haven't": "have",
                "hasn't": "has", "hadn't": "had", "mustn't": "must"}
_OTHER_NEGATIONS = re.compile(r"\b(?:never|no|nor|not|nothing|neither|none)\b|n't\b|\bcannot\b", re.IGNORECASE)


def _bare(word):
    return word.lower().strip(".,;:!?\"'()’”“").replace("’", "'")


def negation_site(words):
    """(index, negated) of the first word that carries a negation we can remove ("won't", or an
    auxiliary followed by "not"), else of the first auxiliary in a sentence with no negation at
    all, else None."""
    bare = [_bare(w) for w in words]
    for i, w in enumerate(bare):
        if w in CONTRACTIONS or (w in AUXILIARIES and i + 1 < len(bare) and bare[i + 1] == "not"):
            return i, True
    if _OTHER_NEGATIONS.search(" ".join(words)):
        return None  # "never", "no one", ...: a negation we would not flip cleanly
    return next(((i, False) for i, w in enumerate(bare) if w in AUXILIARIES), None)


def flip_negation(words, site):
    """The words with the negation at `site` (from negation_site) removed or added."""
    i, negated = site
    bare = _bare(words[i])
    if not negated:
        return words[:i + 1] + ["not"] + words[i + 1:]
    if bare in CONTRACTIONS:
        return words[:i] + [CONTRACTIONS[bare]] + words[i + 1:]
    return words[:i + 1] + words[i + 2:]  # "will not" -> "will"


def _stretch(words, site, length, rng):
    """`length` consecutive words (fewer if the sentence is shorter) that include the site and the
    two words after it (a "not", and a word that a removed "not" would leave behind), and the
    site's index inside them."""
    length, end = min(length, len(words)), min(site[0] + 3, len(words))
    first = rng.randint(max(0, end - length), min(site[0], len(words) - length))
    return words[first:first + length], (site[0] - first, site[1])


def entailment_task(docs=None, seed=0):
    """{"train", "dev", "test"}: lists of TextExample(premise, label, hypothesis), label an index
    into LABELS. Built from `docs` (the last TASK_DOCUMENTS addresses) by the rules in this
    module's docstring."""
    from .task_data import TextExample, held_out_documents, split_examples

    docs = held_out_documents(n=TASK_DOCUMENTS) if docs is None else docs
    rng, examples = random.Random(seed), []
    for doc in docs:
        sentences = [s.split() for paragraph in doc.paragraphs for s in paragraph]
        sites = [negation_site(words) if 8 <= len(words) <= 30 else None for words in sentences]
        by_kind = {kind: [k for k, site in enumerate(sites) if site and site[1] == kind] for kind in (True, False)}
        n = min(len(by_kind[True]), len(by_kind[False]))  # as many plain premises as negated ones
        premises = rng.sample(by_kind[True], n) + rng.sample(by_kind[False], n)
        rng.shuffle(premises)
        for j, k in enumerate(premises):
            label, length = j % 3, rng.randint(6, 10)
            premise = sentences[k]
            if label == 1:  # neutral: another sentence's stretch, negated as the premise is
                other = rng.choice([m for m in by_kind[sites[k][1]] if m != k])
                hypothesis, _ = _stretch(sentences[other], sites[other], length, rng)
            else:
                hypothesis, site = _stretch(premise, sites[k], length, rng)
                hypothesis = flip_negation(hypothesis, site) if label == 2 else hypothesis
            examples.append(TextExample(" ".join(premise), label, " ".join(hypothesis)))
    return split_examples(examples, seed)


def lexical_rule(premise, hypothesis):
    """The rule the data was built by, as a baseline: neutral unless nearly every hypothesis word
    is in the premise; then contradiction if exactly one of them is negated here."""
    p_words, h_words = {_bare(w) for w in premise.split()}, [_bare(w) for w in hypothesis.split()]
    if sum(w in p_words for w in h_words) < 0.8 * len(h_words):
        return 1
    p_site, h_site = negation_site(premise.split()), negation_site(hypothesis.split())
    return 0 if (p_site and p_site[1]) == (h_site and h_site[1]) else 2
