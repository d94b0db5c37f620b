"""What every byte kjob writes passes through: secrets redacted, control characters made visible.

One redactor: every secret kjob knows (a password, a token, the base64 of user:password that
basic auth sends) is replaced by `***` in each of the forms it may come back in (as given,
URL-encoded, JSON- or repr-escaped), whoever put it in the text: a server that echoes it, an
exception's message, a URL typed with it.

One sanitizer: text from a server or a file is data. Its control characters (C0, DEL, C1),
and the Unicode marks that reorder or break lines, are shown as escapes (`\\x1b`, `\\n`),
so that they cannot retitle the window, clear the screen, move the cursor or forge a line.
kjob's own lines hold none of them; a text of several lines is written line by line.

Light on purpose: errors.py uses it when it shows an error, before anything heavy is loaded.
"""

from __future__ import annotations

import re

_SECRETS: list[str] = []  # every form of every secret, longest first

# C0 and C1 controls, DEL, and the line/paragraph separators and bidirectional marks of Unicode.
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")  # what json.dumps keeps raw
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def add_secret(secret: str | None, *, user: str | None = None) -> None:
    """Remember a secret (and, with `user`, the basic-auth credentials it makes) for redaction."""
    if not secret:
        return
    import base64
    import json
    from urllib.parse import quote, quote_plus

    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), json.dumps(secret)[1:-1],
             json.dumps(secret, ensure_ascii=False)[1:-1], repr(secret)[1:-1], visible(secret)}
    if user is not None:
        pair = f"{user}:{secret}".encode()
        forms.add(base64.b64encode(pair).decode("ascii"))
        forms.add(base64.b64encode(pair).decode("ascii").rstrip("="))
    _SECRETS.extend(form for form in forms if form and form not in _SECRETS)
    _SECRETS.sort(key=len, reverse=True)


def forget_secrets() -> None:
    """Forget every secret (a new command run in the same process, as in the tests)."""
    _SECRETS.clear()


def redact(text: str) -> str:
    """`text` with every known secret replaced by ***."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def visible(text: str) -> str:
    """`text` with its control characters shown as escapes (`\\x1b`, `\\n`, `\\u202e`)."""
    if not _INVISIBLE.search(text):
        return text
    return _INVISIBLE.sub(_escape, text)


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def json_visible(text: str) -> str:
    """JSON text with the characters json.dumps leaves raw (DEL, C1, Unicode marks) as \\uXXXX:
    the same JSON value, and nothing a terminal acts on (its own C0 escapes and indentation stay)."""
    if not _JSON_RAW.search(text):
        return text
    return _JSON_RAW.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def safe(text: str) -> str:
    """What may be written where a person or a log reads it: redacted, then made visible."""
    return visible(redact(text))
