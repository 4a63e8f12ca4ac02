"""Fixtures that start the real inference binary for client tests."""

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = "127.0.0.1:8080"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def run_inference(catalog: Path, log_name: str, env: dict | None = None):
    """Run out/inference serving every version of catalog; yield host:port."""
    binary = ROOT / "out" / "inference"
    if not binary.exists():
        pytest.fail("out/inference is missing: run `make build` first")
    port = _free_port()
    log = open(ROOT / "out" / log_name, "w")
    proc = subprocess.Popen(
        [str(binary), "--addr", f"127.0.0.1:{port}", "--catalog", str(catalog), "--log-format", "text"],
        stdout=log, stderr=log, cwd=ROOT, env=env,
    )
    deadline = time.time() + 15
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"inference did not become ready; see out/{log_name}")
        time.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def inference_url():
    """out/inference serving every committed version; host:port."""
    with run_inference(ROOT / "models" / "catalog.yaml", "inference-clients-test.log") as url:
        yield url


def parity(model: str, version: str) -> dict:
    import json

    return json.loads((ROOT / "models" / model / version / "parity.json").read_text())


@dataclass
class Stack:
    """A running `out/stackrun` and the keys file its plugin watches."""

    run_dir: Path

    def webhook_secret(self, client: str) -> str:
        """Create the client's webhook signing secret with inference's own CLI; inference reads the file at once."""
        out = subprocess.run([str(ROOT / "out" / "inference"), "webhook-secret", "create", "--client", client,
                              "--file", str(self.run_dir / "webhook-secrets.yaml")],
                             capture_output=True, text=True, check=True)
        return next(w for w in out.stdout.split() if w.startswith("whsec_"))

    def key(self, client: str, tier: str, models: str = "*") -> str:
        """Issue a key with the plugin's own CLI and wait until it is accepted."""
        out = subprocess.run([str(ROOT / "out" / "extproc"), "keys", "create", "--file", str(self.run_dir / "keys.yaml"),
                              "--client", client, "--tier", tier, "--models", models],
                             capture_output=True, text=True, check=True)
        key = next(w for w in out.stdout.split() if w.startswith("mg_"))
        # The plugin picks the new key up from the file within a second or two.
        deadline = time.time() + 10
        while True:
            req = urllib.request.Request(f"http://{GATEWAY}/v2/models", headers={"x-api-key": key})
            try:
                with urllib.request.urlopen(req, timeout=2) as r:
                    if r.status == 200:
                        return key
            except OSError:
                pass
            if time.time() > deadline:
                pytest.fail("the new key was not accepted")
            time.sleep(0.1)


@pytest.fixture(scope="session")
def stack():
    """The whole stack through real Envoy (the runner behind `make run`) in a temporary run directory."""
    for name in ("stackrun", "extproc", "inference", "ratelimit"):
        if not (ROOT / "out" / name).exists():
            pytest.fail(f"out/{name} is missing: run `make build deps` (make test does)")
    run_dir = Path(tempfile.mkdtemp(prefix="mg-clients-"))
    log = open(run_dir / "stackrun.log", "w")
    proc = subprocess.Popen([str(ROOT / "out" / "stackrun"), "--run-dir", str(run_dir), "--out", str(ROOT / "out")],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 90
    while "modelgate is up" not in (run_dir / "stackrun.log").read_text():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail("the stack did not start:\n" + (run_dir / "stackrun.log").read_text()[-3000:])
        time.sleep(0.2)
    yield Stack(run_dir)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


@pytest.fixture(scope="session")
def gateway(stack):
    """An unlimited internal-tier key for every model, whose client may ask for webhooks."""
    stack.webhook_secret("client-tests")
    return stack.key("client-tests", "internal")
