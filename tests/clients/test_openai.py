"""The official openai clients (Python, and Node through tests/clients/js)
against the text-generation routes through real Envoy: keys, streaming,
usage, errors, and token quotas charged when a stream ends.
"""

import json
import os
import shutil
import subprocess
import time

import openai
import pytest

from conftest import GATEWAY, ROOT

MODEL = "scribe"
BASE = f"http://{GATEWAY}/v1"


def client(key: str) -> openai.OpenAI:
    # No retries: a test must see the first answer.
    return openai.OpenAI(base_url=BASE, api_key=key, max_retries=0, timeout=60)


def test_models_are_listed_and_scoped(gateway, stack):
    ids = [m.id for m in client(gateway).models.list()]
    assert MODEL in ids
    assert "iris" not in ids, "only text-generation models are listed"
    narrow = stack.key("openai-iris-only", "pro", "iris")
    assert [m.id for m in client(narrow).models.list()] == [], "a key sees only the models it may use"
    with pytest.raises(openai.PermissionDeniedError):
        client(narrow).models.retrieve(MODEL)


def test_chat_completion_and_stream_agree(gateway):
    c = client(gateway)
    messages = [{"role": "user", "content": "And God said"}]
    raw = c.chat.completions.with_raw_response.create(model=MODEL, messages=messages, max_tokens=24, temperature=0)
    assert raw.headers["x-model-version"]
    done = raw.parse()
    text = done.choices[0].message.content
    assert text, "greedy decoding produced text"
    assert done.choices[0].finish_reason in ("stop", "length")
    assert 0 < done.usage.completion_tokens <= 24
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens

    chunks = list(c.chat.completions.create(model=MODEL, messages=messages, max_tokens=24, temperature=0,
                                            stream=True, stream_options={"include_usage": True}))
    streamed = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert streamed == text, "the stream carries the same text as the answer"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == done.usage.completion_tokens


def test_stream_without_usage_has_no_usage_chunk(gateway):
    """The gateway asks the model for usage (it charges it) and removes the chunk the client did not ask for."""
    chunks = list(client(gateway).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "In the beginning"}], max_tokens=8, stream=True))
    assert chunks, "the stream had chunks"
    assert all(ch.usage is None for ch in chunks)
    assert all(ch.choices for ch in chunks)


def test_seed_reproduces_sampling(gateway):
    c = client(gateway)
    kw = dict(model=MODEL, prompt="The LORD is my shepherd", max_tokens=16, temperature=1.0, seed=7)
    first = c.completions.create(**kw).choices[0].text
    assert c.completions.create(**kw).choices[0].text == first
    assert first


def test_errors_are_openai_exceptions(gateway):
    c = client(gateway)
    with pytest.raises(openai.NotFoundError) as e:
        c.chat.completions.create(model="tulip", messages=[{"role": "user", "content": "x"}])
    assert e.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError):
        c.chat.completions.create(model="iris", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.AuthenticationError):
        client("mg_not-a-key").chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])


def test_token_quota_counts_completions(stack):
    """Free clients have 1500 tokens a minute per model. Each request reserves its
    prompt on admission; the completion is charged by Envoy when the stream
    ends. Reservations alone would allow many more requests than the
    limit does once completions are charged."""
    # The counters are per minute: start early in one.
    while time.gmtime().tm_sec > 40:
        time.sleep(1)
    key = stack.key(f"openai-free-{os.getpid()}-{int(time.time())}", "free", MODEL)
    c = client(key)
    prompt = "And the earth was without form, and void; " * 3  # 126 bytes
    charged = reserved = 0
    refused = None
    for i in range(30):
        try:
            chunks = list(c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": prompt}],
                                                    max_tokens=64, stream=True, stream_options={"include_usage": True}))
        except openai.RateLimitError as e:
            refused = e
            break
        charged += chunks[-1].usage.total_tokens
        reserved += len(prompt)
        time.sleep(0.25)  # under the free tier's 5 requests a second
    assert refused is not None, f"never refused after {charged} tokens"
    assert refused.response.headers.get("retry-after") and refused.response.headers.get("retry-after-ms")
    assert "Token quota" in refused.message, refused.message
    assert charged + len(prompt) > 1500, "refused only once the tokens used and this prompt pass the limit"
    assert reserved + len(prompt) <= 1500, "the prompts alone were within the limit: completions were charged"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_client(gateway):
    """The official openai package for Node (tests/clients/js, pinned), streaming and not."""
    js = ROOT / "tests" / "clients" / "js"
    if not (js / "node_modules" / "openai").exists():
        pytest.fail("tests/clients/js/node_modules is missing: `make test-clients` installs it")
    proc = subprocess.run(["node", "openai.mjs"], cwd=js, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MODELGATE_BASE_URL": BASE, "MODELGATE_KEY": gateway, "MODELGATE_MODEL": MODEL})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["streamed"] == report["text"] and report["text"]
    assert report["usage"]["completion_tokens"] > 0
    assert report["notFound"] == 404
