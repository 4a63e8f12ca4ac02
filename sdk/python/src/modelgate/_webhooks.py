"""Verification of Standard Webhooks (v1, HMAC-SHA256) that the gateway sends for jobs."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any, Mapping, Optional, Union

from ._errors import WebhookVerificationError

# DEFAULT_TOLERANCE is how far webhook-timestamp may be from now, in
# seconds, either way: it bounds how long a captured delivery can be replayed.
DEFAULT_TOLERANCE = 300

SECRET_PREFIX = "whsec_"


def _secret_bytes(secret: Union[str, bytes]) -> bytes:
    if isinstance(secret, bytes):
        return secret
    s = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError) as e:
        raise WebhookVerificationError("webhook secret is not base64 (whsec_...)") from e


def sign_webhook(msg_id: str, timestamp: int, body: Union[str, bytes], secret: Union[str, bytes]) -> str:
    """sign_webhook returns the ``v1,<signature>`` entry for one message (useful to test receivers)."""
    payload = body.encode() if isinstance(body, str) else body
    signed = f"{msg_id}.{timestamp}.".encode() + payload
    mac = hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify_webhook(body: Union[str, bytes], headers: Mapping[str, str], secret: Union[str, bytes], *,
                   tolerance: int = DEFAULT_TOLERANCE, now: Optional[float] = None) -> Any:
    """verify_webhook checks a delivery's signature and timestamp and returns its decoded JSON payload.

    ``body`` must be the raw bytes as received: re-serialised JSON will not
    verify. ``secret`` is the endpoint's ``whsec_...`` secret. Any ``v1``
    signature in ``webhook-signature`` may match, so deliveries verify during
    a secret rotation. Raises :class:`WebhookVerificationError` otherwise.
    Deduplicate on ``webhook-id``: it is the same on every retry.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, ts, sigs = lower.get("webhook-id"), lower.get("webhook-timestamp"), lower.get("webhook-signature")
    if not msg_id or not ts or not sigs:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        timestamp = int(ts)
    except ValueError as e:
        raise WebhookVerificationError("webhook-timestamp is not an integer") from e
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise WebhookVerificationError("webhook timestamp too old")
    if timestamp > current + tolerance:
        raise WebhookVerificationError("webhook timestamp too new")
    expected = sign_webhook(msg_id, timestamp, body, secret).split(",", 1)[1].encode()
    for entry in sigs.split(" "):
        version, _, sig = entry.partition(",")
        if version == "v1" and hmac.compare_digest(sig.encode(), expected):
            raw = body.decode() if isinstance(body, bytes) else body
            try:
                return json.loads(raw)
            except ValueError as e:
                raise WebhookVerificationError("webhook body is not JSON") from e
    raise WebhookVerificationError("no matching webhook signature")
