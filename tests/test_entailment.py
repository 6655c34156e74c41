"""Lesson 09's NLI-style task follows the rules its module states: negation flipped by hand,
labels balanced, each premise used once, entailed hypotheses copied from their premise, "not"
spread evenly over the labels, and the rule that built the data labels every entailed and
contradicted pair."""

import collections

from bertlite.data.corpus import Document
from bertlite.data.entailment import CONTRACTIONS, LABELS, entailment_task, flip_negation, lexical_rule, negation_site


def flipped(sentence):
    words = sentence.split()
    return " ".join(flip_negation(words, negation_site(words)))


def test_negation_is_added_or_removed_by_hand():
    assert flipped("We will act on this promise now.") == "We will not act on this promise now."
    assert flipped("They do not agree with the plan.") == "They do agree with the plan."
    assert flipped("We won't stop until it is done.") == "We will stop until it is done."
    assert flipped("America cannot wait any longer.") == "America can wait any longer."
    assert flipped("It isn't easy, and it was never meant to be.") == "It is easy, and it was never meant to be."
    assert negation_site("We have never seen such a year.".split()) is None  # "never": not flipped
    assert negation_site("Tonight I stand before you.".split()) is None  # no auxiliary verb


def sentences(doc, n, negated):
    verb = ("will not", "cannot", "do not", "won't") if negated else ("will", "can", "do", "must")
    return [f"In group {doc} we {verb[i % 4]} build {i} roads for {1900 + i} towns and {doc} ports." for i in range(n)]


def test_the_task_keeps_its_stated_rules():
    docs = [Document(f"d{d}", [sentences(d, 30, True), sentences(d, 40, False)]) for d in range(3)]
    splits = entailment_task(docs, seed=0)
    examples = [e for split in splits.values() for e in split]
    assert len(examples) == 3 * 2 * 30  # as many plain premises as negated ones, per document
    assert len({e.text for e in examples}) == len(examples)  # each premise once
    assert set(collections.Counter(e.label for e in examples).values()) == {60}  # balanced
    for e in examples:
        if LABELS[e.label] == "entailment":
            assert f" {e.text_pair} " in f" {e.text} "
        elif LABELS[e.label] == "contradiction":
            premise = e.text  # "won't" flips to "will", which flips back to "will not"
            for contraction, verb in CONTRACTIONS.items():
                premise = premise.replace(contraction, verb + " not")
            assert e.text_pair not in e.text and f" {flipped(e.text_pair)} " in f" {premise} "
        else:
            assert e.text_pair not in e.text
        assert 5 <= len(e.text_pair.split()) <= 11  # 6 to 10 words, one fewer or more when a "not" goes or comes
    negated = lambda text: negation_site(text.split())[1]  # noqa: E731
    for label in range(3):
        share = [negated(e.text_pair) for e in examples if e.label == label]
        assert 0.3 < sum(share) / len(share) < 0.7  # "not" says nothing about the label
    entailed = [e for e in examples if LABELS[e.label] != "neutral"]  # (neutral stretches here share most words)
    assert all(lexical_rule(e.text, e.text_pair) == e.label for e in entailed)
    assert entailment_task(docs, seed=0) == splits  # stable under the seed
