"""Fixtures that start the real inference binary for client tests."""

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def inference_url():
    """Start out/inference serving every version; yield host:port."""
    binary = ROOT / "out" / "inference"
    if not binary.exists():
        pytest.fail("out/inference is missing: run `make build` first")
    port = _free_port()
    log = open(ROOT / "out" / "inference-clients-test.log", "w")
    proc = subprocess.Popen(
        [str(binary), "--addr", f"127.0.0.1:{port}", "--catalog", str(ROOT / "models" / "catalog.yaml"), "--log-format", "text"],
        stdout=log, stderr=log, cwd=ROOT,
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
            pytest.fail("inference did not become ready; see out/inference-clients-test.log")
        time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def parity(model: str, version: str) -> dict:
    import json

    return json.loads((ROOT / "models" / model / version / "parity.json").read_text())
