"""The inference service against the public OpenAPI document, with schemathesis.

Checks that apply to a bare inference deployment: no 5xx, status codes and
content types the document declares, response bodies that match their
schemas, and schema-violating requests refused. Authentication checks belong
to the gateway and run in the end-to-end suite; positive-data acceptance is
off because feature names are per model, which this generic document cannot
say (the gateway's per-deployment document can: test_gateway.py).
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_inference_conforms_to_openapi(inference_url):
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "run", str(ROOT / "api" / "openapi.yaml"),
        "--url", f"http://{inference_url}",
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                    "response_headers_conformance,response_schema_conformance,negative_data_rejection",
        # Keys are the gateway's business; a bare inference deployment has none.
        "--generation-with-security-parameters", "false",
        # The gateway's own paths: a bare inference deployment does not serve them.
        "--exclude-path", "/openapi.json", "--exclude-path", "/healthz",
        "--max-examples", "40", "--seed", "20261125", "--no-color",
        "--phases", "examples,coverage,fuzzing",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
