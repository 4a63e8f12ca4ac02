"""Write scribe's committed weights as a GGUF file that llama.cpp serves.

  gguf_export.py --weights models/scribe/1/model.safetensors \
                 --out models/scribe/2/scribe.gguf

The file uses llama.cpp's `llama` architecture and F32 tensors, so
llama.cpp computes what the Go forward pass computes. Two things differ
from the safetensors layout:

- RoPE. scribe rotates element k of a head with element k+16 (the half-split
  form); llama.cpp's `llama` architecture rotates element 2i with 2i+1. The
  rows of the query and key projections are reordered inside every head so
  that rows i and i+16 become rows 2i and 2i+1. Queries and keys move
  together, so every attention score is the same; values and the output
  projection are untouched.
- The vocabulary. scribe's tokens are the 256 bytes plus end-of-text (256).
  The file carries a GPT-2-style byte-level BPE vocabulary: token b is byte
  b written with the GPT-2 byte-to-character table, with no merges at all,
  so llama.cpp's tokenizer can only ever produce one token per byte, and
  `<|endoftext|>` (a control token) as id 256, which is both end of
  sequence and the "beginning" llama.cpp uses for an empty prompt.

The chat template stored in the file is scribe's own (see
inference/internal/llm/chat.go): every message's content followed by one
end-of-text, roles ignored.

Only the gguf package (and numpy) is needed; see requirements-gguf.txt.
"""

import argparse
import json
import os
import struct

import numpy as np
import gguf

EOT_TEXT = "<|endoftext|>"
CHAT_TEMPLATE = "{% for message in messages %}{{ message['content'] }}" + EOT_TEXT + "{% endfor %}"


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
        if h["dtype"] != "F32":
            raise SystemExit("%s: dtype %s, expected F32" % (name, h["dtype"]))
        s, e = h["data_offsets"]
        out[name] = np.frombuffer(data[s:e], dtype="<f4").reshape(h["shape"])
    return out, header["__metadata__"]


def byte_chars():
    """GPT-2's byte-to-character table: printable Latin-1 bytes stand for
    themselves, the other 68 bytes for the code points from 256 up, in
    byte order. llama.cpp's BPE tokenizer applies the same table."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def interleave_rope_rows(w, n_head):
    """Reorder the output rows of a query or key projection ([d_model, d_in])
    head by head from half-split RoPE pairs (i, i+half) to adjacent pairs
    (2i, 2i+1)."""
    d_out, d_in = w.shape
    hd = d_out // n_head
    # Per head the rows are [first half | second half]; view them as
    # [2, half] and transpose to [half, 2] so pair i is rows 2i, 2i+1.
    return (w.reshape(n_head, 2, hd // 2, d_in).transpose(0, 2, 1, 3).reshape(d_out, d_in))


class Writer(gguf.GGUFWriter):
    """GGUFWriter that can also write an empty array (the merges list):
    the gguf package refuses empty arrays, llama.cpp reads them fine."""

    def _pack_val(self, val, vtype, add_vtype, sub_type=None):
        if vtype == gguf.GGUFValueType.ARRAY and len(val) == 0 and sub_type is not None:
            b = self._pack("I", vtype) if add_vtype else b""
            return b + self._pack("I", sub_type) + self._pack("Q", 0)
        return super()._pack_val(val, vtype, add_vtype, sub_type)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default="models/scribe/1/model.safetensors")
    ap.add_argument("--out", default="models/scribe/2/scribe.gguf")
    args = ap.parse_args()

    w, meta = read_safetensors(args.weights)
    n_layer, d_model = int(meta["n_layer"]), int(meta["d_model"])
    n_head, d_hidden = int(meta["n_head"]), int(meta["d_hidden"])
    ctx, vocab = int(meta["context_length"]), int(meta["vocab_size"])
    if vocab != 257:
        raise SystemExit("vocab_size %d: the byte vocabulary has 257 tokens" % vocab)

    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    arch = "llama"
    g = Writer(args.out, arch)
    g.add_name("scribe")
    g.add_description("scribe, modelgate's byte-level model trained on the King James Bible (models/scribe/1)")
    g.add_file_type(gguf.LlamaFileType.ALL_F32)
    g.add_context_length(ctx)
    g.add_embedding_length(d_model)
    g.add_block_count(n_layer)
    g.add_feed_forward_length(d_hidden)
    g.add_head_count(n_head)
    g.add_head_count_kv(n_head)
    g.add_rope_dimension_count(d_model // n_head)
    g.add_rope_freq_base(float(meta["rope_theta"]))
    g.add_layer_norm_rms_eps(float(meta["norm_eps"]))
    g.add_vocab_size(vocab)

    g.add_tokenizer_model("gpt2")
    g.add_tokenizer_pre("default")
    g.add_token_list(byte_chars() + [EOT_TEXT])
    g.add_token_types([gguf.TokenType.NORMAL] * 256 + [gguf.TokenType.CONTROL])
    g.add_key_value(gguf.Keys.Tokenizer.MERGES, [], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.STRING)
    g.add_bos_token_id(256)
    g.add_eos_token_id(256)
    g.add_add_bos_token(False)
    g.add_add_eos_token(False)
    g.add_chat_template(CHAT_TEMPLATE)

    # llama.cpp ties the output head to token_embd when output.weight is
    # absent, as scribe does.
    g.add_tensor("token_embd.weight", w["embed"])
    g.add_tensor("output_norm.weight", w["final_norm"])
    for i in range(n_layer):
        p = "layers.%d." % i
        b = "blk.%d." % i
        g.add_tensor(b + "attn_norm.weight", w[p + "attn_norm"])
        g.add_tensor(b + "attn_q.weight", interleave_rope_rows(w[p + "wq"], n_head))
        g.add_tensor(b + "attn_k.weight", interleave_rope_rows(w[p + "wk"], n_head))
        g.add_tensor(b + "attn_v.weight", w[p + "wv"])
        g.add_tensor(b + "attn_output.weight", w[p + "wo"])
        g.add_tensor(b + "ffn_norm.weight", w[p + "mlp_norm"])
        g.add_tensor(b + "ffn_gate.weight", w[p + "w_gate"])
        g.add_tensor(b + "ffn_up.weight", w[p + "w_up"])
        g.add_tensor(b + "ffn_down.weight", w[p + "w_down"])

    g.write_header_to_file()
    g.write_kv_data_to_file()
    g.write_tensors_to_file()
    g.close()
    print("wrote %s (%d bytes)" % (args.out, os.path.getsize(args.out)))


if __name__ == "__main__":
    main()
