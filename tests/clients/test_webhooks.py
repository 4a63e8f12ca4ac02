"""Job webhooks verified by the real `standardwebhooks` packages (PyPI and npm).

out/inference runs with a jobs Redis of the test's own and a webhook secret
made by its own CLI; a local receiver verifies every delivery with the
reference Python implementation of Standard Webhooks. A tampered body and a
stale timestamp must fail that verification.
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from conftest import ROOT, run_inference


@pytest.fixture()
def jobs_redis():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not on PATH")
    d = tempfile.mkdtemp(prefix="mg-wh-")
    sock = os.path.join(d, "redis.sock")
    proc = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", sock, "--dir", d,
                             "--appendonly", "yes", "--maxmemory-policy", "noeviction", "--save", ""],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while not os.path.exists(sock):
        assert time.time() < deadline, "redis-server did not start"
        time.sleep(0.02)
    yield sock, Path(d)
    proc.terminate()
    proc.wait(timeout=10)
    shutil.rmtree(d, ignore_errors=True)


class Receiver(BaseHTTPRequestHandler):
    deliveries: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        type(self).deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_deliveries_verify_with_standardwebhooks(jobs_redis):
    sock, d = jobs_redis
    secrets = d / "webhook-secrets.yaml"
    secret = subprocess.run([str(ROOT / "out" / "inference"), "webhook-secret", "create", "--client", "py",
                             "--file", str(secrets)], capture_output=True, text=True, check=True).stdout.strip()
    assert secret.startswith("whsec_")
    Receiver.deliveries = []
    srv = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    env = {**os.environ, "INFERENCE_JOBS_REDIS": sock, "INFERENCE_WEBHOOK_SECRETS": str(secrets),
           "INFERENCE_WEBHOOK_ALLOW": "127.0.0.1", "INFERENCE_WEBHOOK_ALLOW_HTTP": "true"}
    try:
        with run_inference(ROOT / "models" / "catalog.yaml", "inference-webhooks-test.log", env=env) as url:
            body = {"model": "iris", "webhook": f"http://127.0.0.1:{srv.server_port}/hook",
                    "inputs": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]}
            req = urllib.request.Request(f"http://{url}/v2/jobs", data=json.dumps(body).encode(), method="POST",
                                         headers={"content-type": "application/json", "x-modelgate-client": "py"})
            with urllib.request.urlopen(req, timeout=10) as r:
                assert r.status == 202
                job = json.load(r)
            deadline = time.time() + 20
            while not Receiver.deliveries:
                assert time.time() < deadline, "no webhook delivery"
                time.sleep(0.05)
    finally:
        srv.shutdown()

    headers, payload = Receiver.deliveries[0]
    wh = Webhook(secret)
    event = wh.verify(payload, headers)
    assert event["type"] == "job.succeeded"
    assert event["data"]["id"] == job["id"]
    assert event["data"]["status"] == "succeeded"

    with pytest.raises(WebhookVerificationError):
        wh.verify(payload.replace(b"succeeded", b"failed", 1), headers)
    stale = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 3600)}
    with pytest.raises(WebhookVerificationError):
        wh.verify(payload, stale)

    # The same delivery through the JavaScript reference implementation.
    js = ROOT / "tests" / "clients" / "js"
    if not (js / "node_modules" / "standardwebhooks").exists():
        pytest.skip("tests/clients/js/node_modules missing: run `make test-clients`")
    out = subprocess.run(["node", str(js / "webhooks.mjs")], capture_output=True, text=True, timeout=30,
                         input=json.dumps({"secret": secret, "headers": headers,
                                           "body": base64.b64encode(payload).decode()}))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "job.succeeded"
