"""Check a GGUF export of scribe against the parity file: llama.cpp (through
llama-cpp-python) must give the JAX logits of every committed prompt.

  gguf_check.py --model models/scribe/2/scribe.gguf \
                --parity inference/internal/llm/testdata/parity.json [--tol 1e-4]

Prints one line per case and the largest absolute difference over all of
them as JSON on the last line; exits 1 when it exceeds --tol. This proves
the weights, the RoPE reordering and the vocabulary (within 1e-5 with
the KV cache in F32; llama.cpp's default F16 cache costs about 2.5e-3) (the token ids are fed
as they are, and the text of every prompt that is valid UTF-8 is also
tokenized by llama.cpp and must give the same ids).
"""

import argparse
import json
import sys

import numpy as np
from llama_cpp import Llama


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/scribe/2/scribe.gguf")
    ap.add_argument("--parity", default="inference/internal/llm/testdata/parity.json")
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args()

    with open(args.parity) as f:
        cases = json.load(f)["cases"]
    # The KV cache in F32 (llama.cpp defaults to F16), as the Go and JAX
    # forward passes keep it; flash attention off, as it is by default.
    llm = Llama(model_path=args.model, n_ctx=256, n_batch=256, logits_all=True, verbose=False,
                type_k=0, type_v=0, flash_attn=False)  # 0 is GGML_TYPE_F32
    worst, problems = 0.0, []
    for i, c in enumerate(cases):
        ids = c["tokens"]
        # The tokenizer: each byte one token, end-of-text as a special token.
        text = b"".join(b"<|endoftext|>" if t == 256 else bytes([t]) for t in ids)
        try:
            text.decode("utf-8")
            got = llm.tokenize(text, add_bos=False, special=True)
            if got != ids:
                problems.append("case %d: tokenize gave %s, expected %s" % (i, got[:20], ids[:20]))
        except UnicodeDecodeError:
            pass  # a prompt cut inside a character has no text form
        llm.reset()
        llm.eval(ids)
        diff = 0.0
        for pos, want in zip(c["positions"], c["logits"]):
            got = np.asarray(llm.scores[pos], dtype=np.float64)
            diff = max(diff, float(np.max(np.abs(got - np.asarray(want)))))
        worst = max(worst, diff)
        print("case %d: %d tokens, positions %s, max abs diff %.3g" % (i, len(ids), c["positions"], diff))
    for p in problems:
        print(p)
    print(json.dumps({"cases": len(cases), "max_abs_diff": worst, "tokenizer_ok": not problems}))
    if worst > args.tol or problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
