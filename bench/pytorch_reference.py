#!/usr/bin/env python3
"""PyTorch reference for `superpose bench model --vs-pytorch` (issue 4).

The same model and shapes as crates/model/src/bench.rs: a GPT-2-family decoder (learned
positions, pre-LayerNorm, exact GELU, MLP 4x, tied head, biases), reference config 4 layers,
d_model 256, 4 heads, vocab 1000, context 256. Figures (medians over --steps timed steps after
one warm-up):

  train_tokens_per_s            forward + backward + AdamW, batch 16 x seq 256
  coconut_step_ms               prefix 64 (KV cache), 4 single-slot latent passes feeding the last
                                hidden state back, 64 answer tokens with loss, backward, AdamW; b 8
  latent_gen_b{1,32}_tokens_per_s  prompt 32 + <bot>, 16 continuous thoughts, <eot>, 16 greedy
                                tokens (KV cache); generated positions per second, prefill included

Other shapes: `--setup JSON` takes superpose's `BenchSetup` as `superpose bench model` passes
it (`{"size": {...ModelSize}, "shapes": {...BenchShapes}}`), so both sides run one description.

`--serve` (what `superpose bench model --vs-pytorch` runs): print one JSON line (torch version,
threads), then for each line `train`, `coconut`, `gen1` or `gen32` read from stdin run that
figure's step once and print its seconds; superpose runs its own step of the same figure
between two of these, so both sides' steps alternate and see the same machine.

Usage: python3 bench/pytorch_reference.py [--json] [--steps N] [--quick] [--threads N] [--setup JSON]
       python3 bench/pytorch_reference.py --serve [--threads N] [--setup JSON]
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, h, m):
        super().__init__()
        self.h = h
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.c_fc = nn.Linear(d, m)
        self.mlp_proj = nn.Linear(m, d)

    def forward(self, x, cache=None):
        b, s, d = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        q, k, v = (t.view(b, s, self.h, d // self.h).transpose(1, 2) for t in (q, k, v))
        past = 0
        if cache is not None:
            if cache.get("k") is not None:
                past = cache["k"].shape[2]
                k = torch.cat([cache["k"], k], 2)
                v = torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
        if past == 0:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            total = past + s
            mask = torch.ones(s, total, dtype=torch.bool).tril(diagonal=past)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.c_proj(y.transpose(1, 2).reshape(b, s, d))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, vocab, n_pos, d, layers, heads):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(n_pos, d)
        self.h = nn.ModuleList(Block(d, heads, 4 * d) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)

    def forward_embeds(self, x, start, caches=None):
        pos = torch.arange(start, start + x.shape[1])
        h = x + self.wpe(pos)[None]
        for i, blk in enumerate(self.h):
            h = blk(h, None if caches is None else caches[i])
        h = self.ln_f(h)
        return h, h @ self.wte.weight.t()  # tied head


def median_time(fn, steps):
    fn()  # warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print JSON")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per figure")
    ap.add_argument("--quick", action="store_true", help="tiny shapes (smoke test)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = default)")
    ap.add_argument("--setup", help="superpose's BenchSetup as JSON (model size and shapes)")
    ap.add_argument("--serve", action="store_true",
                    help="run one step per command read from stdin (see the module doc)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.quick:
        vocab, n_pos, d, layers, heads = 100, 64, 32, 2, 2
        tb, ts, cb, cp, ck, ca, gp, gk, ga = 2, 32, 2, 8, 2, 8, 8, 4, 4
    else:
        vocab, n_pos, d, layers, heads = 1000, 256, 256, 4, 4
        tb, ts, cb, cp, ck, ca, gp, gk, ga = 16, 256, 8, 64, 4, 64, 32, 16, 16
    if a.setup:
        setup = json.loads(a.setup)
        z, sh = setup["size"], setup["shapes"]
        vocab, n_pos, d, layers, heads = (z[k] for k in
                                          ("vocab_size", "n_positions", "d_model", "n_layer", "n_head"))
        tb, ts, cb, cp, ck, ca, gp, gk, ga = (sh[k] for k in (
            "train_batch", "train_seq", "coconut_batch", "coconut_prefix", "coconut_latents",
            "coconut_answer", "gen_prompt", "gen_latents", "gen_answer"))
    model = GPT(vocab, n_pos, d, layers, heads)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)

    def train_step():
        ids = torch.randint(0, vocab, (tb, ts + 1))
        _, logits = model.forward_embeds(model.wte(ids[:, :-1]), 0)
        loss = F.cross_entropy(logits.reshape(-1, vocab), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def coconut_step():
        prefix = torch.randint(0, vocab, (cb, cp))
        answer = torch.randint(0, vocab, (cb, ca + 1))
        caches = [dict() for _ in range(layers)]
        hidden, _ = model.forward_embeds(model.wte(prefix), 0, caches)
        h = hidden[:, -1:]
        for j in range(ck):
            h, _ = model.forward_embeds(h, cp + j, caches)
        _, logits = model.forward_embeds(model.wte(answer[:, :-1]), cp + ck, caches)
        loss = F.cross_entropy(logits.reshape(-1, vocab), answer[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    @torch.no_grad()
    def generate(batch):
        prompt = torch.randint(0, vocab - 2, (batch, gp))
        bot = torch.full((batch, 1), vocab - 2)
        eot = torch.full((batch, 1), vocab - 1)
        caches = [dict() for _ in range(layers)]
        hidden, logits = model.forward_embeds(model.wte(torch.cat([prompt, bot], 1)), 0, caches)
        pos = gp + 1
        h = hidden[:, -1:]
        for _ in range(gk):
            h, logits = model.forward_embeds(h, pos, caches)
            pos += 1
        _, logits = model.forward_embeds(model.wte(eot), pos, caches)
        pos += 1
        out = []
        for i in range(ga):
            tok = logits[:, -1].argmax(-1, keepdim=True)
            out.append(tok)
            if i + 1 < ga:
                _, logits = model.forward_embeds(model.wte(tok), pos, caches)
                pos += 1
        return torch.cat(out, 1)

    if a.serve:
        return serve({"train": train_step, "coconut": coconut_step,
                      "gen1": lambda: generate(1), "gen32": lambda: generate(32)})
    train = tb * ts / median_time(train_step, a.steps)
    coconut_ms = 1000 * median_time(coconut_step, a.steps)
    gen = {}
    for batch in (1, 32):
        t = median_time(lambda: generate(batch), a.steps if batch == 1 else min(a.steps, 3))
        gen[batch] = batch * (gk + 1 + ga) / t

    res = {
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "train_tokens_per_s": train,
        "coconut_step_ms": coconut_ms,
        "latent_gen_b1_tokens_per_s": gen[1],
        "latent_gen_b32_tokens_per_s": gen[32],
    }
    if a.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:32} {v}")


def serve(steps):
    print(json.dumps({"torch_version": torch.__version__, "threads": torch.get_num_threads()}),
          flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if not cmd:
            continue
        if cmd not in steps:
            print(f"unknown command {cmd!r}; expected one of {sorted(steps)}", file=sys.stderr)
            return 2
        t0 = time.perf_counter()
        steps[cmd]()
        print(time.perf_counter() - t0, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
