"""Every lesson: hints for the exercises, in three tiers, given only when asked for.

    from bertlite.checks import hint
    hint("padding_mask")      # tier 1: the idea
    hint("padding_mask", 2)   # tier 2: the steps
    hint("padding_mask", 3)   # tier 3: nearly the code

A stub in a lesson states its contract (the docstring) and where hints are; a failing check
shows tier 1 and says how to ask for tier 2.
"""

import difflib

__all__ = ["HINTS", "FIND_THE_BUG", "hint", "first_hint"]

# Exercises that hand the learner a broken function to fix, instead of a stub to fill in.
FIND_THE_BUG = ("attention_weights", "choose_for_masking", "nsp_loss")

HINTS = {
    # lesson 01
    "split_on_punctuation": (
        "A punctuation character is always a piece of its own; the letters between two of them form one piece.",
        "Walk the characters, building the current piece. At a punctuation character: close the current "
        "piece (if it is not empty), then add the character as a piece. At the end, close the last piece.",
        "pieces, current = [], ''; for each ch: if is_punctuation(ch): flush current if non-empty, append ch, "
        "reset current; else current += ch. Flush once more after the loop.",
    ),
    "wordpiece": (
        "Greedy: from where you are in the word, take the longest piece the vocabulary knows, then go on "
        "from its end. A word that cannot be covered completely is one [UNK].",
        "start = 0. While start < len(word): try end = len(word), len(word) - 1, ... down to start + 1; the "
        "piece is word[start:end], with '##' in front unless start == 0; stop at the first that is in vocab. "
        "If none is, return [unk_token]. Otherwise keep the piece and set start = end.",
        "two nested while loops: the outer moves start, the inner shrinks end; piece = word[start:end] if "
        "start == 0 else '##' + word[start:end]; 'end == start' after the inner loop means no match.",
    ),
    "truncate_pair": (
        "Cut one token at a time from the end of whichever side is longer, until the pair fits.",
        "While len(a) + len(b) > budget: remove the last token of the longer list. On a tie, remove from a, "
        "unless a was the longer one when you started (then from b; the docstring says why). b may be "
        "None: then only a is cut.",
        "while len(a) + len(b or []) > budget: if b is None or len(a) > len(b) or (tie and not "
        "a_was_longer): a.pop() else: b.pop()",
    ),
    # lesson 02
    "BertEmbeddings": (
        "Each token's vector is the sum of three lookups: what the token is, which segment it is in, and "
        "where it is. Then normalise, then (in training) drop out.",
        "Default the segments to all zeros when they are not given. Look up the word, segment and position "
        "(0 .. T-1, the same for every sequence) embeddings, add them, apply the LayerNorm, then dropout.",
        "positions = torch.arange(T, device=...); x = word(ids) + token_type(types) + position(positions); "
        "return self.dropout(self.LayerNorm(x))",
    ),
    "sinusoidal_positions": (
        "Each pair of columns is a sine and a cosine of the position at one frequency; the frequencies fall "
        "geometrically from 1 to 1/10000 across the columns.",
        "Make a column of positions (P, 1) and a row of dim/2 frequencies 10000^(-2i/dim). Their product is "
        "the angle table (P, dim/2). Even columns get its sine, odd columns its cosine.",
        "freqs = 10000 ** (-torch.arange(0, dim, 2) / dim); angles = positions[:, None] * freqs; "
        "table[:, 0::2] = sin(angles); table[:, 1::2] = cos(angles)",
    ),
    # lesson 03
    "scaled_dot_product_attention": (
        "Scores are dot products of queries with keys, scaled by 1/√d_k; a softmax over the keys turns "
        "them into weights; the output is the weighted average of the values.",
        "1) scores = q times k transposed (the last two axes), divided by √d where d is the query size. "
        "2) add the mask if there is one. 3) softmax over the key axis (the last). 4) in training, dropout "
        "on the weights with probability dropout_p. 5) weights times v.",
        "scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]); + mask; .softmax(-1); "
        "F.dropout(weights, dropout_p) if dropout_p > 0; return weights @ v",
    ),
    "padding_mask": (
        "Attention adds the mask to the scores before the softmax: 0 where a key may be looked at, the most "
        "negative float where it may not. Its shape must broadcast over heads and query positions.",
        "Turn the (B, T) mask of 1s and 0s into (B, 1, 1, T), convert it to the scores' dtype, then map "
        "1 -> 0 and 0 -> the most negative finite number of that dtype.",
        "(1 - attention_mask[:, None, None, :].to(dtype)) times torch.finfo(dtype).min",
    ),
    "attention_weights": (  # find the bug
        "Compare the symptom with section 2's plot: which step keeps the scores at unit scale whatever d_k is?",
        "The scores q·kᵀ have variance d_k. Before the softmax they must be divided by √d_k, the size of one "
        "query (q.shape[-1]); the mask is added after the scaling.",
        "scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]); add the mask; softmax over the last axis",
    ),
    "split_heads": (
        "The H features of each position are heads × (H / heads) features side by side; give each head its "
        "own axis, in front of the positions.",
        "Read the shape (B, T, H). View the tensor as (B, T, heads, H / heads), then swap the T and heads axes.",
        "x.view(B, T, num_heads, H // num_heads).transpose(1, 2)",
    ),
    "merge_heads": (
        "The inverse of split_heads: put the heads' features side by side again.",
        "Read the shape (B, heads, T, d). Swap the heads and T axes back, then flatten the last two axes into "
        "heads · d (reshape: after a transpose the memory is no longer contiguous).",
        "x.transpose(1, 2).reshape(B, T, h * d)",
    ),
    # lesson 04
    "BertLayer": (
        "Post-LN: each sublayer's output, after dropout, is added to its input, and the sum is normalised.",
        "Two lines, the same pattern twice: first with the attention (it takes the mask) and attention_norm, "
        "then with feed_forward and output_norm. Dropout goes on the sublayer's output, before the add.",
        "x = attention_norm(x + dropout(attention(x, mask))); return output_norm(x + dropout(feed_forward(x)))",
    ),
    "BertPooler": (
        "The sentence vector is the first position's ([CLS]) final state, through one dense layer and a tanh.",
        "Take position 0 of every sequence (a (B, H) tensor), apply self.dense, then torch.tanh.",
        "torch.tanh(self.dense(sequence_output[:, 0]))",
    ),
    "BertModel": (
        "Embeddings, then every layer in order with the same additive mask, then the pooler on the result.",
        "Embed the ids and segments. Turn attention_mask into lesson 03's additive mask (None when no mask "
        "is given). Run each layer on the running tensor. Apply final_norm if the model has one (pre-LN). "
        "Return the sequence output and the pooled output.",
        "x = self.embeddings(ids, types); mask = padding_mask(attention_mask, x.dtype) if given else None; "
        "for layer in self.layers: x = layer(x, mask); ...; return x, self.pooler(x)",
    ),
    # lesson 05
    "mask_tokens": (
        "Choose about 15% of the real tokens to predict. Of those, 80% become [MASK], 10% a random token, "
        "10% stay. Labels hold the original id at chosen positions and -100 everywhere else.",
        "1) chosen: uniform draws below mlm_probability, never on special tokens. 2) a sequence that chose "
        "nothing gets one real token, at random. 3) labels = the ids where chosen, else -100. 4) a second "
        "draw per position splits the chosen: below 0.8 -> [MASK]; 0.8 to 0.9 -> a random id drawn for "
        "that position; the rest unchanged. Pass `generator` to every draw.",
        "chosen = (torch.rand(shape, generator=g) < p) & ~special; labels = torch.where(chosen, ids, -100); "
        "u = torch.rand(shape, generator=g); masked = where(chosen & (u < 0.8), mask_id, ids); "
        "rnd = chosen & (u >= 0.8) & (u < 0.9); masked[rnd] = torch.randint(vocab_size, (n,), generator=g)",
    ),
    "choose_for_masking": (  # find the bug
        "Which tokens may never be predicted? Look at what the function receives and never uses.",
        "A position may be chosen only if its uniform draw is below p and it is not a special token "
        "([CLS], [SEP], [PAD]): combine the two conditions.",
        "(torch.rand(input_ids.shape, generator=generator) < p) & ~special_tokens_mask",
    ),
    "BertLMPredictionHead": (
        "The decoder turns a vector back into a score per vocabulary entry; BERT uses the input embedding "
        "matrix for it, the same tensor, read the other way.",
        "Make the decoder an nn.Linear(H, V): it brings its own bias of V. Then replace its weight by the "
        "word-embedding weight itself (an assignment of the Parameter, not a copy of its values).",
        "self.decoder = nn.Linear(H, V); self.decoder.weight = word_embeddings.weight",
    ),
    "mlm_loss": (
        "Cross-entropy averaged over the chosen positions only: the -100 labels are left out entirely.",
        "Keep the positions whose label is not -100. For those rows of logits, compute log-softmax over the "
        "vocabulary, pick the log-probability of each label, and return minus their mean.",
        "keep = labels != -100; z = logits[keep]; log_p = z - torch.logsumexp(z, -1, keepdim=True); "
        "return -log_p.gather(-1, labels[keep][:, None]).mean()",
    ),
    # lesson 06
    "pair_layout": (
        "[CLS] A [SEP] is segment 0; B [SEP], when there is a B, is segment 1.",
        "Start with [CLS], the ids of a and [SEP], all of type 0. If b is not None, append b's ids and "
        "another [SEP], all of type 1.",
        "ids = [cls] + list(a) + [sep]; types = [0] * len(ids); if b is not None: ids += list(b) + [sep]; "
        "types += [1] * (len(b) + 1)",
    ),
    "nsp_loss": (  # find the bug
        "Which label does the loss skip, and which label do half the pairs carry?",
        "ignore_index tells cross_entropy to leave out every position whose label equals it. -100 is the "
        "convention for 'nothing to predict'; 0 is IsNext, a real label. Here nothing should be ignored.",
        "return F.cross_entropy(nsp_logits, nsp_labels)",
    ),
    "nsp_pairs": (
        "For every sentence that has a next one, flip a fair coin: heads, B is that next sentence (IsNext, "
        "0); tails, B is a sentence from another document (NotNext, 1).",
        "Loop over the documents and over each sentence i but the last. Draw rng.random() < 0.5 for every pair. "
        "IsNext: (doc[i], doc[i + 1], 0). NotNext: pick the other document with pick_other_document, then a "
        "sentence of it with rng.choice, and label 1.",
        "other = documents[pick_other_document(len(documents), d, rng)]; pairs.append((doc[i], rng.choice(other), 1))",
    ),
    "pick_other_document": (
        "Every document except the current one must be equally likely, in one draw.",
        "Draw uniformly from n - 1 indices; indices from the current one upward move up by one, so the "
        "current index can never come out.",
        "other = rng.randrange(n_documents - 1); return other + 1 if other >= current else other",
    ),
    # lesson 07
    "training_step": (
        "Forward (given), then: backward, clip the gradient, step the optimizer, step the schedule, "
        "and clear the gradients for the next step.",
        "The loss goes backward through the scaler (scaler.scale(loss).backward()); unscale the gradients "
        "(scaler.unscale_(optimizer)) before clipping their total norm to 1.0; scaler.step(optimizer) and "
        "scaler.update() apply them; scheduler.step() moves the learning rate; optimizer.zero_grad() last.",
        "scaler.scale(o.loss).backward(); scaler.unscale_(optimizer); clip_grad_norm_(model.parameters(), 1.0); "
        "scaler.step(optimizer); scaler.update(); scheduler.step(); optimizer.zero_grad(set_to_none=True)",
    ),
    "param_groups": (
        "Weight decay shrinks weights towards 0; biases and LayerNorm parameters are left out of it.",
        "Collect the parameters that belong to LayerNorm modules. Then go over the named parameters (skip "
        "frozen ones): a bias or a LayerNorm parameter goes to the no-decay group, every other to decay.",
        "no_decay_ids = {id(p) for m in model.modules() if isinstance(m, nn.LayerNorm) for p in "
        "m.parameters(recurse=False)}; then split model.named_parameters() on name.endswith('bias') or id(p)",
    ),
    "warmup_linear": (
        "The learning rate multiplier climbs linearly from 0 to 1 during the warm-up, then falls linearly "
        "to 0 at the last step, and never below 0.",
        "Before warmup_steps: step / warmup_steps. After: the fraction of the decay steps still left, "
        "(total - step) / (total - warmup), clipped at 0. Guard both denominators against 0.",
        "if step < warmup: return step / max(1, warmup); return max(0.0, (total - step) / max(1, total - warmup))",
    ),
    "pretraining_loss": (
        "One number for both tasks: the masked-LM loss plus the next-sentence loss.",
        "The MLM part is a cross-entropy over the vocabulary, averaged over the positions whose label is not "
        "-100 only; the NSP part is a two-way cross-entropy averaged over the pairs. Add them.",
        "F.cross_entropy(mlm_logits.reshape(-1, V), mlm_labels.reshape(-1), ignore_index=-100) + "
        "F.cross_entropy(nsp_logits, nsp_labels)",
    ),
    # lesson 08
    "embedding_parameters": (
        "Three tables with one H-vector per row, and one LayerNorm.",
        "Rows: vocab_size + max_position_embeddings + type_vocab_size, each of H numbers. A LayerNorm has a "
        "weight and a bias of H each.",
        "(V + P + S) * H + 2 * H",
    ),
    "layer_parameters": (
        "Count the weights and biases of every Linear in the block, and the two LayerNorms.",
        "A Linear(n_in, n_out) has n_in·n_out weights and n_out biases. The block has four H -> H Linears "
        "(query, key, value, dense), one H -> I, one I -> H, and two LayerNorms of 2H each.",
        "4 * (H * H + H) + (H * I + I) + (I * H + H) + 2 * (2 * H)",
    ),
    "flops_per_token": (
        "Training costs 6 FLOPs per weight per token that passes through it (2 forward, 4 backward), plus "
        "the attention products, which have no weights.",
        "Weights a token meets: each layer's 4H² + 2HI, and the MLM head's H² + VH, but only at mlm_fraction "
        "of the positions. Multiply by 6. Add QKᵀ and AV: 12 · L · seq_len · H per token.",
        "6 * (L * (4 * H * H + 2 * H * I) + mlm_fraction * (H * H + V * H)) + 12 * L * seq_len * H",
    ),
    # lesson 09
    "align_labels": (
        "A word's label goes on its first sub-token; every other token (continuations, [CLS], [SEP], "
        "padding) gets ignore_index.",
        "Walk the tokens, remembering the previous token's word id. A token starts a word when its word id "
        "is not None and differs from the previous one: give it word_labels[word id]. Otherwise ignore_index.",
        "for w in word_ids: labels.append(ignore_index if w is None or w == previous else word_labels[w]); "
        "previous = w",
    ),
    "best_span": (
        "Score every (start, end) pair as start score + end score, rule out the invalid pairs, and take the best.",
        "Build the (T, T) table of start[s] + end[e]. A pair is valid when e >= s, the span is at most "
        "max_answer_length tokens, and both ends are context tokens. Set the others to -inf, take the argmax "
        "and turn its flat index back into (s, e). An empty context is an error.",
        "scores = start[:, None] + end[None, :]; valid = (e >= s) & (e - s < max_len) & ctx[:, None] & "
        "ctx[None, :]; flat = scores.masked_fill(~valid, -inf).argmax(); return divmod(flat, T)",
    ),
    # lesson 10
    "masked_positions": (
        "Only the positions with a label are worth decoding: select them before the decoder.",
        "The chosen positions are where mlm_labels is not IGNORE_INDEX, a (B, T) boolean mask. Indexing the "
        "(B, T, H) states and the (B, T) labels with it gives (N, H) and (N,).",
        "chosen = mlm_labels != IGNORE_INDEX; return sequence_output[chosen], mlm_labels[chosen]",
    ),
    "atomic_save": (
        "Never write over the only good copy: write a new file beside it, then swap it in, in one step.",
        "bertlite.cache.atomic_write(path, content) does the temporary file, the flush and the rename; it "
        "accepts a function that writes to the temporary path it is given.",
        "return atomic_write(path, lambda tmp: torch.save(obj, tmp))",
    ),
}


def _entry(name):
    if name not in HINTS:
        close = difflib.get_close_matches(str(name), HINTS, n=3)
        raise KeyError(f"no hints for {name!r}. " + (f"Did you mean {', '.join(map(repr, close))}? " if close else "")
                       + f"The exercises with hints: {', '.join(HINTS)}.")
    return HINTS[name]


def first_hint(name):
    """Tier 1 and how to ask for tier 2: what a failing check prints."""
    return f"{_entry(name)[0]} (More: from bertlite.checks import hint; hint({name!r}, 2).)"


def hint(name, tier=1):
    """Print hint `tier` (1: the idea, 2: the steps, 3: nearly the code) for exercise `name`."""
    tiers = _entry(name)
    if tier not in (1, 2, 3):
        raise ValueError(f"tier={tier!r}: use 1 (the idea), 2 (the steps) or 3 (nearly the code).")
    kind = {1: "the idea", 2: "the steps", 3: "nearly the code"}[tier]
    more = f"\n  (hint({name!r}, {tier + 1}) gives {'the steps' if tier == 1 else 'nearly the code'}.)" if tier < 3 else ""
    print(f"hint {tier} of 3 for {name}, {kind}:\n  {tiers[tier - 1]}{more}")
