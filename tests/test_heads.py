"""The pre-training heads (heads.py, lesson 06): BertForPreTraining equals transformers' on the same
weights and labels, its decoder is tied to the embeddings, and the sparse MLM head is the same loss."""

import pytest
import torch

import bertlite


# --- the heads: BertForPreTraining equals transformers' on the same weights and labels ----------

@pytest.mark.parametrize("kw", [
    dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37),
    dict(vocab_size=500, hidden_size=64, num_hidden_layers=3, num_attention_heads=2, intermediate_size=128,
         max_position_embeddings=40),
])
def test_pretraining_loss_and_logits_equal_transformers(kw):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    hf = transformers.BertForPreTraining(transformers.BertConfig(**kw)).eval()
    with torch.no_grad():  # non-zero biases and LayerNorms, so every tensor matters
        for p in hf.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ours = bertlite.load_hf_state_dict(bertlite.BertForPreTraining(bertlite.BertConfig(**kw)), hf.state_dict()).eval()

    B, T, V = 4, 19, kw["vocab_size"]
    ids = torch.randint(0, V, (B, T))
    token_types = torch.randint(0, 2, (B, T))
    attention_mask = torch.ones(B, T, dtype=torch.long)
    attention_mask[1, 12:] = 0
    attention_mask[3, 5:] = 0
    masked, mlm_labels = bertlite.mask_tokens(ids, attention_mask == 0, V, 1, mlm_probability=0.3,
                                              generator=torch.Generator().manual_seed(1))
    nsp_labels = torch.tensor([0, 1, 1, 0])
    with torch.no_grad():
        theirs = hf(input_ids=masked, token_type_ids=token_types, attention_mask=attention_mask,
                    labels=mlm_labels, next_sentence_label=nsp_labels)
        out = ours(masked, token_types, attention_mask, mlm_labels=mlm_labels, nsp_labels=nsp_labels)
        sparse = ours(masked, token_types, attention_mask, mlm_labels=mlm_labels, nsp_labels=nsp_labels,
                      sparse_mlm=True)
        no_labels = ours(masked, token_types, attention_mask)

    assert (out.mlm_logits - theirs.prediction_logits).abs().max() <= 1e-5
    assert (out.nsp_logits - theirs.seq_relationship_logits).abs().max() <= 1e-5
    assert abs(out.loss - theirs.loss) <= 1e-5
    # the total is the sum of the two cross-entropies, each computed by hand here
    chosen = mlm_labels != -100
    log_p = theirs.prediction_logits.log_softmax(-1)[chosen]  # (N, V)
    mlm_by_hand = -log_p[torch.arange(len(log_p)), mlm_labels[chosen]].mean()
    nsp_by_hand = -theirs.seq_relationship_logits.log_softmax(-1)[torch.arange(B), nsp_labels].mean()
    assert abs(out.mlm_loss - mlm_by_hand) <= 1e-5 and abs(out.nsp_loss - nsp_by_hand) <= 1e-5
    assert abs(theirs.loss - (mlm_by_hand + nsp_by_hand)) <= 1e-5
    # sparse_mlm runs the head only at the chosen positions: same loss, logits (N, V)
    assert abs(sparse.loss - theirs.loss) <= 1e-5
    assert sparse.mlm_logits.shape == (int(chosen.sum()), V)
    assert (sparse.mlm_logits - theirs.prediction_logits[chosen]).abs().max() <= 1e-5
    assert no_labels.loss is None


def test_mlm_decoder_is_tied_to_the_embeddings():
    model = bertlite.BertForPreTraining(bertlite.BertConfig.from_preset("tiny", vocab_size=50))
    assert model.mlm_head.decoder.weight is model.bert.embeddings.word_embeddings.weight
    assert model.mlm_head.decoder.bias.shape == (50,)
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in set(model.parameters()))  # the shared matrix is counted once


def test_sparse_mlm_needs_labels():
    model = bertlite.BertForPreTraining(bertlite.BertConfig.from_preset("tiny", vocab_size=50))
    with pytest.raises(ValueError, match="mlm_labels"):
        model(torch.randint(0, 50, (1, 5)), sparse_mlm=True)
