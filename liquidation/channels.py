"""Alert channels: where a message goes and how it is judged delivered. ``Channel.send`` never raises.

Most destinations are Apprise URLs (``ALERT_URLS``: Telegram, DingTalk, WeCom, Feishu/Lark, Bark,
ServerChan, PushPlus, WxPusher, PushDeer, QQ, Discord, Slack, ntfy, Gotify, e-mail and ~150 more):
``AppriseChannel``, one per URL. Our own delivery code remains, one class per service, only where Apprise
cannot do it or where operators' existing variables must keep working unchanged:

- ``Webhook``: a generic JSON POST signed with ``X-Liqsite-Signature`` (HMAC-SHA256 of the body); Apprise's
  ``json://`` cannot sign a body.
- ``Feishu``: Feishu/Lark 签名校验 (a signed body); Apprise 2.2's Feishu plugin does not sign.
- ``Telegram``, ``DingTalk``, ``WeCom``: the legacy ``ALERT_TELEGRAM_*`` (custom API host included),
  ``ALERT_DINGTALK_*`` and ``ALERT_WECOM_WEBHOOK`` variables, kept until a later release removes them
  (``ALERT_URLS`` does the same with ``tgram://``, ``dingtalk://``, ``wecombot://``).

Django-free; ``alerts`` decides what to send and when.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from .http import Deadline, FetchError, HttpPolicy, make_session, parse_json_body
from .redact import redact_text, redact_url

SEND_POLICY = HttpPolicy(connect_timeout=3, read_timeout=5, retries=0, backoff=0.2, deadline=8)
#: Apprise services whose messages go as Markdown (the rest as plain text).
MARKDOWN_SERVICES = frozenset({"dingtalk", "wecombot", "tgram"})


@dataclass(frozen=True)
class Message:
    """One alert in the two forms services take: ``text`` (plain, its first line the title) and
    ``markdown`` (headings and emphasis), with ``title`` on its own for services that show one."""

    title: str
    text: str
    markdown: str


class Channel:
    """A destination. ``name`` keys its outbox and names it in logs and ``test_alert`` (never a secret)."""

    name: str = "channel"

    def render(self, message: Message) -> dict[str, str]:
        """What to queue for this channel: the form it sends (the outbox keeps it as sent)."""
        return {"title": message.title, "text": message.text}

    def send(self, item: dict[str, str], now: float) -> str | None:
        """Deliver one queued ``item``; None on success, else why not (redacted). Never raises."""
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


# -- our own delivery code -----------------------------------------------------------------------------


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot 加签: base64(HmacSHA256(key=secret, msg="{timestamp}\\n{secret}")), URL-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu/Lark custom bot: base64(HmacSHA256(key="{timestamp}\\n{secret}", msg=empty))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class HttpChannel(Channel):
    """A JSON POST we build and sign ourselves; subclasses say the body and what counts as accepted."""

    def __init__(self, url: str, secret: str = "", chat_id: str = "") -> None:
        self.url, self.secret, self.chat_id = url, secret, chat_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact_url(self.url)!r})"

    def describe(self) -> str:
        return f"{self.name} {redact_url(self.url)}"

    def request(self, text: str, now: float) -> tuple[str, dict[str, Any], dict[str, str]]:
        """(url, JSON body, extra headers), signed as the service requires."""
        raise NotImplementedError

    def accepted(self, status: int, body: Any) -> str | None:
        """None when the service accepted the message, else why not (most answer errors with 200)."""
        return None if 200 <= status < 300 else f"HTTP {status}"

    def send(
        self, item: dict[str, str], now: float, session_factory: Callable[[], requests.Session] | None = None
    ) -> str | None:
        """Whatever a service answers (a body that is not the gzip it claims, a malformed ``Location``, a
        reset) is this channel's failure, told in one line."""
        url = self.url
        session: requests.Session | None = None
        try:
            url, body, headers = self.request(item["text"], now)
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
            return self.accepted(response.status_code, parsed)
        except Exception as e:  # requests, urllib3 (DecodeError), ValueError from a hostile redirect…
            return f"{redact_url(url)}: {e.__class__.__name__}"
        finally:
            if session is not None:
                session.close()


class Webhook(HttpChannel):
    name = "webhook"

    def request(self, text: str, now: float) -> tuple[str, dict[str, Any], dict[str, str]]:
        body = {"source": "liqsite", "text": text, "time": int(now)}
        headers = {}
        if self.secret:
            raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            headers["X-Liqsite-Signature"] = "sha256=" + hmac.new(self.secret.encode(), raw, hashlib.sha256).hexdigest()
        return self.url, body, headers


class Telegram(HttpChannel):
    name = "telegram"

    def request(self, text: str, now: float) -> tuple[str, dict[str, Any], dict[str, str]]:
        return self.url, {"chat_id": self.chat_id, "text": text, "disable_web_page_preview": True}, {}

    def accepted(self, status: int, body: Any) -> str | None:
        if not 200 <= status < 300:
            return f"HTTP {status}"
        return None if isinstance(body, dict) and body.get("ok") is True else f"Telegram said {str(body)[:200]}"


class DingTalk(HttpChannel):
    name = "dingtalk"

    def request(self, text: str, now: float) -> tuple[str, dict[str, Any], dict[str, str]]:
        url = self.url
        if self.secret:
            ts = int(now * 1000)
            url += f"{'&' if '?' in url else '?'}timestamp={ts}&sign={dingtalk_sign(self.secret, ts)}"
        return url, {"msgtype": "text", "text": {"content": text}}, {}

    def accepted(self, status: int, body: Any) -> str | None:
        if not 200 <= status < 300:
            return f"HTTP {status}"
        return None if isinstance(body, dict) and body.get("errcode") == 0 else f"{self.name} said {str(body)[:200]}"


class WeCom(DingTalk):
    name = "wecom"

    def request(self, text: str, now: float) -> tuple[str, dict[str, Any], dict[str, str]]:
        return self.url, {"msgtype": "text", "text": {"content": text}}, {}


class Feishu(HttpChannel):
    name = "feishu"

    def request(self, text: str, now: float) -> tuple[str, dict[str, Any], dict[str, str]]:
        body: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
        if self.secret:
            ts = int(now)
            body = {"timestamp": str(ts), "sign": feishu_sign(self.secret, ts), **body}
        return self.url, body, {}

    def accepted(self, status: int, body: Any) -> str | None:
        if not 200 <= status < 300:
            return f"HTTP {status}"
        code = body.get("code", body.get("StatusCode")) if isinstance(body, dict) else None
        return None if code == 0 else f"Feishu said {str(body)[:200]}"


LEGACY: dict[str, type[HttpChannel]] = {c.name: c for c in (Webhook, Telegram, DingTalk, Feishu, WeCom)}


# -- Apprise ----------------------------------------------------------------------------------------------


class AlertUrlError(ValueError):
    """An ``ALERT_URLS`` entry Apprise does not know; the message names it (redacted) and what to do."""


class AppriseChannel(Channel):
    """One Apprise URL. Apprise's own timeouts are capped to ours (``cto``/``rto``) and its retries turned
    off; ``alerts`` bounds each send again with a hard deadline. The failure reason is Apprise's own log
    line for this send, with secrets taken out."""

    def __init__(self, url: str, index: int = 0) -> None:
        import apprise  # imported only when an Apprise URL is configured

        self.url = url
        self._apprise = apprise
        plugin = apprise.Apprise.instantiate(url)
        if plugin is None:
            raise AlertUrlError(
                f"ALERT_URLS entry {index + 1} ({_scheme(url)}://…) is not an Apprise URL Apprise knows: "
                "see https://github.com/caronc/apprise/wiki for each service's form"
            )
        plugin.socket_connect_timeout = min(plugin.socket_connect_timeout, SEND_POLICY.connect_timeout)
        plugin.socket_read_timeout = min(plugin.socket_read_timeout, SEND_POLICY.read_timeout)
        self.plugin = plugin
        self.scheme = _scheme(url)
        digest = hashlib.sha256(url.encode()).hexdigest()[:8]
        self.name = f"{self.scheme}-{digest}"  # stable across restarts (the outbox key), no secret in it

    def __repr__(self) -> str:
        return f"AppriseChannel({self.describe()!r})"

    def describe(self) -> str:
        return f"{self.name} {self.plugin.url(privacy=True)}"

    @property
    def markdown(self) -> bool:
        return self.scheme in MARKDOWN_SERVICES

    def render(self, message: Message) -> dict[str, str]:
        if self.markdown:
            return {"title": message.title, "text": message.markdown, "format": "markdown"}
        body = message.text.split("\n", 1)[1] if "\n" in message.text else message.text
        return {"title": message.title, "text": body, "format": "text"}

    def send(self, item: dict[str, str], now: float) -> str | None:
        apprise = self._apprise
        fmt = apprise.NotifyFormat.MARKDOWN if item.get("format") == "markdown" else apprise.NotifyFormat.TEXT
        try:
            with apprise.LogCapture(level=apprise.logging.WARNING) as log:
                ok = self.plugin.notify(body=item["text"], title=item.get("title", ""), body_format=fmt)
            said = log.getvalue()
        except Exception as e:  # a plugin's bug is this URL's failure only
            return f"{self.name}: {e.__class__.__name__}"
        if ok:
            return None
        line = " ".join(x.split(" - ", 2)[-1] for x in said.strip().splitlines()[-2:])
        return f"{self.name}: {redact_text(self._without_secrets(line))[:300] or 'not delivered'}"

    def _without_secrets(self, text: str) -> str:
        for part in re.split(r"[/:@?&=]+", self.url.split("://", 1)[-1]):
            if len(part) >= 6:  # tokens, keys, passwords: whatever of the URL a log line may repeat
                text = text.replace(part, "…")
        return text


def _scheme(url: str) -> str:
    scheme = url.split("://", 1)[0].lower() if "://" in url else "?"
    return scheme if re.fullmatch(r"[a-z0-9+.-]{1,20}", scheme) else "?"


def split_urls(value: str) -> list[str]:
    """``ALERT_URLS``: URLs separated by newlines or by commas before the next ``scheme://`` (a comma inside a
    URL, as in ``mailto://…?to=a@x.org,b@y.org``, stays in it); blank entries and ``#`` comments dropped."""
    out = []
    for line in value.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        out.extend(p.strip() for p in re.split(r",\s*(?=[A-Za-z0-9+.-]+://)", line) if p.strip())
    return out


def apprise_channels(urls: list[str]) -> list[AppriseChannel]:
    """One channel per URL; raises AlertUrlError naming the first unknown one (by position and scheme)."""
    return [AppriseChannel(url, i) for i, url in enumerate(urls)]
