"""The one place outbound HTTP policy lives: timeouts, retries, a total deadline, size caps.

``make_session`` builds a ``requests.Session`` whose retries (urllib3 ``Retry``) cover connection
errors, 429 and 5xx only, with jittered exponential back-off and a capped ``Retry-After``, and
never sleep past the run's deadline. ``get_json`` performs one GET under a ``Deadline``: the body is
streamed so a server that drips bytes cannot hold the run past it, the body size is capped,
redirects are never followed (an upstream must not be able to send the collector to another host),
and the JSON is parsed strictly (no NaN/Infinity, no numbers that overflow).

Every failure, whatever raised it (requests, urllib3, the standard library's URL parsing of a
hostile ``Location``, the JSON parser), is raised as ``FetchError`` with a message fit for a log
line and a short ``kind`` fit for a public answer; URLs in messages are passed through
``redact_url`` so credentials (userinfo, secret-looking query values, token path segments) never
reach a log.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util.retry import Retry

from .records import RecordError, loads_strict
from .redact import redact_text, redact_url, strip_urls

USER_AGENT = "liqsite-collector/1.0 (+https://github.com/liqsite)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class FetchError(Exception):
    """An upstream request failed. ``str()`` is one log-ready sentence; ``url`` is redacted.

    ``kind`` is a short, URL-free word for public answers: refused, timeout, dns, http-status,
    redirect, too-large, not-json, deadline, bad-answer.
    """

    def __init__(self, url: str, reason: str, *, status: int | None = None, kind: str = "bad-answer") -> None:
        super().__init__(f"{redact_url(url)}: {redact_text(reason)}")
        self.url = redact_url(url)
        self.reason = redact_text(reason)
        self.status = status
        self.kind = kind


@dataclass(frozen=True)
class HttpPolicy:
    """Tunable limits; the collector builds one from settings, tests from small numbers."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    retries: int = 3
    backoff: float = 0.5
    retry_after_max: float = 30.0
    deadline: float = 45.0
    max_bytes: int = 4 * 1024 * 1024


class Deadline:
    """A monotonic point in time by which a whole run must be over."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0


class DeadlineRetry(Retry):
    """A urllib3 ``Retry`` that gives up instead of sleeping past ``deadline`` (monotonic time).

    When the next wait (``Retry-After``, capped, or the jittered back-off) would end after the
    deadline, ``increment`` raises ``MaxRetryError`` as if retries were exhausted: for a status
    retry urllib3 then returns the last response, for a connection error it raises.
    """

    def __init__(self, *args: Any, deadline: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def new(self, **kw: Any) -> DeadlineRetry:
        kw.setdefault("deadline", self.deadline)
        return super().new(**kw)

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        if self.deadline is not None:
            wait = None
            if response is not None and new.respect_retry_after_header:
                wait = new.get_retry_after(response)
            if wait is None:
                wait = new.get_backoff_time()
            if time.monotonic() + wait >= self.deadline:
                raise MaxRetryError(
                    _pool, url or "", ResponseError(f"next retry in {wait:.0f} s would pass the deadline")
                ) from error
        return new


class DeadlineExceeded(Exception):
    """The hard deadline of ``hard_deadline`` fired."""


class _Alarm(BaseException):
    # A BaseException, so no ``except Exception`` inside requests or urllib3 can swallow it.
    pass


@contextmanager
def hard_deadline(seconds: float, what: str) -> Iterator[None]:
    """Interrupt the block after ``seconds`` with DeadlineExceeded (SIGALRM; main thread only).

    The backstop for what socket timeouts cannot bound: a server sending its status line and
    headers a byte at a time, a slow DNS lookup, a retry started just before the soft deadline.
    Elsewhere than the main thread it does nothing.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise _Alarm

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Alarm:
        raise DeadlineExceeded(f"{what}: gave up after the {seconds:g} s time budget") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def make_session(policy: HttpPolicy, deadline: Deadline | None = None) -> requests.Session:
    """A session with the retry policy mounted for http and https. Use one per run."""
    retry = DeadlineRetry(
        total=policy.retries,
        connect=policy.retries,
        read=policy.retries,
        status=policy.retries,
        other=0,
        redirect=0,
        allowed_methods=frozenset({"GET", "POST"}),  # POST only for read-only query endpoints
        status_forcelist=RETRY_STATUSES,
        backoff_factor=policy.backoff,
        backoff_jitter=policy.backoff,
        backoff_max=max(policy.backoff * 8, policy.backoff),
        retry_after_max=int(policy.retry_after_max),
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
        deadline=deadline.at if deadline else None,
    )
    session = requests.Session()
    session.trust_env = False  # proxies and .netrc from the environment are not our configuration
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    return session


def get_json(
    session: requests.Session,
    url: str,
    policy: HttpPolicy,
    deadline: Deadline,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
) -> tuple[int, Any]:
    """GET ``url`` (POST ``json_body`` when given: read-only query APIs such as a venue's
    ``/info``) and return ``(status, parsed JSON)`` for any status the caller may interpret.

    2xx, 401, 403 and 429 bodies are parsed and returned (upstreams put their error codes in
    the body); any other status, a redirect, a body over ``policy.max_bytes``, a body that is not
    strict JSON, or running past ``deadline`` raises FetchError.
    """
    full_url = url if not params else f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
    if deadline.expired():
        raise FetchError(full_url, f"time budget of {deadline.seconds:g} s used up before the request", kind="deadline")
    timeout = (
        max(0.05, min(policy.connect_timeout, deadline.remaining())),
        max(0.05, min(policy.read_timeout, deadline.remaining())),
    )
    try:
        if json_body is None:
            resp = session.get(full_url, headers=headers, timeout=timeout, stream=True, allow_redirects=False)
        else:
            resp = session.post(
                full_url, json=json_body, headers=headers, timeout=timeout, stream=True, allow_redirects=False
            )
    except requests.RequestException as e:
        reason, kind = _describe_request_error(e, timeout)
        raise FetchError(full_url, reason, kind=kind) from e
    except Exception as e:
        # requests and urllib3 let some errors out unwrapped: a ValueError from parsing a hostile
        # redirect Location ("http://[::1/x", a port of 99999), LocationParseError, UnicodeError.
        raise FetchError(full_url, f"the request failed: {_root_reason(e)}") from e

    with resp:
        status = resp.status_code
        attempts = 1 + len(getattr(getattr(resp.raw, "retries", None), "history", ()) or ())
        if 300 <= status < 400:
            where = redact_url(resp.headers.get("Location", "?"))
            raise FetchError(
                full_url,
                f"HTTP {status} redirect to {where} not followed; configure the final URL instead",
                status=status,
                kind="redirect",
            )
        if status not in (401, 403, 429) and not 200 <= status < 300:
            detail = f" after {attempts} attempts" if attempts > 1 else ""
            retry_after = resp.headers.get("Retry-After")
            if retry_after:
                detail += f" (Retry-After: {retry_after[:20]})"
            raise FetchError(
                full_url, f"HTTP {status} {resp.reason or ''}".rstrip() + detail, status=status, kind="http-status"
            )
        body = _read_body(resp, full_url, policy, deadline)
    parsed = parse_json_body(body, full_url, status)
    for record in _RECORDERS:
        record(redact_url(full_url), status, parsed)
    return status, parsed


#: Callbacks ``(redacted url, status, parsed body)`` told of every answer ``get_json`` returns (see ``recording``).
_RECORDERS: list[Callable[[str, int, Any], None]] = []


@contextmanager
def recording(callback: Callable[[str, int, Any], None]) -> Iterator[None]:
    """Within the block, tell ``callback`` of every parsed answer (``check_sources --record``)."""
    _RECORDERS.append(callback)
    try:
        yield
    finally:
        _RECORDERS.remove(callback)


def parse_json_body(body: bytes, url: str, status: int | None = None) -> Any:
    """Strictly parse a JSON body, with a message that says what the body was instead."""
    text = body.lstrip()
    if not text:
        raise FetchError(url, f"empty body (HTTP {status})", status=status, kind="not-json")
    if text[:1] == b"<":
        raise FetchError(url, "got an HTML page instead of JSON; is the URL right?", status=status, kind="not-json")
    try:
        return loads_strict(body.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise FetchError(url, "body is not UTF-8 text", status=status, kind="not-json") from e
    except RecordError as e:
        raise FetchError(url, f"JSON holds {e}", status=status, kind="not-json") from e
    except (ValueError, RecursionError) as e:
        raise FetchError(url, f"invalid JSON: {str(e)[:200]}", status=status, kind="not-json") from e


def _read_body(resp: requests.Response, url: str, policy: HttpPolicy, deadline: Deadline) -> bytes:
    declared = resp.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > policy.max_bytes:
        raise FetchError(url, f"body of {declared} bytes is over the {policy.max_bytes}-byte cap", kind="too-large")
    sock = _socket_of(resp)
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise FetchError(
                url,
                f"body not complete within the {deadline.seconds:g} s time budget ({size} bytes read)",
                kind="deadline",
            )
        if sock is not None:
            # Bound each socket wait by what is left of the budget, so a server dripping one byte
            # at a time cannot keep the run going past its deadline.
            sock.settimeout(max(0.01, min(policy.read_timeout, remaining)))
        try:
            chunk = resp.raw.read1(64 * 1024, decode_content=True)
        except Exception as e:  # urllib3 wraps socket timeouts and resets in several classes
            if deadline.expired():
                raise FetchError(
                    url,
                    f"body not complete within the {deadline.seconds:g} s time budget ({size} bytes read)",
                    kind="deadline",
                ) from e
            raise FetchError(url, f"reading the body failed: {_root_reason(e)}") from e
        if not chunk:
            break
        size += len(chunk)
        if size > policy.max_bytes:
            raise FetchError(url, f"body over the {policy.max_bytes}-byte cap", kind="too-large")
        chunks.append(chunk)
    return b"".join(chunks)


def _socket_of(resp: requests.Response) -> Any:
    connection = getattr(resp.raw, "connection", None)
    return getattr(connection, "sock", None)


def _chain(e: BaseException) -> list[BaseException]:
    """The exception and the reasons/causes nested in it (requests wraps urllib3 wraps socket)."""
    seen: list[BaseException] = []
    current: BaseException | None = e
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        inner = getattr(current, "reason", None)
        if not isinstance(inner, BaseException) and current.args and isinstance(current.args[0], BaseException):
            inner = current.args[0]
        current = inner if isinstance(inner, BaseException) else current.__cause__
    return seen


def _describe_request_error(e: BaseException, timeout: tuple[float, float]) -> tuple[str, str]:
    """(sentence, kind) for a requests exception."""
    chain = _chain(e)
    text = " ".join(str(x) for x in chain)
    # urllib3's NewConnectionError subclasses ConnectTimeoutError, so look for a refusal first.
    if "Connection refused" in text or any(isinstance(x, ConnectionRefusedError) for x in chain):
        return "connection refused", "refused"
    kinds = {type(x) for x in chain}
    if any(issubclass(k, ConnectTimeoutError) and not issubclass(k, NewConnectionError) for k in kinds):
        return f"connect timeout after {timeout[0]:g} s", "timeout"
    if any(issubclass(k, ReadTimeoutError) for k in kinds) or isinstance(e, requests.exceptions.ReadTimeout):
        return f"read timeout: no answer within {timeout[1]:g} s", "timeout"
    for x in chain:
        if isinstance(x, ResponseError):
            return f"gave up retrying: {x}", "http-status"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "host name does not resolve", "dns"
    return _root_reason(e), "bad-answer"


def _root_reason(e: BaseException) -> str:
    """The innermost reason of a requests/urllib3 exception chain, in a few words."""
    seen = _chain(e)[-1]
    return redact_text(f"{seen.__class__.__name__}: {seen}")[:300]


def public_error(error: BaseException | str) -> str:
    """A short account of a failure fit for a public answer: no URL (not even redacted), no path.

    For a FetchError its kind and HTTP status (``timeout``, ``http-status 503``); otherwise the
    exception's class and the first words of its message with every URL replaced by ``<url>``."""
    if isinstance(error, FetchError):
        return error.kind + (f" {error.status}" if error.kind == "http-status" and error.status else "")
    text = error if isinstance(error, str) else f"{error.__class__.__name__}: {error}"
    return strip_urls(text)[:160]
