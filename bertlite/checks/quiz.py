"""Every lesson: a quick self-check at its end, three to five questions (a number, a shape or a
choice) with instant feedback.

    from bertlite.checks import quiz
    quiz("03")                          # the questions
    quiz("03", {1: (2, 12, 128, 128)})  # your answers: ✓, or ✗ with why

Answers left as ... are skipped, so a half-answered quiz still runs.
"""

import math
from dataclasses import dataclass

from .harness import CheckFailed

__all__ = ["QUIZZES", "quiz"]


@dataclass(frozen=True)
class Question:
    text: str
    answer: object  # a number, a tuple (a shape or a list of ids), or a letter for a choice
    why: str


Q = Question
QUIZZES = {
    "01": [
        Q("With the vocabulary {un, ##aff, ##able}, how many tokens does WordPiece make of 'unaffable'?", 3,
          "Longest match first: 'un', then '##aff', then '##able'."),
        Q("tokenizer('The Union is strong.', 'We will endure.'): the token type of the [SEP] that ends "
          "segment A (0 or 1)?", 0, "The first [SEP] belongs to segment A; only B and the last [SEP] are type 1."),
        Q("What does BERT's basic tokenizer make of \"Don't!\"? (a) [\"don't!\"]  (b) ['don', \"'\", 't', '!']  "
          "(c) ['do', \"n't\", '!']", "b", "Every punctuation character is a token of its own, the apostrophe too."),
        Q("truncate_pair with 10 tokens in a, 4 in b and a budget of 10: how many tokens of a are kept?", 6,
          "One token at a time from the longer side: a shrinks to 6, and 6 + 4 fits."),
    ],
    "02": [
        Q("BertEmbeddings on input_ids of shape (2, 7) with H = 128: the output's shape?", (2, 7, 128),
          "One H-vector per token: (B, T, H)."),
        Q("How many rows does BERT-Base's position table have?", 512, "max_position_embeddings = 512."),
        Q("Where is the dropout in BertEmbeddings? (a) before the LayerNorm  (b) after it  (c) there is none", "b",
          "Sum the three lookups, normalise, then drop out."),
    ],
    "03": [
        Q("q and k of shape (2, 12, 128, 64): the shape of the attention weights?", (2, 12, 128, 128),
          "One row of weights over the 128 keys for each of the 128 queries, per head and sequence."),
        Q("If the entries of q and k are independent with mean 0 and variance 1, what is the variance of q·k "
          "for d_k = 64?", 64, "A sum of 64 products, each of variance 1: hence the division by √64 = 8."),
        Q("BERT-Base has H = 768 and 12 heads: how many features does each head get?", 64, "768 / 12."),
        Q("GPT's causal mask lets token i look at (a) every token  (b) tokens j ≤ i  (c) tokens j ≥ i", "b",
          "The lower triangle: itself and what came before."),
    ],
    "04": [
        Q("BERT-Base's intermediate (feed-forward) size, at H = 768?", 3072, "4H."),
        Q("BERT's block computes (a) x + Attn(LN(x))  (b) LN(x + Attn(x))  (c) LN(x) + Attn(x)", "b",
          "Post-LN: add the residual first, then normalise. (a) is pre-LN, lesson 10's variant."),
        Q("BertModel's pooled output for a batch of 4 sequences at H = 256: its shape?", (4, 256),
          "One vector per sequence, from [CLS]."),
        Q("In the toy task of section 7, which reader learns 'sum of both'? (a) GPT-style  (b) ELMo-style  "
          "(c) BERT-style", "c", "Only a reader that mixes both sides in its layers sees both neighbours at once."),
    ],
    "05": [
        Q("Of 1,000 tokens chosen for prediction, how many become [MASK], on average?", 800, "80% of them."),
        Q("A 128-token sequence has 2 special tokens. At a 15% rate, how many tokens are chosen on average?",
          18.9, "15% of the 126 tokens that may be chosen."),
        Q("The label at a position that was not chosen?", -100, "IGNORE_INDEX: the loss skips it."),
        Q("Why are 10% of the chosen tokens left unchanged? (a) to save compute  (b) so the model must keep a "
          "good vector for every input token, not only at [MASK]  (c) [MASK] is rare in the vocabulary", "b",
          "Fine-tuning text has no [MASK]: the model must not learn that only [MASK] positions matter."),
    ],
    "06": [
        Q("What share of BERT's NSP pairs are NotNext?", 0.5, "Half the time B is taken from another document."),
        Q("The token types of [CLS] a1 a2 [SEP] b1 [SEP]? (a list)", (0, 0, 0, 0, 1, 1),
          "Segment A runs up to and including the first [SEP]."),
        Q("How many logits does the NSP head output per pair?", 2, "IsNext and NotNext."),
    ],
    "07": [
        Q("BERT's pre-training loss is (a) the MLM loss only  (b) MLM + NSP, summed  (c) their mean", "b",
          "The two cross-entropies are added."),
        Q("warmup_linear with 10 warm-up steps of 100: the multiplier at step 55?", 0.5,
          "(100 - 55) / (100 - 10) = 0.5."),
        Q("Which parameters get no weight decay? (a) none  (b) biases and LayerNorm parameters  "
          "(c) the embeddings only", "b", "Decay pulls weights to 0; a bias or a LayerNorm gain has no reason to shrink."),
    ],
    "08": [
        Q("12·H² for H = 768 (an encoder block's weights, roughly)?", 7_077_888, "12 × 589,824."),
        Q("BERT-Base's word-embedding table (V = 30,522, H = 768): how many parameters?", 23_440_896, "V·H."),
        Q("Training costs about c FLOPs per parameter per token: c = ?", 6,
          "2 for the forward pass, 4 for the backward."),
        Q("AdamW in fp32: bytes per parameter for the weight, its gradient and the two moments?", 16, "4 × 4 bytes."),
    ],
    "09": [
        Q("In token classification, the label on the second sub-token of a word?", -100,
          "Only a word's first sub-token carries its label."),
        Q("How many outputs does the NLI head have?", 3, "entailment, neutral, contradiction."),
        Q("The sentence-level head reads (a) the mean of all tokens  (b) the pooled [CLS] vector  "
          "(c) the last token", "b", "dense + tanh on [CLS], then one linear layer."),
    ],
    "10": [
        Q("The order in which bertlite picks a device: (a) cpu, cuda  (b) cuda, mps, cpu  (c) mps, cuda, cpu", "b",
          "The fastest device there is."),
        Q("MFU is (a) achieved FLOP/s ÷ the device's peak FLOP/s  (b) memory used ÷ memory  (c) steps per "
          "second", "a", "Model FLOPs utilisation."),
        Q("In a pre-LN block the LayerNorm sits (a) after the residual add  (b) at the start of each sublayer, "
          "inside the residual branch", "b", "x + Attn(LN(x)): the residual stream itself is never normalised."),
    ],
}


def _same(given, answer):
    if isinstance(answer, str):
        return isinstance(given, str) and given.strip().lower().strip("()") == answer
    if isinstance(answer, tuple):
        try:
            return tuple(int(v) for v in given) == answer
        except (TypeError, ValueError):
            return False
    try:
        return math.isclose(float(given), answer, rel_tol=0.03, abs_tol=0.01)
    except (TypeError, ValueError):
        return False


def quiz(lesson, answers=None):
    """Without answers: print lesson's questions. With answers ({number: answer}, ... for not yet):
    ✓ or ✗ with the reason for each; raises CheckFailed if any answer is wrong."""
    lesson = f"{int(lesson):02d}"
    if lesson not in QUIZZES:
        raise KeyError(f"no quiz for lesson {lesson}: there are quizzes for {', '.join(QUIZZES)}.")
    questions = QUIZZES[lesson]
    if answers is None:
        for k, q in enumerate(questions, 1):
            print(f"{k}. {q.text}")
        return None
    unknown = sorted(set(answers) - set(range(1, len(questions) + 1)))
    if unknown:
        raise KeyError(f"lesson {lesson}'s quiz has questions 1 to {len(questions)}; not {unknown}.")
    wrong = []
    for k, q in enumerate(questions, 1):
        given = answers.get(k, ...)
        if given is ...:
            print(f"· {k}. not answered yet")
        elif _same(given, q.answer):
            print(f"✓ {k}. {q.why}")
        else:
            wrong.append(k)
            print(f"✗ {k}. {given!r} is not it. Read the question again; the lesson's cells hold the answer.")
    if wrong:
        raise CheckFailed(f"✗ quiz {lesson}: question(s) {', '.join(map(str, wrong))} answered wrongly. Try again.")
    return None
