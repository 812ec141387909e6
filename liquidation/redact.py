"""Redaction: what a URL or a message may show in a log line, and nothing of a credential.

``redact_url`` removes userinfo and the fragment, and replaces with ``***`` every query value whose name
looks like a credential and the secret path segments of the services this project talks to;
``redact_text`` does the same to every URL (and bare path) inside a message; ``strip_urls`` removes them
altogether, for public answers. Django-free and dependency-free.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: Query parameter names whose values are credentials (matched anywhere in the name, any case).
_SECRET_NAME = re.compile(r"token|key|secret|pass|sig|auth|session|credential|jwt|access|private|cookie", re.I)
#: Path segments that are credentials in the services this project talks to.
_SECRET_PATHS = (
    re.compile(r"(?<=/bot)[^/?#\s]*(?::|%3A)[^/?#\s]*", re.I),  # Telegram /bot<id>:<token>/
    re.compile(r"(?<=/hook/)[^/?#\s]+"),  # Feishu/Lark /open-apis/bot/v2/hook/<id>
    re.compile(r"(?<=/api/webhooks/)[^?#\s]+"),  # Discord /api/webhooks/<id>/<token>
    re.compile(r"(?<=/services/)[^?#\s]+"),  # Slack /services/T…/B…/<secret>
)
# A long path segment mixing letters and digits is taken for a token (no API path looks like one).
_TOKENISH = re.compile(r"\A(?=[^/]*[0-9])(?=[^/]*[A-Za-z])[A-Za-z0-9_\-.~%:=]{24,}\Z")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_PARAM_IN_TEXT = re.compile(r"(?<=[?&;])([^=&\s'\"]+)=([^&\s'\"#]*)")


def redact_path(path: str) -> str:
    """``path`` with the credential segments of known services and token-like segments as ``***``."""
    for pattern in _SECRET_PATHS:
        path = pattern.sub("***", path)
    return "/".join("***" if _TOKENISH.match(segment) else segment for segment in path.split("/"))


def redact_url(url: str) -> str:
    """``url`` fit for a log line: no user:password, no fragment, ``***`` for every query value whose
    name looks like a credential (token, key, secret, pass, sig/sign, auth, session, credential, jwt,
    access…) and for the secret path segments of known services (Telegram ``bot<token>``, Feishu and
    WeCom hook ids, Discord and Slack webhook paths) or any long token-like segment."""
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname or "", parts.port
    except ValueError:
        return "<unparsable URL>"
    netloc = f"[{hostname}]" if ":" in hostname else hostname
    if port:
        netloc = f"{netloc}:{port}"
    query = urlencode(
        [(k, "***" if _SECRET_NAME.search(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)],
        safe="*",
    )
    return urlunsplit((parts.scheme, netloc, redact_path(parts.path), query, ""))


def strip_urls(text: str) -> str:
    """``text`` with every URL, and every path after a "url:", replaced by ``<url>``."""
    text = _URL_IN_TEXT.sub("<url>", text)
    return re.sub(r"(?i)(url:\s*)/\S*", r"\1<url>", text)


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted, and bare paths and query strings too (urllib3 says
    "Max retries exceeded with url: /bot<token>/sendMessage?…")."""
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group()), text)
    text = _PARAM_IN_TEXT.sub(lambda m: f"{m.group(1)}=***" if _SECRET_NAME.search(m.group(1)) else m.group(), text)
    for pattern in _SECRET_PATHS:
        text = pattern.sub("***", text)
    return text
