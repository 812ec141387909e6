"""Alert channels: how a message is signed, sent and judged accepted by each service (webhook with
an HMAC signature, Telegram, DingTalk 加签, Feishu/Lark 签名校验, WeCom). ``send`` never raises.

Django-free; ``alerts`` decides what to send and when.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from .http import Deadline, FetchError, HttpPolicy, make_session, parse_json_body, redact_url

SEND_POLICY = HttpPolicy(connect_timeout=3, read_timeout=5, retries=0, backoff=0.2, deadline=8)


@dataclass
class Channel:
    """One destination. ``kind``: webhook | telegram | dingtalk | feishu | wecom."""

    kind: str
    url: str
    secret: str = ""
    chat_id: str = ""

    @property
    def name(self) -> str:
        return self.kind


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot 加签: base64(HmacSHA256(key=secret, msg="{timestamp}\\n{secret}")), URL-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu/Lark custom bot: base64(HmacSHA256(key="{timestamp}\\n{secret}", msg=empty))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def build_request(channel: Channel, text: str, now: float) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(url, JSON body, extra headers) for ``channel``, signed as the service requires."""
    if channel.kind == "telegram":
        return channel.url, {"chat_id": channel.chat_id, "text": text, "disable_web_page_preview": True}, {}
    if channel.kind == "dingtalk":
        url = channel.url
        if channel.secret:
            ts = int(now * 1000)
            url += f"{'&' if '?' in url else '?'}timestamp={ts}&sign={dingtalk_sign(channel.secret, ts)}"
        return url, {"msgtype": "text", "text": {"content": text}}, {}
    if channel.kind == "feishu":
        body: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
        if channel.secret:
            ts = int(now)
            body = {"timestamp": str(ts), "sign": feishu_sign(channel.secret, ts), **body}
        return channel.url, body, {}
    if channel.kind == "wecom":
        return channel.url, {"msgtype": "text", "text": {"content": text}}, {}
    body = {"source": "liqsite", "text": text, "time": int(now)}
    headers = {}
    if channel.secret:
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers["X-Liqsite-Signature"] = "sha256=" + hmac.new(channel.secret.encode(), raw, hashlib.sha256).hexdigest()
    return channel.url, body, headers


def _accepted(channel: Channel, status: int, body: Any) -> str | None:
    """None when the service accepted the message, else why not (services answer errors with 200)."""
    if not 200 <= status < 300:
        return f"HTTP {status}"
    if channel.kind == "telegram":
        return None if isinstance(body, dict) and body.get("ok") is True else f"Telegram said {str(body)[:200]}"
    if channel.kind in ("dingtalk", "wecom"):
        return None if isinstance(body, dict) and body.get("errcode") == 0 else f"{channel.kind} said {str(body)[:200]}"
    if channel.kind == "feishu":
        code = body.get("code", body.get("StatusCode")) if isinstance(body, dict) else None
        return None if code == 0 else f"Feishu said {str(body)[:200]}"
    return None


def send(
    channel: Channel, text: str, now: float, session_factory: Callable[[], requests.Session] | None = None
) -> str | None:
    """Deliver ``text`` to one channel; None on success, else the reason (redacted). Never raises:
    whatever a service answers (a body that is not the gzip it claims, a malformed ``Location``, a
    reset) is that channel's failure, told in one line."""
    url = channel.url
    session: requests.Session | None = None
    try:
        url, body, headers = build_request(channel, text, now)
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        deadline = Deadline(SEND_POLICY.deadline)
        session = session_factory() if session_factory else make_session(SEND_POLICY, deadline)
        response = session.post(
            url,
            data=raw,
            headers={"Content-Type": "application/json; charset=utf-8", **headers},
            timeout=(SEND_POLICY.connect_timeout, SEND_POLICY.read_timeout),
            allow_redirects=False,
            stream=True,
        )
        with response:
            content = response.raw.read(100_000, decode_content=True) or b""
        try:
            parsed = parse_json_body(content, url, response.status_code) if content.strip() else {}
        except FetchError:
            parsed = {}
        return _accepted(channel, response.status_code, parsed)
    except Exception as e:  # requests, urllib3 (DecodeError), ValueError from a hostile redirect…
        return f"{redact_url(url)}: {e.__class__.__name__}"
    finally:
        if session is not None:
            session.close()
