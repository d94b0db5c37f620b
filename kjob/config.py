"""Settings: where the clusters are, who we are, how long to wait. Read once, then frozen.

Precedence is click's own: option > environment variable > profile (loaded into the
command's default_map) > default. Secrets never come from an option: a token comes from
KJOB_TOKEN / KI_OAUTH_TOKEN or a profile's token_file; a password from --password-stdin,
KJOB_PASSWORD / KI_PWD, a profile, a URL's user:pass@, or a prompt on a terminal.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

from kjob.errors import BadInput

DEFAULT_URL = "http://localhost:9191"
DEFAULT_HTTP_TIMEOUT = 30.0

# Profile keys that are command options (their values go into click's default_map).
PROFILE_OPTIONS = {
    "url": "urls",
    "urls": "urls",
    "user": "user",
    "ca_bundle": "ca_bundle",
    "insecure": "insecure",
    "http_timeout": "http_timeout",
    "encoding": "encoding",
    "wire": "wire",
    "discover": "discover",
}
# What each option key of a profile must be, as TOML gives it (bool is not a number here).
PROFILE_TYPES = {
    "url": "urls", "urls": "urls", "user": "string", "ca_bundle": "string", "insecure": "boolean",
    "http_timeout": "number", "encoding": "string", "wire": "string", "discover": "boolean",
}
# Profile keys kjob reads itself (secrets and where to find them).
PROFILE_SECRETS = {"password", "password_file", "token", "token_file"}


class ClusterURL(NamedTuple):
    """A cluster's base URL, without credentials (those are taken out and kept apart)."""

    url: str
    user: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        return f"ClusterURL({self.url!r})"


class Settings(NamedTuple):
    """Everything the client needs, decided once in the CLI layer; never shows its secrets."""

    urls: tuple[str, ...] = (DEFAULT_URL,)
    user: str | None = None
    password: str | None = None
    token: str | None = None
    ca_bundle: str | None = None
    insecure: bool = False
    http_timeout: float = DEFAULT_HTTP_TIMEOUT
    wire: str = "binary"
    deadline: float | None = None  # time.monotonic() after which nothing new is tried
    timeout: float | None = None  # --timeout as given, which set the deadline (for messages)
    retries: int = 3
    discover: bool = False  # add the ring's other clusters, as the cluster reports them

    def __repr__(self) -> str:
        return f"Settings(urls={self.urls!r}, user={self.user!r}, auth={'token' if self.token else 'basic' if self.password else 'none'})"


class Profile:
    """A profile of the config file: option defaults plus where its secrets are."""

    def __init__(self, name: str | None = None, path: str | None = None) -> None:
        self.name = name
        self.path = path
        self.options: dict[str, Any] = {}
        self.secrets: dict[str, str] = {}
        self.warnings: list[str] = []


def seconds(value: float) -> str:
    """A number of seconds as people read it: `0.9`, `1.5`, `12` (never `0.855461`)."""
    shown = round(value, 1) if value < 10 else round(value)
    return f"{shown:g}"


def parse_cluster_url(text: str) -> ClusterURL:
    """A cluster URL checked for scheme, host and port, with any user:pass@ taken out."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    raw = text.strip()
    _, sep, rest = raw.partition("://")
    userinfo = rest.rpartition("@")[0] if sep else ""
    if "/" in userinfo and ":" in userinfo:
        raise BadInput(f"cluster URL {redact_url(raw)!r}: a '/' in its password must be written %2F"
                       " (better: set KJOB_PASSWORD, and keep passwords out of URLs)")
    if "://" not in raw:
        raise BadInput(f"cluster URL {redact_url(raw)!r} has no scheme: write http://{redact_url(raw)} or https://...")
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https"):
        raise BadInput(f"cluster URL {redact_url(raw)!r}: the scheme must be http or https")
    try:
        port = parts.port
    except ValueError:
        raise BadInput(f"cluster URL {redact_url(raw)!r} has a bad port (a number from 1 to 65535)") from None
    if not parts.hostname:
        raise BadInput(f"cluster URL {redact_url(raw)!r} has no host")
    if port == 0:
        raise BadInput(f"cluster URL {redact_url(raw)!r} has a bad port (a number from 1 to 65535)")
    if parts.query or parts.fragment:
        raise BadInput(f"cluster URL {redact_url(raw)!r} may not carry a query or a fragment")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = f"{host}:{port}" if port else host
    base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return ClusterURL(base, user, password)


def redact_url(text: str) -> str:
    """`scheme://user:secret@host` shown as `scheme://user:***@host`, even when the secret holds
    a '/' (which ends the host part for a URL parser, but not for someone reading the URL)."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    userinfo, at, host = rest.rpartition("@")
    if not at or ("/" in userinfo and ":" not in userinfo):  # no credentials; '@' in a path
        return text
    user = userinfo.split(":", 1)[0]
    shown = f"{user}:***" if ":" in userinfo else "***"
    return f"{scheme}{sep}{shown}@{host}"


def split_urls(values: tuple[str, ...] | list[str] | str | None) -> list[str]:
    """URLs from options (repeatable) or environment/profile values (comma-separated)."""
    if not values:
        return []
    if isinstance(values, str):
        values = [values]
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def state_folder(environ: Mapping[str, str]) -> str:
    """Where kjob keeps its record of submitted jobs ($XDG_STATE_HOME/kjob, ~/.local/state/kjob)."""
    base = environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "kjob")


def config_path(environ: Mapping[str, str]) -> str:
    if environ.get("KJOB_CONFIG"):
        return os.path.expanduser(environ["KJOB_CONFIG"])
    base = environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "kjob", "config.toml")


def load_profile(name: str | None, environ: Mapping[str, str]) -> Profile:
    """The named profile (or the file's default_profile) from the config file.

    A missing file is no profile, unless a profile was asked for by name.
    """
    path = config_path(environ)
    explicit = bool(environ.get("KJOB_CONFIG"))
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        if name or explicit:
            raise BadInput(f"config file {path} does not exist" + (f" (needed for profile {name!r})" if name else "")) from None
        return Profile()
    except OSError as exc:
        raise BadInput(f"cannot read config file {path}: {exc.strerror or exc}") from None
    import tomllib

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"config file {path} is not valid TOML: {exc}") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise BadInput(f"config file {path} holds a value kjob cannot read: {str(exc).split(';')[0]}") from None
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise BadInput(f"config file {path}: 'profiles' must be a table of [profiles.NAME] tables")
    chosen = name or data.get("default_profile")
    if not isinstance(chosen, (str, type(None))):
        raise BadInput(f"config file {path}: default_profile must be a string, not {_toml_type(chosen)}")
    if not chosen:
        return Profile(path=path)
    if chosen not in profiles or not isinstance(profiles[chosen], dict):
        known = ", ".join(sorted(profiles)) or "none"
        raise BadInput(f"unknown profile {chosen!r} in {path} (profiles: {known})")
    profile = Profile(name=chosen, path=path)
    for key, value in profiles[chosen].items():
        if key in PROFILE_OPTIONS:
            _check_type(path, chosen, key, value)
            profile.options[PROFILE_OPTIONS[key]] = split_urls(value) if key in ("url", "urls") else value
        elif key in PROFILE_SECRETS:
            if not isinstance(value, str):
                raise BadInput(f"config file {path}: profile {chosen!r}: {key} must be a string")
            profile.secrets[key] = value
        else:
            allowed = ", ".join(sorted({*PROFILE_OPTIONS, *PROFILE_SECRETS}))
            raise BadInput(f"config file {path}: profile {chosen!r} has an unknown key {key!r} (known: {allowed})")
    if {"password", "token"} & profile.secrets.keys() and _readable_by_others(path):
        profile.warnings.append(f"config file {path} holds a secret and is readable by others: chmod 600 {path}")
    for key, what in (("password_file", "password"), ("token_file", "token")):
        secret_file = os.path.expanduser(profile.secrets.get(key, ""))
        if secret_file and _readable_by_others(secret_file):
            profile.warnings.append(f"the {what} file {secret_file} is readable by others: chmod 600 {secret_file}")
    return profile


def _toml_type(value: Any) -> str:
    if (isinstance(value, float) and value != value) or value in (float("inf"), float("-inf")):
        return str(value)
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array", dict: "a table"}
    return next((text for kind, text in names.items() if isinstance(value, kind)), type(value).__name__)


def _check_type(path: str, profile: str, key: str, value: Any) -> None:
    """BadInput (exit 2) when a profile's value is not of its key's type, before click or kjob uses it."""
    import math

    kind = PROFILE_TYPES[key]
    fits = {
        "urls": isinstance(value, str) or (isinstance(value, list) and all(isinstance(item, str) for item in value)),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
    }[kind]
    if not fits:
        wanted = {"urls": "a string or an array of strings", "string": "a string", "boolean": "true or false",
                  "number": "a finite number of seconds"}[kind]
        raise BadInput(f"config file {path}: profile {profile!r}: {key} must be {wanted}, not {_toml_type(value)}")


def _readable_by_others(path: str) -> bool:
    try:
        return bool(os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    except OSError:
        return False


def read_secret_file(path: str, what: str) -> str:
    """A token or password kept in a file (first line, whitespace trimmed)."""
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read the {what} file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    value = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not value:
        raise BadInput(f"the {what} file {path} is empty")
    return value


def resolve_credentials(
    user: str | None,
    password_stdin: bool,
    urls: list[ClusterURL],
    profile: Profile,
    environ: Mapping[str, str],
    prompt=None,
) -> tuple[str | None, str | None, str | None]:
    """(user, password, token) from the sources the module docstring lists, in that order.

    Every secret found is handed to the redactor at once, used or not; a trailing line break
    (a file read with $(cat ...), a Windows editor) is dropped, and a credential that cannot
    go into an HTTP header is refused, naming where it came from but never showing it.
    """
    from kjob.sanitize import add_secret

    for url in urls:
        add_secret(url.password, user=url.user)
    token, token_source = _first(("KJOB_TOKEN", environ.get("KJOB_TOKEN")), ("KI_OAUTH_TOKEN", environ.get("KI_OAUTH_TOKEN")),
                                 ("the profile's token", profile.secrets.get("token")))
    if not token and "token_file" in profile.secrets:
        token, token_source = read_secret_file(profile.secrets["token_file"], "token"), f"the token file {profile.secrets['token_file']}"
    add_secret(token)
    token = _usable(token, token_source, token=True)
    add_secret(token)  # as it is sent, without the line break it was read with
    from_url = next((url for url in urls if url.user), None)
    user = user or (from_url.user if from_url else None)
    password, password_source = None, ""
    if password_stdin:
        stdin = sys.stdin
        if stdin is None:
            raise BadInput("--password-stdin reads the password from stdin, but stdin is closed")
        if stdin.isatty():
            raise BadInput("--password-stdin reads the password from a pipe, but stdin is a terminal")
        password, password_source = stdin.readline().rstrip("\r\n"), "stdin"
        if not password:
            raise BadInput("--password-stdin: stdin held no password")
    if not password:
        password, password_source = _first(
            ("KJOB_PASSWORD", environ.get("KJOB_PASSWORD")), ("KI_PWD", environ.get("KI_PWD")),
            ("the profile's password", profile.secrets.get("password")))
    if not password and "password_file" in profile.secrets:
        path = profile.secrets["password_file"]
        password, password_source = read_secret_file(path, "password"), f"the password file {path}"
    if not password and from_url and from_url.password is not None:
        password, password_source = from_url.password, "the URL"
    add_secret(password, user=user)
    if user and password is None and not token:
        if prompt is None or sys.stdin is None or not sys.stdin.isatty():
            raise BadInput(f"no password for user {user!r}: set KJOB_PASSWORD, or pipe it to --password-stdin")
        password, password_source = prompt(f"Password for {user}"), "the prompt"
        add_secret(password, user=user)
    if password and not user:
        raise BadInput("a password is set but no user: set KJOB_USER or --user")
    password = _usable(password, password_source)
    if user is not None and (":" in user or _control(user)):
        raise BadInput(f"user {user!r} cannot be sent with basic auth: it holds a ':' or a control character")
    if user is not None and password is not None:
        add_secret(password, user=user)  # the base64 of the final user:password
    return user, password, token


def _first(*candidates: tuple[str, str | None]) -> tuple[str | None, str]:
    """The first (source, value) with a value: (value, source)."""
    for source, value in candidates:
        if value:
            return value, source
    return None, ""


def _control(text: str) -> int | None:
    """The position of the first control character in `text`, or None."""
    return next((index for index, char in enumerate(text) if ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0), None)


def _usable(secret: str | None, source: str, *, token: bool = False) -> str | None:
    """A secret without its trailing line break, or BadInput when an HTTP header cannot carry it."""
    if secret is None:
        return None
    secret = secret.rstrip("\r\n")
    if not secret:
        raise BadInput(f"the {'token' if token else 'password'} from {source} is empty")
    if token:
        bad = next((index for index, char in enumerate(secret) if not "!" <= char <= "~"), None)
        if bad is not None:
            raise BadInput(f"the token from {source} holds a space, a control or a non-ASCII character"
                           f" (at position {bad + 1}), which an HTTP header cannot carry")
    elif (bad := _control(secret)) is not None:
        raise BadInput(f"the password from {source} holds a control character (at position {bad + 1})")
    return secret
