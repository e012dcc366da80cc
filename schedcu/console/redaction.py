"""Secrets in a dead letter's body hidden from read-only users, by key: the value of every key or parameter whose
name contains token, password, secret or authorization, as JSON (`"access_token": "..."`, escaped inside a string
too), a query or form string (`access_token=...`) or a header line (`Authorization: Bearer ...`). A body shown is a
preview that may end mid-value: an unterminated value is hidden to its end."""

import re

REDACTED = "[redacted]"
SECRET_VALUE = re.compile(
    r"""(?P<key>(?:\\?["'])?[\w.-]*(?:token|password|passwd|secret|authorization)[\w.-]*(?:\\?["'])?\s*[:=]\s*)"""
    r"""(?P<value>\\"(?:[^"\\]|\\[^"])*(?:\\"|$)|"(?:[^"\\]|\\.)*(?:"|$)|'[^']*(?:'|$)"""
    r"""|(?:(?:bearer|basic|token)\s+)?[^\s&#,;}"'\\]+)""",
    re.IGNORECASE,
)


def _hide(match: re.Match[str]) -> str:
    value = match["value"]
    for quote in ('\\"', '"', "'"):
        if value.startswith(quote):
            return f"{match['key']}{quote}{REDACTED}{quote}"
    return f"{match['key']}{REDACTED}"


def redact_secrets(text: str) -> str:
    return SECRET_VALUE.sub(_hide, text)
