"""The asynchronous client: the same methods as Modelgate, awaited."""

from __future__ import annotations

import sys
import asyncio
import time
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Literal, Mapping, Optional, Sequence, TypeVar, Union, overload

import httpx

from . import _calls as calls
from ._base import (DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_DELAY, DEFAULT_TIMEOUT, APIResponse, ClientOptions,
                    DeprecationNotices, RetryPolicy, Timeout, capture, copy_options, idempotency_key, parse_body,
                    document, flag, request_headers, resolve_options, should_retry, start_capture, stop_capture)
from ._calls import Call, RequestOptions
from ._errors import APIConnectionError, APITimeoutError, WaitTimeoutError, retry_after_seconds, status_error
from ._streaming import AsyncStream
from .types import (ChatCompletion, ChatCompletionChunk, Completion, DeliveryList, InferResponse, Job, JobList,
                    ModelList, ModelMetadata, PredictResponse, PredictV1Response, Redelivery, ServerMetadata,
                    TextModel, TextModelList)

T = TypeVar("T")

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # pragma: no cover
    from typing_extensions import Unpack


class AsyncModelgate:
    """AsyncModelgate is the asyncio client of a modelgate gateway.

    The key comes from ``api_key`` or ``MODELGATE_API_KEY``, the address from
    ``base_url`` or ``MODELGATE_BASE_URL`` (default http://localhost:8080).
    Failed calls are retried ``max_retries`` times on connection errors,
    408, 409, 429 and 5xx, waiting as the server's Retry-After says (up to
    ``max_retry_delay`` seconds) or backing off exponentially with jitter.
    """

    def __init__(self, *, api_key: Optional[str] = None, base_url: Optional[str] = None,
                 timeout: Timeout = DEFAULT_TIMEOUT, max_retries: int = DEFAULT_MAX_RETRIES,
                 max_retry_delay: float = DEFAULT_MAX_RETRY_DELAY, warn_deprecations: bool = True,
                 default_headers: Optional[Mapping[str, str]] = None,
                 http_client: Optional[httpx.AsyncClient] = None) -> None:
        self._options = resolve_options(api_key, base_url, timeout, max_retries, max_retry_delay,
                                        warn_deprecations, default_headers)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(follow_redirects=False)
        self._policy = RetryPolicy(self._options.max_retry_delay)
        self._notices = DeprecationNotices()
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self.models = Models(self)
        self.server = Server(self)
        self.chat = Chat(self)
        self.completions = Completions(self)
        self.text_models = TextModels(self)
        self.jobs = Jobs(self)

    @property
    def options(self) -> ClientOptions:
        return self._options

    def with_options(self, *, timeout: Timeout = None, max_retries: Optional[int] = None,
                     max_retry_delay: Optional[float] = None) -> "AsyncModelgate":
        """with_options returns a client sharing this one's connections, with some settings changed."""
        o = copy_options(self._options, timeout=timeout, max_retries=max_retries, max_retry_delay=max_retry_delay)
        c = AsyncModelgate(api_key=o.api_key, base_url=o.base_url, timeout=o.timeout, max_retries=o.max_retries,
                      max_retry_delay=o.max_retry_delay, warn_deprecations=o.warn_deprecations,
                      default_headers=o.default_headers, http_client=self._http)
        c._owns_http, c._notices, c._sleep = False, self._notices, self._sleep
        c._policy.rng = self._policy.rng
        return c

    @property
    def with_raw_response(self) -> Any:
        """with_raw_response gives the same methods, returning :class:`APIResponse` (headers, status, parse())."""
        return _RawProxy(self)

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> "AsyncModelgate":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def predict(self, *, model: str, inputs: Sequence[Mapping[str, float]], version: Optional[str] = None,
                return_probabilities: Optional[bool] = None, model_version: Optional[str] = None,
                cache_control: Optional[str] = None, extra_body: Optional[Mapping[str, Any]] = None,
                **opts: Unpack[RequestOptions]) -> PredictResponse:
        """predict scores a batch of rows with a named model (POST /v2/predict)."""
        c = calls.predict(model, inputs, version, return_probabilities, model_version, cache_control, extra_body)
        return await self._json(c, opts, PredictResponse.from_dict)

    async def predict_v1(self, *, inputs: Sequence[Mapping[str, float]], version: Optional[str] = None,
                   model_version: Optional[str] = None, cache_control: Optional[str] = None,
                   **opts: Unpack[RequestOptions]) -> PredictV1Response:
        """predict_v1 calls the deprecated default-model route (POST /v1/predict)."""
        c = calls.predict_v1(inputs, version, model_version, cache_control)
        return await self._json(c, opts, PredictV1Response.from_dict)

    # --- transport ---

    async def _json(self, c: Call, opts: RequestOptions, parse: Callable[[Any], T]) -> T:
        resp, retries = await self._send(c, opts, stream=False)
        out = APIResponse(resp, parse_body(resp, parse), retries)
        capture(out)
        return out.parse()

    async def _stream(self, c: Call, opts: RequestOptions) -> httpx.Response:
        resp, retries = await self._send(c, opts, stream=True)
        capture(APIResponse(resp, None, retries))
        return resp

    async def _send(self, c: Call, opts: RequestOptions, *, stream: bool) -> tuple[httpx.Response, int]:
        o = self._options
        # One key per call, reused by every retry, so the server can tell a
        # retry from a second request.
        idem = opts.get("idempotency_key") or (idempotency_key() if c.method != "GET" else None)
        headers = request_headers(o, c.method, {**c.headers, **opts.get("extra_headers", {})}, c.model_version, idem)
        max_retries = opts.get("max_retries", o.max_retries)
        timeout = opts.get("timeout", o.timeout)
        retries = 0
        while True:
            req = self._http.build_request(c.method, o.base_url + c.path, json=c.json, params=c.params,
                                           headers=headers, timeout=timeout)
            if retries:
                req.headers["x-retry-count"] = str(retries)
            try:
                resp = await self._http.send(req, stream=stream)
            except httpx.TimeoutException as e:
                if retries < max_retries:
                    await self._sleep(self._policy.delay(retries, None) or 0.0)
                    retries += 1
                    continue
                raise APITimeoutError(request=req) from e
            except httpx.TransportError as e:
                if retries < max_retries:
                    await self._sleep(self._policy.delay(retries, None) or 0.0)
                    retries += 1
                    continue
                raise APIConnectionError(f"connection error: {e}", request=req) from e
            if resp.status_code >= 400:
                # Error bodies are small; read them (streams too) so the
                # retry decision can see the problem type.
                await resp.aread()
                if retries < max_retries and should_retry(resp):
                    wait = self._policy.delay(retries, resp)
                    if wait is not None:
                        await resp.aclose()
                        await self._sleep(wait)
                        retries += 1
                        continue
                if stream:
                    await resp.aclose()
                raise status_error(resp)
            self._notices.check(o.warn_deprecations, c.method, c.route, resp)
            return resp, retries


class _RawProxy:
    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return _RawProxy(attr)

        async def call(*args: Any, **kwargs: Any) -> Any:
            sink, token = start_capture()
            try:
                result = await attr(*args, **kwargs)
            finally:
                stop_capture(token)
            if isinstance(result, AsyncStream):
                return result
            resp = sink[-1]
            return APIResponse(resp.http_response, result, resp.retries)

        return call


class Models:
    """Models covers the catalog and the Open Inference Protocol model routes."""

    def __init__(self, client: AsyncModelgate) -> None:
        self._c = client

    async def list(self, **opts: Unpack[RequestOptions]) -> ModelList:
        """list returns the catalog: every model with its versions and aliases (GET /v2/models)."""
        return await self._c._json(calls.list_models(), opts, ModelList.from_dict)

    async def metadata(self, model: str, *, version: Optional[str] = None,
                 **opts: Unpack[RequestOptions]) -> ModelMetadata:
        """metadata returns a model's tensor metadata, of one version or alias when given."""
        return await self._c._json(calls.metadata(model, version), opts, ModelMetadata.from_dict)

    async def ready(self, model: str, *, version: Optional[str] = None, **opts: Unpack[RequestOptions]) -> bool:
        """ready says whether the model (or version) can serve."""
        return await self._c._json(calls.ready(model, version), opts, flag("ready", True))

    async def infer(self, model: str, *, inputs: Sequence[Mapping[str, Any]], version: Optional[str] = None,
              id: Optional[str] = None, parameters: Optional[Mapping[str, Any]] = None,
              outputs: Optional[Sequence[Mapping[str, Any]]] = None, cache_control: Optional[str] = None,
              **opts: Unpack[RequestOptions]) -> InferResponse:
        """infer runs an Open Inference Protocol request on the model (or one version)."""
        c = calls.infer(model, inputs, version, id, parameters, outputs, cache_control)
        return await self._c._json(c, opts, InferResponse.from_dict)


class Server:
    """Server covers the Open Inference Protocol server routes."""

    def __init__(self, client: AsyncModelgate) -> None:
        self._c = client

    async def metadata(self, **opts: Unpack[RequestOptions]) -> ServerMetadata:
        """metadata returns the server's name, version and extensions (GET /v2)."""
        return await self._c._json(calls.server("/v2"), opts, ServerMetadata.from_dict)

    async def live(self, **opts: Unpack[RequestOptions]) -> bool:
        return await self._c._json(calls.server("/v2/health/live"), opts, flag("live", True))

    async def ready(self, **opts: Unpack[RequestOptions]) -> bool:
        return await self._c._json(calls.server("/v2/health/ready"), opts, flag("ready", True))

    async def gateway_health(self, **opts: Unpack[RequestOptions]) -> bool:
        """gateway_health reports whether the gateway itself answers (GET /healthz; no key needed)."""
        return await self._c._json(calls.server("/healthz"), opts, flag("status", "ok"))

    async def openapi(self, **opts: Unpack[RequestOptions]) -> dict[str, Any]:
        """openapi returns the deployment's OpenAPI document, scoped to the key's models (GET /openapi.json)."""
        return await self._c._json(calls.server("/openapi.json"), opts, document)


class ChatCompletions:
    """ChatCompletions creates OpenAI-compatible chat completions, whole or streamed."""

    def __init__(self, client: AsyncModelgate) -> None:
        self._c = client

    @overload
    async def create(self, *, model: str, messages: Iterable[Mapping[str, Any]], stream: Literal[True],
               max_tokens: Optional[int] = ..., max_completion_tokens: Optional[int] = ...,
               temperature: Optional[float] = ..., top_p: Optional[float] = ..., seed: Optional[int] = ...,
               stop: calls.StopParam = ..., include_usage: Optional[bool] = ..., model_version: Optional[str] = ...,
               extra_body: Optional[Mapping[str, Any]] = ...,
               **opts: Unpack[RequestOptions]) -> AsyncStream[ChatCompletionChunk]: ...

    @overload
    async def create(self, *, model: str, messages: Iterable[Mapping[str, Any]], stream: Literal[False] = ...,
               max_tokens: Optional[int] = ..., max_completion_tokens: Optional[int] = ...,
               temperature: Optional[float] = ..., top_p: Optional[float] = ..., seed: Optional[int] = ...,
               stop: calls.StopParam = ..., include_usage: Optional[bool] = ..., model_version: Optional[str] = ...,
               extra_body: Optional[Mapping[str, Any]] = ...,
               **opts: Unpack[RequestOptions]) -> ChatCompletion: ...

    async def create(self, *, model: str, messages: Iterable[Mapping[str, Any]], stream: bool = False,
               max_tokens: Optional[int] = None, max_completion_tokens: Optional[int] = None,
               temperature: Optional[float] = None, top_p: Optional[float] = None, seed: Optional[int] = None,
               stop: calls.StopParam = None, include_usage: Optional[bool] = None,
               model_version: Optional[str] = None, extra_body: Optional[Mapping[str, Any]] = None,
               **opts: Unpack[RequestOptions]) -> Union[ChatCompletion, AsyncStream[ChatCompletionChunk]]:
        """create generates the next assistant message; with stream=True it returns a :class:`Stream` of chunks."""
        body = calls.sampling(max_tokens, temperature, top_p, seed, stop, stream, include_usage)
        c = calls.chat(model, messages, body, max_completion_tokens, model_version, extra_body)
        if stream:
            return AsyncStream(await self._c._stream(c, opts), ChatCompletionChunk.from_dict)
        return await self._c._json(c, opts, ChatCompletion.from_dict)


class Chat:
    """Chat groups the chat routes."""

    def __init__(self, client: AsyncModelgate) -> None:
        self.completions = ChatCompletions(client)


class Completions:
    """Completions creates OpenAI-compatible plain completions, whole or streamed."""

    def __init__(self, client: AsyncModelgate) -> None:
        self._c = client

    @overload
    async def create(self, *, model: str, prompt: Union[str, Sequence[str]], stream: Literal[True],
               max_tokens: Optional[int] = ..., temperature: Optional[float] = ..., top_p: Optional[float] = ...,
               seed: Optional[int] = ..., stop: calls.StopParam = ..., include_usage: Optional[bool] = ...,
               model_version: Optional[str] = ..., extra_body: Optional[Mapping[str, Any]] = ...,
               **opts: Unpack[RequestOptions]) -> AsyncStream[Completion]: ...

    @overload
    async def create(self, *, model: str, prompt: Union[str, Sequence[str]], stream: Literal[False] = ...,
               max_tokens: Optional[int] = ..., temperature: Optional[float] = ..., top_p: Optional[float] = ...,
               seed: Optional[int] = ..., stop: calls.StopParam = ..., include_usage: Optional[bool] = ...,
               model_version: Optional[str] = ..., extra_body: Optional[Mapping[str, Any]] = ...,
               **opts: Unpack[RequestOptions]) -> Completion: ...

    async def create(self, *, model: str, prompt: Union[str, Sequence[str]], stream: bool = False,
               max_tokens: Optional[int] = None, temperature: Optional[float] = None, top_p: Optional[float] = None,
               seed: Optional[int] = None, stop: calls.StopParam = None, include_usage: Optional[bool] = None,
               model_version: Optional[str] = None, extra_body: Optional[Mapping[str, Any]] = None,
               **opts: Unpack[RequestOptions]) -> Union[Completion, AsyncStream[Completion]]:
        """create continues a prompt; with stream=True it returns a :class:`Stream` of completion events."""
        body = calls.sampling(max_tokens, temperature, top_p, seed, stop, stream, include_usage)
        c = calls.completion(model, prompt, body, model_version, extra_body)
        if stream:
            return AsyncStream(await self._c._stream(c, opts), Completion.from_dict)
        return await self._c._json(c, opts, Completion.from_dict)


class TextModels:
    """TextModels lists the text-generation models OpenAI-style (GET /v1/models)."""

    def __init__(self, client: AsyncModelgate) -> None:
        self._c = client

    async def list(self, **opts: Unpack[RequestOptions]) -> TextModelList:
        return await self._c._json(calls.text_models(), opts, TextModelList.from_dict)

    async def retrieve(self, model: str, *, model_version: Optional[str] = None,
                 **opts: Unpack[RequestOptions]) -> TextModel:
        return await self._c._json(calls.text_model(model, model_version), opts, TextModel.from_dict)


class Jobs:
    """Jobs submits asynchronous predictions and completions and follows them."""

    def __init__(self, client: AsyncModelgate) -> None:
        self._c = client

    async def submit(self, *, model: str, inputs: Optional[Sequence[Mapping[str, float]]] = None,
               messages: Optional[Iterable[Mapping[str, Any]]] = None, version: Optional[str] = None,
               return_probabilities: Optional[bool] = None, webhook: Optional[str] = None,
               webhook_events_filter: Optional[Sequence[str]] = None, metadata: Optional[Mapping[str, str]] = None,
               wait: Optional[int] = None, model_version: Optional[str] = None,
               extra_body: Optional[Mapping[str, Any]] = None, **opts: Unpack[RequestOptions]) -> Job:
        """submit queues a job (POST /v2/jobs); ``wait`` asks the server to hold up to that many seconds for it to finish."""
        c = calls.submit_job(model, inputs, messages, version, return_probabilities, webhook,
                             webhook_events_filter, metadata, wait, model_version, extra_body)
        return await self._c._json(c, opts, Job.from_dict)

    async def get(self, job_id: str, **opts: Unpack[RequestOptions]) -> Job:
        return await self._c._json(calls.get_job(job_id), opts, Job.from_dict)

    async def list(self, *, status: Optional[str] = None, limit: Optional[int] = None, cursor: Optional[str] = None,
             **opts: Unpack[RequestOptions]) -> JobList:
        """list returns one page of this client's jobs, newest first; pass next_cursor for the next."""
        return await self._c._json(calls.list_jobs(status, limit, cursor), opts, JobList.from_dict)

    async def iter(self, *, status: Optional[str] = None, limit: Optional[int] = None,
                   **opts: Unpack[RequestOptions]) -> AsyncIterator[Job]:
        """iter yields every job across pages, fetching the next page only when needed."""
        cursor: Optional[str] = None
        while True:
            page = await self.list(status=status, limit=limit, cursor=cursor, **opts)
            for job in page.data:
                yield job
            cursor = page.next_cursor
            if not cursor:
                return

    async def cancel(self, job_id: str, **opts: Unpack[RequestOptions]) -> Job:
        return await self._c._json(calls.cancel_job(job_id), opts, Job.from_dict)

    async def deliveries(self, job_id: str, **opts: Unpack[RequestOptions]) -> DeliveryList:
        """deliveries lists the webhook delivery attempts of a job."""
        return await self._c._json(calls.deliveries(job_id), opts, DeliveryList.from_dict)

    async def redeliver(self, job_id: str, delivery_id: str, **opts: Unpack[RequestOptions]) -> Redelivery:
        return await self._c._json(calls.redeliver(job_id, delivery_id), opts, Redelivery.from_dict)

    async def wait(self, job_id: str, *, timeout: float = 600.0, poll_interval: float = 1.0) -> Job:
        """wait polls the job until it is finished, sleeping as the server's Retry-After says.

        It raises :class:`WaitTimeoutError` (carrying the last job seen) after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            raw: APIResponse[Job] = await self._c.with_raw_response.jobs.get(job_id)
            job = raw.parse()
            if job.done:
                return job
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeoutError(job)
            hinted = retry_after_seconds(raw.headers)
            await self._c._sleep(min(hinted if hinted is not None else poll_interval, remaining))
