"""Course tool, for the lessons: BERT's architecture, drawn by code (matplotlib boxes and arrows), for the lessons
where each part is built: the input representation (lesson 02), the post-LN block (lesson 04),
the pre-training heads (lesson 07) and the four fine-tuning set-ups (lesson 09).

Each function returns its matplotlib Figure; a notebook shows it with plt.show().
"""

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

COLOURS = {"token": "#f6d5a8", "segment": "#c8e6c9", "position": "#c5d8f0", "layer": "#e0e0e0",
           "attention": "#ffe0b2", "ffn": "#d1c4e9", "norm": "#fff59d", "head": "#f8bbd0", "out": "#b2dfdb"}


def _box(ax, x, y, w, h, text, colour="white", size=9):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02", fc=colour, ec="0.3"))
    ax.text(x, y, text, ha="center", va="center", fontsize=size)


def _arrow(ax, start, end, colour="0.3", style="-|>", rad=0.0):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=10, color=colour, lw=1.2,
                                 connectionstyle=f"arc3,rad={rad}"))


def _canvas(width, height, xlim, ylim, title):
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set(xlim=xlim, ylim=ylim, title=title)
    ax.axis("off")
    return fig, ax


def input_representation(tokens=("[CLS]", "my", "dog", "is", "cute", "[SEP]", "he", "likes", "play", "##ing", "[SEP]")):
    """BERT's input: for every position, its token, segment and position embeddings, summed."""
    fig, ax = _canvas(1.05 * len(tokens) + 1.5, 3.6, (-1.6, len(tokens)), (-0.6, 4.6),
                      "The input representation: three embeddings per token, added, then LayerNorm and dropout")
    second = tokens.index("[SEP]") + 1 if "[SEP]" in tokens else len(tokens)
    rows = [(4.0, "input", lambda i, t: t, "white"), (3.0, "token", lambda i, t: f"E[{t}]", COLOURS["token"]),
            (2.0, "segment", lambda i, t: "E_A" if i < second else "E_B", COLOURS["segment"]),
            (1.0, "position", lambda i, t: f"E_{i}", COLOURS["position"])]
    for y, name, label, colour in rows:
        ax.text(-0.7, y, name, ha="right", va="center", fontsize=9, style="italic")
        for i, t in enumerate(tokens):
            _box(ax, i, y, 0.9, 0.6, label(i, t), colour, size=8)
    for i in range(len(tokens)):
        for y in (2.5, 1.5):
            ax.text(i, y, "+", ha="center", va="center", fontsize=11)
        _arrow(ax, (i, 0.65), (i, 0.05))
    ax.text((len(tokens) - 1) / 2, -0.35, "sum  →  LayerNorm  →  dropout: one H-vector per position",
            ha="center", fontsize=9)
    return fig


def post_ln_block():
    """One encoder block as BERT computes it: each sublayer, dropout, the residual add, then LayerNorm."""
    fig, ax = _canvas(4.6, 6.4, (-2.4, 2.4), (-0.5, 9.5), "A BERT block (post-LN), repeated L times")
    steps = [(0.0, "x  (B, T, H)", "white"), (1.3, "multi-head self-attention", COLOURS["attention"]),
             (2.4, "dropout", "white"), (3.5, "+", "white"), (4.5, "LayerNorm", COLOURS["norm"]),
             (5.7, "feed-forward: H → 4H, GELU, → H", COLOURS["ffn"]), (6.8, "dropout", "white"),
             (7.9, "+", "white"), (8.9, "LayerNorm  →  next block", COLOURS["norm"])]
    for (y, text, colour), (y_next, _, _) in zip(steps, steps[1:] + [(None, None, None)]):
        _box(ax, 0, y, 0.5 if text == "+" else 3.2, 0.6, text, colour)
        if y_next is not None:
            _arrow(ax, (0, y + 0.32), (0, y_next - 0.32))
    for start, add in ((0.0, 3.5), (4.5, 7.9)):  # the residual paths, around each sublayer
        _arrow(ax, (1.62, start + 0.1), (0.27, add), colour="tab:red", rad=-0.45)
    ax.text(2.15, 1.8, "residual", color="tab:red", fontsize=8, rotation=90)
    ax.text(2.15, 6.2, "residual", color="tab:red", fontsize=8, rotation=90)
    return fig


def pretraining_heads():
    """BertForPreTraining: the encoder, an NSP head on the pooled [CLS], and an MLM head whose
    decoder is the word-embedding matrix (tied)."""
    fig, ax = _canvas(8.5, 5.2, (-0.5, 10.5), (-0.6, 8.2), "Pre-training: two heads on one encoder, loss = MLM + NSP")
    tokens = ["[CLS]", "the", "[MASK]", "is", "[SEP]", "it", "barked", "[SEP]"]
    for i, t in enumerate(tokens):
        x = 1.2 * i + 0.6
        _box(ax, x, 0.0, 1.0, 0.55, t, COLOURS["token"], size=8)
        _arrow(ax, (x, 0.3), (x, 1.1))
    _box(ax, 4.8, 2.0, 9.6, 1.5, "embeddings  →  L post-LN blocks  (BertModel)", COLOURS["layer"])
    _arrow(ax, (0.6, 2.8), (0.6, 3.8))
    _box(ax, 0.9, 4.3, 1.8, 0.8, "pooler\ndense + tanh", COLOURS["head"], size=8)
    _arrow(ax, (0.9, 4.75), (0.9, 5.6))
    _box(ax, 0.9, 6.1, 1.8, 0.8, "NSP head\nLinear(H, 2)", COLOURS["head"], size=8)
    ax.text(0.9, 7.0, "IsNext / NotNext", ha="center", va="bottom", fontsize=8)
    x = 1.2 * 2 + 0.6
    _arrow(ax, (x, 2.8), (x, 3.8))
    _box(ax, x + 1.6, 4.3, 4.6, 0.8, "transform: dense, GELU, LayerNorm", COLOURS["head"], size=8)
    _arrow(ax, (x, 4.75), (x, 5.6))
    _box(ax, x + 1.6, 6.1, 4.6, 0.8, "decoder: V × H, the word embeddings (tied)", COLOURS["head"], size=8)
    ax.text(x + 1.4, 7.0, "a distribution over the vocabulary\nat each chosen position", ha="center", va="bottom", fontsize=8)
    _box(ax, 9.1, 6.1, 2.4, 0.8, "only the ~15% chosen\npositions are decoded", "white", size=8)
    return fig


def finetuning_setups():
    """The four ways BERT is fine-tuned (the paper's figure 4): one sentence, a pair, a label per
    token, and an answer span."""
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    setups = [
        ("(a) one sentence: sentiment", ["[CLS]", "a", "fine", "film", "[SEP]"], "class from [CLS]", None),
        ("(b) a pair: NLI, sentence order", ["[CLS]", "A", "[SEP]", "B", "[SEP]"], "class from [CLS]", None),
        ("(c) a label per token: tagging", ["[CLS]", "new", "york", "is", "[SEP]"], None, ["-", "B", "I", "O", "-"]),
        ("(d) a span: question answering", ["[CLS]", "Q", "[SEP]", "c1 c2 c3", "[SEP]"], None, ["", "", "", "start..end", ""]),
    ]
    for ax, (title, tokens, pooled, per_token) in zip(axes, setups):
        ax.set(xlim=(-0.6, 4.6), ylim=(-0.8, 5.0), title=title)
        ax.axis("off")
        for i, t in enumerate(tokens):
            _box(ax, i, 0.0, 0.9, 0.6, t, COLOURS["segment"] if "B" == t or (title.startswith("(b)") and i > 2)
                 else COLOURS["token"], size=8)
            _arrow(ax, (i, 0.32), (i, 1.2))
        _box(ax, 2.0, 1.9, 4.8, 1.2, "BERT (pre-trained)", COLOURS["layer"])
        if pooled:
            _arrow(ax, (0, 2.55), (0, 3.3))
            _box(ax, 0.6, 3.7, 2.2, 0.7, "Linear on pooled [CLS]", COLOURS["head"], size=8)
            ax.text(0.6, 4.4, pooled, ha="center", fontsize=8)
        else:
            for i, label in enumerate(per_token):
                if label:
                    _arrow(ax, (i, 2.55), (i, 3.3))
                    _box(ax, i, 3.7, 0.9 if len(label) < 4 else 1.6, 0.6, label, COLOURS["out"], size=8)
            ax.text(2.0, 4.5, "Linear on every token" if title.startswith("(c)") else "start and end scores per token",
                    ha="center", fontsize=8)
    fig.tight_layout()
    return fig
