"""verify_webhook accepts what the reference Standard Webhooks library signs, and refuses tampering."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timezone

import pytest
import standardwebhooks

import modelgate
from modelgate import sign_webhook, verify_webhook

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
BODY = json.dumps({"type": "job.succeeded", "timestamp": "2026-12-03T10:00:00Z", "data": {"id": "job_1"}})


def signed(msg_id: str = "msg_1", when: float | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = datetime.fromtimestamp(when if when is not None else time.time(), tz=timezone.utc)
    sig = standardwebhooks.Webhook(secret).sign(msg_id, ts, BODY)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(ts.timestamp())), "webhook-signature": sig}


def test_accepts_reference_signature() -> None:
    payload = verify_webhook(BODY.encode(), signed(), SECRET)
    assert payload["data"]["id"] == "job_1"


def test_header_names_are_case_insensitive_and_body_may_be_str() -> None:
    h = {k.upper(): v for k, v in signed().items()}
    assert verify_webhook(BODY, h, SECRET)["type"] == "job.succeeded"


def test_accepts_any_of_several_signatures_during_rotation() -> None:
    old = "whsec_" + base64.b64encode(b"another-secret-of-32-bytes-long!").decode()
    h = signed()
    h["webhook-signature"] = signed(secret=old)["webhook-signature"] + " " + h["webhook-signature"]
    verify_webhook(BODY, h, SECRET)


@pytest.mark.parametrize("mutate", [
    lambda h, b: (h, b.replace("job_1", "job_2")),
    lambda h, b: ({**h, "webhook-id": "msg_2"}, b),
    lambda h, b: ({**h, "webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode()}, b),
    lambda h, b: ({**h, "webhook-signature": h["webhook-signature"].replace("v1,", "v2,")}, b),
    lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b),
])
def test_refuses_tampering(mutate: object) -> None:
    h, b = mutate(signed(), BODY)  # type: ignore[operator]
    with pytest.raises(modelgate.WebhookVerificationError):
        verify_webhook(b, h, SECRET)


def test_refuses_stale_and_future_timestamps() -> None:
    with pytest.raises(modelgate.WebhookVerificationError, match="too old"):
        verify_webhook(BODY, signed(when=time.time() - 600), SECRET)
    with pytest.raises(modelgate.WebhookVerificationError, match="too new"):
        verify_webhook(BODY, signed(when=time.time() + 600), SECRET)
    verify_webhook(BODY, signed(when=time.time() - 600), SECRET, tolerance=900)


def test_reference_library_accepts_our_signature() -> None:
    ts = int(time.time())
    h = {"webhook-id": "msg_9", "webhook-timestamp": str(ts), "webhook-signature": sign_webhook("msg_9", ts, BODY, SECRET)}
    assert standardwebhooks.Webhook(SECRET).verify(BODY, h)["data"]["id"] == "job_1"


def test_bad_secret() -> None:
    with pytest.raises(modelgate.WebhookVerificationError):
        verify_webhook(BODY, signed(), "whsec_not base64!")
