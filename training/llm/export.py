"""Export a trained scribe: safetensors weights, the catalog manifest, and the
parity file the Go test compares its logits with.

  export.py --run training/llm/out --model-dir models/scribe/1 \
            --parity inference/internal/llm/testdata/parity.json

The parity logits are computed by train.forward (JAX, float32) from the
weights exactly as written to the safetensors file.
"""

import argparse
import json
import os
import platform
import struct

import numpy as np
import jax
import jax.numpy as jnp
import jaxlib

import train

FORMAT = "modelgate.transformer/v1"
DEFAULT_CREATED = "2026-12-03T00:00:00Z"

# Prompts for the parity file, as token id lists: plain text, the chat
# template (messages separated by the end-of-text id), non-ASCII bytes, and
# one prompt that fills the whole context window.
PARITY_TEXTS = [
    "In the beginning",
    "And God said, Let there be light",
    "Caf\u00e9 \u2014 \u00fcber",
]


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name], dtype="<f4")
        b = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)  # align the data section
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        s, e = h["data_offsets"]
        out[name] = np.frombuffer(data[s:e], dtype="<f4").reshape(h["shape"])
    return out, header["__metadata__"]


def parity_prompts(cfg):
    prompts = [list(t.encode("utf-8")) for t in PARITY_TEXTS]
    chat = []
    for msg in ["Who made the heaven?", "The LORD is my shepherd"]:
        chat.extend(msg.encode("utf-8"))
        chat.append(train.EOT)
    prompts.append(chat)
    verses = train.load_corpus()
    full = train.encode(verses[:20]).tolist()[:cfg["context_length"]]
    prompts.append(full)
    return prompts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="training/llm/out")
    ap.add_argument("--model-dir", default="models/scribe/1")
    ap.add_argument("--parity", default="inference/internal/llm/testdata/parity.json")
    ap.add_argument("--max-output-tokens", type=int, default=128)
    ap.add_argument("--created", default=None)
    args = ap.parse_args()
    created = args.created or DEFAULT_CREATED
    if os.environ.get("SOURCE_DATE_EPOCH") and not args.created:
        import datetime
        created = datetime.datetime.fromtimestamp(
            int(os.environ["SOURCE_DATE_EPOCH"]), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    with open(os.path.join(args.run, "train.json")) as f:
        run = json.load(f)
    cfg = run["config"]
    npz = np.load(os.path.join(args.run, "params.npz"))
    params = {k: npz[k].astype(np.float32) for k in npz.files}

    os.makedirs(args.model_dir, exist_ok=True)
    st_path = os.path.join(args.model_dir, "model.safetensors")
    metadata = {k: repr(v) if isinstance(v, float) else str(v) for k, v in cfg.items()}
    metadata["format"] = FORMAT
    write_safetensors(st_path, params, metadata)

    # Parity from what was written, read back, so the file is the reference.
    weights, _ = read_safetensors(st_path)
    jp = {k: jnp.asarray(v) for k, v in weights.items()}
    cases = []
    for ids in parity_prompts(cfg):
        logits = np.asarray(train.forward(jp, cfg, jnp.asarray([ids], jnp.int32))[0])
        positions = sorted({0, len(ids) // 2, len(ids) - 1})
        cases.append({"tokens": ids, "positions": positions,
                      "logits": [[float(x) for x in logits[p]] for p in positions]})
    os.makedirs(os.path.dirname(args.parity), exist_ok=True)
    with open(args.parity, "w") as f:
        json.dump({"artifact": os.path.relpath(st_path, os.path.dirname(args.parity)),
                   "framework": "jax " + jax.__version__ + " float32",
                   "cases": cases}, f, separators=(",", ":"))
        f.write("\n")

    manifest = {
        "name": "scribe",
        "version": os.path.basename(os.path.normpath(args.model_dir)),
        "format": FORMAT,
        "algorithm": ("byte-level causal transformer: %d layers, d_model %d, %d heads, SwiGLU %d, "
                      "RMSNorm, RoPE, tied embeddings, no biases; AdamW %d steps x %d x %d tokens"
                      % (cfg["n_layer"], cfg["d_model"], cfg["n_head"], cfg["d_hidden"],
                         run["steps"], run["batch"], cfg["context_length"])),
        "framework": {"python": ".".join(platform.python_version_tuple()[:2]),
                      "jax": jax.__version__, "jaxlib": jaxlib.__version__,
                      "numpy": np.__version__},
        "artifact": "model.safetensors",
        "inputs": [],
        "output": {"kind": "text", "name": "text",
                   "description": "Text in the style of the King James Bible; one verse per reply."},
        "generation": {"context_length": cfg["context_length"], "vocab_size": cfg["vocab_size"],
                       "tokenizer": "bytes", "max_output_tokens": args.max_output_tokens},
        "metrics": {"train_loss": round(run["train_loss"], 4), "val_loss": round(run["val_loss"], 4),
                    "parameters": run["parameters"]},
        "dataset": ("King James Bible from Debian bible-kjv-text (public domain), %d train / %d val "
                    "tokens (every 20th block of 100 verses is validation); losses are nats per token "
                    "on fixed windows of each split" % (run["train_tokens"], run["val_tokens"])),
        "created": created,
    }
    with open(os.path.join(args.model_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    print("wrote %s (%d bytes), %s, %s" % (st_path, os.path.getsize(st_path),
                                         os.path.join(args.model_dir, "manifest.json"), args.parity))


if __name__ == "__main__":
    main()
