"""The official openai Python client against the inference service.

A text model `relay` is served from an OpenAI-compatible upstream that this
test runs itself (a few lines of http.server): version 1 streams a fixed
text, version 2 answers 429 with Retry-After, version 3 fails inside its
stream. The client talks to the real inference binary only, as it would
behind Envoy with a modelgate key as api_key.
"""

import json
import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import ROOT, run_inference

openai = pytest.importorskip("openai")

WORDS = ["In", " the", " beginning"]


class Upstream(BaseHTTPRequestHandler):
    """An OpenAI-compatible server: /ok streams WORDS, /limited answers 429,
    /broken fails mid-stream. Every request must carry the gateway's key."""

    seen: list = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        Upstream.seen.append((self.path, self.headers.get("authorization"), body))
        if self.headers.get("authorization") != "Bearer sk-upstream":
            return self._json(401, {"error": {"message": "bad key", "type": "authentication_error"}})
        if self.path.startswith("/limited/"):
            return self._json(429, {"error": {"message": "busy", "type": "rate_limit_error"}}, {"retry-after": "1"})
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        chat = self.path.endswith("/chat/completions")
        for w in WORDS:
            choice = {"index": 0, "delta": {"content": w}} if chat else {"index": 0, "text": w}
            self._event({"choices": [dict(choice, finish_reason=None)]})
            if self.path.startswith("/broken/"):
                self._event({"error": {"message": "overloaded", "type": "server_error"}})
                return
        self._event({"choices": [{"index": 0, "delta": {}, "text": "", "finish_reason": "stop"}]})
        self._event({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}})
        self.wfile.write(b"data: [DONE]\n\n")

    def _event(self, obj):
        self.wfile.write(b"data: " + json.dumps(obj).encode() + b"\n\n")
        self.wfile.flush()

    def _json(self, status, obj, headers=None):
        b = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(b)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(b)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    up = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=up.serve_forever, daemon=True).start()
    upstream = f"http://127.0.0.1:{up.server_address[1]}"

    models = tmp_path_factory.mktemp("models")
    shutil.copytree(ROOT / "models", models, dirs_exist_ok=True)
    catalog = models / "catalog.yaml"
    catalog.write_text(catalog.read_text() + '\n  relay:\n    kind: llm\n    versions: ["1", "2", "3"]\n    aliases: {latest: "1"}\n')
    for version, path in (("1", "ok"), ("2", "limited"), ("3", "broken")):
        d = models / "relay" / version
        d.mkdir(parents=True)
        (d / "manifest.json").write_text(json.dumps({
            "name": "relay", "version": version, "format": "openai", "algorithm": "upstream", "created": "2026-12-03",
            "output": {"kind": "text", "name": "text"},
            "generation": {"context_length": 256, "vocab_size": 256, "tokenizer": "tiny-bpe", "max_output_tokens": 64},
            "upstream": {"base_url": f"{upstream}/{path}/v1", "model": "tiny", "api_key_env": "INFERENCE_UPSTREAM_KEY"},
        }))

    env = dict(os.environ, INFERENCE_UPSTREAM_KEY="sk-upstream", INFERENCE_UPSTREAM_ALLOW="127.0.0.0/8")
    with run_inference(catalog, "inference-openai-test.log", env) as addr:
        yield f"http://{addr}/v1"
    up.shutdown()


@pytest.fixture
def client(base_url):
    return openai.OpenAI(base_url=base_url, api_key="mg-client-key", max_retries=0)


def test_chat_completion(client):
    r = client.chat.completions.create(model="relay", messages=[{"role": "user", "content": "hi"}], max_tokens=10)
    assert r.choices[0].message.content == "In the beginning"
    assert r.choices[0].finish_reason == "stop"
    assert r.model == "relay:1"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (5, 3, 8)
    path, auth, body = Upstream.seen[-1]
    assert auth == "Bearer sk-upstream", "the gateway's key, never the client's"
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 10 and body["model"] == "tiny"


def test_chat_stream_with_usage(client):
    chunks = list(client.chat.completions.create(
        model="relay:1", messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "In the beginning"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 8
    assert len({c.id for c in chunks}) == 1


def test_completion_stream(client):
    chunks = list(client.completions.create(model="relay", prompt="x", stream=True))
    assert "".join(c.choices[0].text for c in chunks) == "In the beginning"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks), "no usage chunk unless asked for"


def test_models(client):
    ids = [m.id for m in client.models.list()]
    assert [i for i in ids if i.startswith("relay")] == ["relay", "relay:1", "relay:2", "relay:3"]
    assert "scribe" in ids, "the built-in model is listed beside the upstream one"
    assert client.models.retrieve("relay:1").owned_by == "modelgate"


def test_errors_raise_the_right_exceptions(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="relay", messages=[{"role": "user", "content": "hi"}], temperature=3)
    assert e.value.param == "temperature"
    assert e.value.body["param"] == "temperature"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="iris", messages=[{"role": "user", "content": "hi"}])
    assert e.value.param == "model"
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert e.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("iris")
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(model="relay:2", messages=[{"role": "user", "content": "hi"}], stream=True)
    assert e.value.response.headers["retry-after"] == "1"


def test_error_inside_a_stream(client):
    stream = client.chat.completions.create(model="relay:3", messages=[{"role": "user", "content": "hi"}], stream=True)
    got = []
    with pytest.raises(openai.APIError) as e:
        for c in stream:
            got.append(c.choices[0].delta.content)
    assert got == ["", "In"], "the content before the failure arrived"
    assert "failed" in str(e.value.message)


def test_openai_operations_conform_to_openapi(base_url):
    """schemathesis on the OpenAI operations, with a text model to reach."""
    import sys

    cmd = [
        sys.executable, "-m", "schemathesis.cli", "run", str(ROOT / "api" / "openapi.yaml"),
        "--url", base_url.removesuffix("/v1"),
        "--include-path-regex", "^/v1/(chat|completions|models)",
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                    "response_headers_conformance,response_schema_conformance,negative_data_rejection",
        "--generation-with-security-parameters", "false",
        "--max-examples", "30", "--seed", "20261203", "--no-color",
        "--phases", "examples,coverage,fuzzing",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
