"""Train scribe: a small byte-level causal transformer on the King James Bible.

The corpus comes from Debian's bible-kjv and bible-kjv-text packages (the
text's copyright has expired). Every verse becomes its UTF-8 bytes followed by
the end-of-text id 256, so the model learns to write one verse and stop.

The architecture is llama-like: token embedding (tied to the output head),
pre-norm blocks of RMSNorm -> causal multi-head attention with rotary
position embeddings -> RMSNorm -> SwiGLU MLP, a final RMSNorm, no biases.
inference/internal/llm evaluates exactly this in Go; export.py writes the
weights and the parity file the Go test checks.

Deterministic: fixed seed, fixed step count, fixed batch order.
"""

import argparse
import json
import math
import os
import re
import subprocess
import time

import numpy as np
import jax
import jax.numpy as jnp

EOT = 256
VOCAB = 257


def default_config():
    return dict(
        vocab_size=VOCAB,
        context_length=256,
        n_layer=4,
        d_model=160,
        n_head=5,
        d_hidden=432,
        rope_theta=10000.0,
        norm_eps=1e-5,
    )


def load_corpus():
    """Returns the verses in canonical order, references stripped."""
    out = subprocess.run(
        ["bible", "-f", "-p", "/usr/lib", "gen1:1-rev22:21"],
        check=True, capture_output=True,
    ).stdout.decode("utf-8")
    verses = []
    for line in out.split("\n"):
        line = line.strip()
        if not line:
            continue
        # Each line is "<Book><chapter>:<verse> <text>".
        m = re.match(r"^\S+:\d+ (.*)$", line)
        if not m:
            raise ValueError("unexpected line: %r" % line[:60])
        verses.append(m.group(1))
    return verses


def split(verses, block=100, every=20):
    """Blocks of 100 consecutive verses; every 20th block is validation."""
    train, val = [], []
    for i in range(0, len(verses), block):
        (val if (i // block) % every == every - 1 else train).extend(verses[i:i + block])
    return train, val


def encode(verses):
    ids = []
    for v in verses:
        ids.extend(v.encode("utf-8"))
        ids.append(EOT)
    return np.asarray(ids, dtype=np.int32)


def init_params(cfg, key):
    d, h, L = cfg["d_model"], cfg["d_hidden"], cfg["n_layer"]
    keys = jax.random.split(key, 1 + 7 * L)
    std = 0.02
    out_std = std / math.sqrt(2 * L)

    def normal(k, shape, s):
        return (s * jax.random.normal(k, shape)).astype(jnp.float32)

    p = {"embed": normal(keys[0], (cfg["vocab_size"], d), std),
         "final_norm": jnp.ones((d,), jnp.float32)}
    for i in range(L):
        k = keys[1 + 7 * i: 1 + 7 * (i + 1)]
        pre = "layers.%d." % i
        # Linear weights are [out, in]: y = x @ W.T.
        p[pre + "attn_norm"] = jnp.ones((d,), jnp.float32)
        p[pre + "wq"] = normal(k[0], (d, d), std)
        p[pre + "wk"] = normal(k[1], (d, d), std)
        p[pre + "wv"] = normal(k[2], (d, d), std)
        p[pre + "wo"] = normal(k[3], (d, d), out_std)
        p[pre + "mlp_norm"] = jnp.ones((d,), jnp.float32)
        p[pre + "w_gate"] = normal(k[4], (h, d), std)
        p[pre + "w_up"] = normal(k[5], (h, d), std)
        p[pre + "w_down"] = normal(k[6], (d, h), out_std)
    return p


def rms_norm(x, w, eps):
    var = jnp.mean(x * x, axis=-1, keepdims=True)
    return x * jax.lax.rsqrt(var + eps) * w


def rope_tables(cfg, T):
    hd = cfg["d_model"] // cfg["n_head"]
    half = hd // 2
    inv = 1.0 / (cfg["rope_theta"] ** (np.arange(half, dtype=np.float64) * 2.0 / hd))
    ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]
    return jnp.asarray(np.cos(ang), jnp.float32), jnp.asarray(np.sin(ang), jnp.float32)


def rope(x, cos, sin):
    # x: [B, T, H, hd]; rotate the first half against the second half.
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    c = cos[None, :, None, :]
    s = sin[None, :, None, :]
    return jnp.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], axis=-1)


def forward(params, cfg, tokens):
    """tokens [B, T] int32 -> logits [B, T, vocab] float32."""
    B, T = tokens.shape
    d, H, L = cfg["d_model"], cfg["n_head"], cfg["n_layer"]
    hd = d // H
    eps = cfg["norm_eps"]
    cos, sin = rope_tables(cfg, T)
    mask = jnp.tril(jnp.ones((T, T), bool))
    x = params["embed"][tokens]
    for i in range(L):
        pre = "layers.%d." % i
        h = rms_norm(x, params[pre + "attn_norm"], eps)
        q = (h @ params[pre + "wq"].T).reshape(B, T, H, hd)
        k = (h @ params[pre + "wk"].T).reshape(B, T, H, hd)
        v = (h @ params[pre + "wv"].T).reshape(B, T, H, hd)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        att = jnp.einsum("bthd,bshd->bhts", q, k) / math.sqrt(hd)
        att = jnp.where(mask[None, None], att, -jnp.inf)
        att = jax.nn.softmax(att, axis=-1)
        o = jnp.einsum("bhts,bshd->bthd", att, v).reshape(B, T, d)
        x = x + o @ params[pre + "wo"].T
        h = rms_norm(x, params[pre + "mlp_norm"], eps)
        g = h @ params[pre + "w_gate"].T
        u = h @ params[pre + "w_up"].T
        x = x + (jax.nn.silu(g) * u) @ params[pre + "w_down"].T
    x = rms_norm(x, params["final_norm"], eps)
    return x @ params["embed"].T


def loss_fn(params, cfg, batch):
    logits = forward(params, cfg, batch[:, :-1])
    targets = batch[:, 1:]
    logp = jax.nn.log_softmax(logits, axis=-1)
    nll = -jnp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    return jnp.mean(nll)


def count_params(params):
    return int(sum(int(np.prod(v.shape)) for v in params.values()))


def make_step(cfg, lr_at, wd=0.1, b1=0.9, b2=0.99, eps=1e-8, clip=1.0):
    @jax.jit
    def step(params, m, v, batch, t):
        loss, grads = jax.value_and_grad(loss_fn)(params, cfg, batch)
        gnorm = jnp.sqrt(sum(jnp.sum(g * g) for g in grads.values()))
        scale = jnp.minimum(1.0, clip / (gnorm + 1e-6))
        lr = lr_at(t)
        new_p, new_m, new_v = {}, {}, {}
        for k in params:
            g = grads[k] * scale
            mk = b1 * m[k] + (1 - b1) * g
            vk = b2 * v[k] + (1 - b2) * g * g
            mhat = mk / (1 - b1 ** (t + 1))
            vhat = vk / (1 - b2 ** (t + 1))
            upd = mhat / (jnp.sqrt(vhat) + eps)
            # Decoupled weight decay on matrices only (not norms).
            if params[k].ndim >= 2:
                upd = upd + wd * params[k]
            new_p[k] = params[k] - lr * upd
            new_m[k], new_v[k] = mk, vk
        return new_p, new_m, new_v, loss

    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1611)
    ap.add_argument("--out", default="training/llm/out")
    ap.add_argument("--eval-every", type=int, default=200)
    args = ap.parse_args()

    cfg = default_config()
    verses = load_corpus()
    train_v, val_v = split(verses)
    train_ids, val_ids = encode(train_v), encode(val_v)
    print("verses: %d train, %d val; tokens: %d train, %d val"
          % (len(train_v), len(val_v), len(train_ids), len(val_ids)), flush=True)

    T = cfg["context_length"]
    rng = np.random.default_rng(args.seed)
    params = init_params(cfg, jax.random.key(args.seed))
    print("parameters: %d" % count_params(params), flush=True)
    m = {k: jnp.zeros_like(p) for k, p in params.items()}
    v = {k: jnp.zeros_like(p) for k, p in params.items()}

    warm = max(1, args.steps // 20)

    def lr_at(t):
        t = t.astype(jnp.float32)
        w = jnp.minimum(1.0, (t + 1) / warm)
        prog = jnp.clip((t - warm) / max(1, args.steps - warm), 0.0, 1.0)
        return args.lr * w * (0.1 + 0.9 * 0.5 * (1 + jnp.cos(jnp.pi * prog)))

    step = make_step(cfg, lr_at)
    eval_loss = jax.jit(lambda p, b: loss_fn(p, cfg, b))

    # A fixed set of validation windows, and of training windows for the
    # final train loss, so both numbers are comparable between runs.
    def windows(ids, n, r):
        starts = r.integers(0, len(ids) - T - 1, size=n)
        return np.stack([ids[s:s + T + 1] for s in starts])

    eval_rng = np.random.default_rng(args.seed + 1)
    val_batches = [windows(val_ids, args.batch, eval_rng) for _ in range(8)]
    train_eval = [windows(train_ids, args.batch, eval_rng) for _ in range(8)]

    def mean_loss(p, batches):
        return float(np.mean([float(eval_loss(p, jnp.asarray(b))) for b in batches]))

    history = []
    t0 = time.time()
    for t in range(args.steps):
        batch = jnp.asarray(windows(train_ids, args.batch, rng))
        params, m, v, loss = step(params, m, v, batch, jnp.asarray(t, jnp.int32))
        if t % 50 == 0 or t == args.steps - 1:
            print("step %5d loss %.4f  %.1fs" % (t, float(loss), time.time() - t0), flush=True)
        if (t + 1) % args.eval_every == 0 and t + 1 < args.steps:
            vl = mean_loss(params, val_batches)
            history.append({"step": t + 1, "val_loss": vl})
            print("step %5d val_loss %.4f" % (t + 1, vl), flush=True)

    train_loss = mean_loss(params, train_eval)
    val_loss = mean_loss(params, val_batches)
    history.append({"step": args.steps, "val_loss": val_loss, "train_loss": train_loss})
    print("final train_loss %.4f val_loss %.4f (nats per token)  %.0fs"
          % (train_loss, val_loss, time.time() - t0), flush=True)

    os.makedirs(args.out, exist_ok=True)
    np.savez(os.path.join(args.out, "params.npz"),
             **{k: np.asarray(p) for k, p in params.items()})
    with open(os.path.join(args.out, "train.json"), "w") as f:
        json.dump({"config": cfg, "steps": args.steps, "batch": args.batch, "lr": args.lr,
                   "seed": args.seed, "train_loss": train_loss, "val_loss": val_loss,
                   "parameters": count_params(params), "history": history,
                   "train_tokens": int(len(train_ids)), "val_tokens": int(len(val_ids)),
                   "seconds": round(time.time() - t0)}, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
