"""A third-party upstream: llama.cpp's server (llama-cpp-python) serving the
GGUF export of scribe, registered as the upstream version scribe:2.

`make test-llamacpp` builds .venv-llamacpp (llama-cpp-python compiled from
source, and the gguf package), writes models/scribe/2/scribe.gguf with
training/llm/gguf_export.py and runs this file on its own: it starts its own
whole stack (stackrun with a catalog copy holding scribe:2) on the standard
ports, so it cannot share a pytest session with the `stack` fixture, and
`make test-clients` leaves it out.

What is checked:
- the export: llama.cpp's logits for the committed parity prompts match
  JAX's (training/llm/gguf_check.py) and its tokenizer turns text into
  scribe's byte ids;
- llama.cpp's server itself sends no usage in a stream, even when asked;
- through inference alone and through Envoy, the official openai client
  streams text from scribe:2 with include_usage, the usage the gateway
  counts (the upstream sent none: content bytes for the prompt, streamed
  bytes for the completion), and a raw stream ends with [DONE];
- the token quota of a free key charges those counted tokens.
"""

import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import GATEWAY, ROOT, Stack, _free_port, run_inference

openai = pytest.importorskip("openai")

VENV_PYTHON = ROOT / ".venv-llamacpp" / "bin" / "python"
GGUF = ROOT / "models" / "scribe" / "2" / "scribe.gguf"
UPSTREAM_MODEL = "scribe-gguf"
PROMPT = "In the beginning"

if not VENV_PYTHON.exists():
    pytest.skip("no .venv-llamacpp: `make test-llamacpp` builds it", allow_module_level=True)


# scribe's chat template for llama-cpp-python's server. The one stored in
# the GGUF is right, but the server's handler for it stops as soon as the
# last token it has seen is end-of-sequence, and that includes the last
# token of the prompt, which for scribe always is end-of-text: every chat
# reply would be empty. The server's hf-tokenizer-config format has no such
# check; it appends an empty assistant message to every conversation (the
# generation prompt), which the template leaves out.
TOKENIZER_CONFIG = {
    "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
    "chat_template": "{% for message in messages %}"
                     "{% if not (loop.last and message['role'] == 'assistant' and message['content'] == '') %}"
                     "{{ message['content'] }}<|endoftext|>{% endif %}{% endfor %}",
}


@pytest.fixture(scope="module")
def llamacpp(tmp_path_factory):
    """llama.cpp's OpenAI-compatible server on a free port; yields its /v1 URL."""
    if not GGUF.exists():
        pytest.fail(f"{GGUF.relative_to(ROOT)} is missing: `make test-llamacpp` writes it")
    config = tmp_path_factory.mktemp("llamacpp") / "tokenizer_config.json"
    config.write_text(json.dumps(TOKENIZER_CONFIG))
    port = _free_port()
    log = open(ROOT / "out" / "llamacpp-server.log", "w")
    proc = subprocess.Popen(
        [str(VENV_PYTHON), "-m", "llama_cpp.server", "--model", str(GGUF), "--model_alias", UPSTREAM_MODEL,
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "256", "--n_threads", "2",
         # The KV cache in F32 (GGML_TYPE_F32 is 0), as in gguf_check.py.
         "--type_k", "0", "--type_v", "0",
         "--chat_format", "hf-tokenizer-config", "--hf_tokenizer_config_path", str(config)],
        stdout=log, stderr=log, cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/models", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail("llama.cpp's server did not start; see out/llamacpp-server.log")
        time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def catalog(tmp_path_factory, llamacpp):
    """A copy of models/ whose catalog adds scribe:2, served by llama.cpp."""
    models = tmp_path_factory.mktemp("models")
    shutil.copytree(ROOT / "models", models, dirs_exist_ok=True)
    cat = models / "catalog.yaml"
    text = cat.read_text()
    head, tail = text.split("\n  scribe:\n", 1)
    assert 'versions: ["1"]' in tail, "the scribe entry of models/catalog.yaml changed shape"
    cat.write_text(head + "\n  scribe:\n" + tail.replace('versions: ["1"]', 'versions: ["1", "2"]', 1))
    builtin = json.loads((ROOT / "models" / "scribe" / "1" / "manifest.json").read_text())
    (models / "scribe" / "2").mkdir(exist_ok=True)
    (models / "scribe" / "2" / "manifest.json").write_text(json.dumps({
        "name": "scribe", "version": "2", "format": "gguf", "created": builtin["created"],
        "algorithm": "scribe:1's weights as GGUF (training/llm/gguf_export.py), served by llama.cpp (llama-cpp-python)",
        "output": builtin["output"], "generation": builtin["generation"],
        "upstream": {"base_url": llamacpp, "model": UPSTREAM_MODEL},
    }))
    return cat


@pytest.fixture(scope="module")
def inference(catalog):
    env = dict(os.environ, INFERENCE_UPSTREAM_ALLOW="127.0.0.0/8")
    with run_inference(catalog, "inference-llamacpp-test.log", env) as addr:
        yield f"http://{addr}/v1"


@pytest.fixture(scope="module")
def stack(catalog):
    """The whole stack through real Envoy serving the catalog copy."""
    for name in ("stackrun", "extproc", "inference", "ratelimit"):
        if not (ROOT / "out" / name).exists():
            pytest.fail(f"out/{name} is missing: run `make build deps`")
    run_dir = Path(catalog).parent.parent / "run"
    run_dir.mkdir()
    log = open(run_dir / "stackrun.log", "w")
    env = dict(os.environ, INFERENCE_UPSTREAM_ALLOW="127.0.0.0/8")
    proc = subprocess.Popen([str(ROOT / "out" / "stackrun"), "--run-dir", str(run_dir), "--out", str(ROOT / "out"),
                             "--catalog", str(catalog)],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    deadline = time.time() + 90
    while "modelgate is up" not in (run_dir / "stackrun.log").read_text():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail("the stack did not start:\n" + (run_dir / "stackrun.log").read_text()[-3000:])
        time.sleep(0.2)
    yield Stack(run_dir)
    os.killpg(proc.pid, 2)  # SIGINT: stackrun stops everything it started
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
    log.close()


def sse(url, body, headers):
    """POST body, return the data lines of the event stream as they came."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json", **headers})
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        return [line[len("data: "):] for line in r.read().decode().splitlines() if line.startswith("data: ")]


def test_export_matches_the_parity_logits():
    proc = subprocess.run([str(VENV_PYTHON), "training/llm/gguf_check.py", "--model", str(GGUF), "--tol", "1e-4"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    print(proc.stdout)
    assert report["tokenizer_ok"] and report["max_abs_diff"] < 1e-4


def test_llamacpp_streams_without_usage(llamacpp):
    """Why the gateway counts: asked for usage, llama.cpp's server sends none."""
    events = sse(llamacpp + "/chat/completions", {
        "model": UPSTREAM_MODEL, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 8,
        "stream": True, "stream_options": {"include_usage": True}}, {})
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert all(not c.get("usage") for c in chunks)


def check_stream(c, model):
    """A chat stream with include_usage; returns the text."""
    chunks = list(c.chat.completions.create(
        model=model, messages=[{"role": "user", "content": PROMPT}], max_tokens=32, temperature=0.8,
        stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text, "llama.cpp produced text"
    assert chunks[-2].choices[0].finish_reason in ("stop", "length")
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    # Counted by the gateway, the upstream sending none: the content's
    # bytes for the prompt (the template's end-of-text is not counted),
    # the streamed bytes for the completion.
    assert usage.prompt_tokens == len(PROMPT.encode())
    assert usage.completion_tokens == len(text.encode())
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert len({ch.id for ch in chunks}) == 1
    return text


def test_stream_through_inference(inference):
    c = openai.OpenAI(base_url=inference, api_key="unused", max_retries=0, timeout=60)
    check_stream(c, "scribe:2")
    raw = c.completions.with_raw_response.create(model="scribe:2", prompt=PROMPT, max_tokens=8)
    assert raw.parse().choices[0].text
    events = sse(inference + "/completions", {"model": "scribe:2", "prompt": PROMPT, "max_tokens": 8, "stream": True}, {})
    assert events[-1] == "[DONE]"


def test_stream_through_envoy(stack):
    key = stack.key("llamacpp-tests", "internal")
    c = openai.OpenAI(base_url=f"http://{GATEWAY}/v1", api_key=key, max_retries=0, timeout=60)
    assert "scribe:2" in [m.id for m in c.models.list()]
    check_stream(c, "scribe:2")
    raw = c.chat.completions.with_raw_response.create(
        model="scribe", messages=[{"role": "user", "content": PROMPT}], max_tokens=8,
        extra_headers={"x-model-version": "2"})
    assert raw.headers["x-model-version"] == "2"
    assert raw.parse().choices[0].message.content
    events = sse(f"http://{GATEWAY}/v1/chat/completions", {
        "model": "scribe:2", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 8, "stream": True},
        {"x-api-key": key})
    assert events[-1] == "[DONE]"
    assert all(not json.loads(e).get("usage") for e in events[:-1]), "no usage chunk unless asked for"


def test_token_quota_charges_counted_tokens(stack):
    """A free key has 1500 tokens a minute per model; the counted usage of
    llama.cpp's streams is what is charged, so it is refused once the
    tokens used and the next prompt pass the limit."""
    while time.gmtime().tm_sec > 40:  # the counters are per minute
        time.sleep(1)
    key = stack.key(f"llamacpp-free-{os.getpid()}-{int(time.time())}", "free", "scribe")
    c = openai.OpenAI(base_url=f"http://{GATEWAY}/v1", api_key=key, max_retries=0, timeout=60)
    prompt = "And the earth was without form, and void; " * 3  # 126 bytes
    charged = 0
    refused = None
    for _ in range(30):
        try:
            chunks = list(c.chat.completions.create(model="scribe:2", messages=[{"role": "user", "content": prompt}],
                                                    max_tokens=64, stream=True, stream_options={"include_usage": True}))
        except openai.RateLimitError as e:
            refused = e
            break
        charged += chunks[-1].usage.total_tokens
        time.sleep(0.25)  # under the free tier's 5 requests a second
    assert refused is not None, f"never refused after {charged} tokens"
    assert "Token quota" in refused.message, refused.message
    assert charged + len(prompt) > 1500, "refused only once the tokens used and this prompt pass the limit"
