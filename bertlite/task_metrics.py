"""Lesson 09: scoring predictions. Accuracy, F1, confusion matrices, and SQuAD's exact match and F1."""

import re
import string
from collections import Counter

import torch


def accuracy(predictions, labels):
    predictions, labels = list(map(int, predictions)), list(map(int, labels))
    return sum(p == l for p, l in zip(predictions, labels)) / max(len(labels), 1)


def f1_score(predictions, labels, positive=1):
    """F1 of one class: 2·precision·recall / (precision + recall)."""
    pairs = list(zip(map(int, predictions), map(int, labels)))
    tp = sum(p == positive and l == positive for p, l in pairs)
    fp = sum(p == positive and l != positive for p, l in pairs)
    fn = sum(p != positive and l == positive for p, l in pairs)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def micro_f1(predictions, labels, negative=0):
    """Token-level F1 over every label except `negative` (the plain "lower, no mark" word),
    as NER counts entity tokens and not the O's: a hit is a correct non-negative prediction."""
    pairs = list(zip(map(int, predictions), map(int, labels)))
    tp = sum(p == l and l != negative for p, l in pairs)
    predicted = sum(p != negative for p, _ in pairs)
    gold = sum(l != negative for _, l in pairs)
    return 2 * tp / (predicted + gold) if tp else 0.0


def confusion_matrix(predictions, labels, num_labels):
    """(K, K) counts: row = true label, column = predicted label."""
    m = torch.zeros(num_labels, num_labels, dtype=torch.long)
    for p, l in zip(predictions, labels):
        m[int(l), int(p)] += 1
    return m


def normalize_answer(s):
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    s = "".join(c for c in s.lower() if c not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def exact_match(prediction, answers):
    return float(any(normalize_answer(prediction) == normalize_answer(a) for a in answers))


def squad_f1(prediction, answers):
    """Word-overlap F1 of the prediction with the best-matching gold answer."""
    def f1(pred, gold):
        p, g = normalize_answer(pred).split(), normalize_answer(gold).split()
        common = sum((Counter(p) & Counter(g)).values())
        if not p or not g:
            return float(p == g)
        return 0.0 if common == 0 else 2 * common / (len(p) + len(g))
    return max(f1(prediction, a) for a in answers)
