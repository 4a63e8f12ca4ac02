"""modelgate: Python client of the modelgate model API gateway.

    from modelgate import Modelgate
    client = Modelgate(api_key="mg_...")
    out = client.predict(model="iris", inputs=[{"sepal_length": 5.1, ...}])
"""

from ._async_client import AsyncModelgate
from ._base import APIResponse, ClientOptions, ModelgateDeprecationWarning
from ._calls import RequestOptions
from ._client import Modelgate
from ._errors import (PROBLEM_TYPES, APIConnectionError, APIError, APIStatusError, APITimeoutError,
                      AuthenticationError, BadRequestError, ConflictError, ContextLengthExceededError, GoneError,
                      HeadersTooLargeError,
                      IdempotencyKeyReusedError, JobFinishedError,
                      InternalServerError, MalformedJSONError, MethodNotAllowedError, ModelgateError, NotFoundError,
                      PayloadTooLargeError, PermissionDeniedError, RateLimitError, ResponseValidationError, ServerError,
                      ServiceUnavailableError, StreamError, TooManyRowsError, UnknownModelError,
                      UnknownModelVersionError, UnprocessableEntityError, UnsupportedMediaTypeError, UpstreamError,
                      UpstreamRateLimitedError, UpstreamTimeoutError, ValidationError, Violation, WaitTimeoutError,
                      WebhookVerificationError, WrongModelKindError)
from ._operations import HELPERS, OPERATIONS
from ._streaming import AsyncStream, Stream
from ._version import __version__
from ._webhooks import sign_webhook, verify_webhook
from . import types

__all__ = [
    "AsyncModelgate", "Modelgate", "APIResponse", "ClientOptions", "ModelgateDeprecationWarning", "RequestOptions",
    "Stream", "AsyncStream", "OPERATIONS", "HELPERS", "PROBLEM_TYPES", "verify_webhook", "sign_webhook",
    "__version__", "types",
    "ModelgateError", "APIError", "ResponseValidationError", "APIConnectionError", "APITimeoutError", "APIStatusError", "BadRequestError",
    "MalformedJSONError", "ValidationError", "Violation", "WrongModelKindError", "ContextLengthExceededError",
    "AuthenticationError", "PermissionDeniedError", "NotFoundError", "UnknownModelError",
    "UnknownModelVersionError", "MethodNotAllowedError", "HeadersTooLargeError", "ConflictError", "JobFinishedError", "IdempotencyKeyReusedError", "GoneError",
    "PayloadTooLargeError",
    "TooManyRowsError", "UnsupportedMediaTypeError", "UnprocessableEntityError", "RateLimitError",
    "UpstreamRateLimitedError", "ServerError", "InternalServerError", "ServiceUnavailableError",
    "UpstreamTimeoutError", "UpstreamError", "StreamError", "WaitTimeoutError", "WebhookVerificationError",
]
