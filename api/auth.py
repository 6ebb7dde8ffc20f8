"""Roles and bearer tokens: who is asking, and what they may see (DESIGN.md "People and what they may see").

Tokens are never stored in clear: the tokens file holds their SHA-256 with a role and an area scope.

TOML::

    [[token]]
    sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    role = "neighbourhood"
    scope = ["E06000020"]      # area codes (LAD, CSP, ward, parish); omitted = everywhere
    name = "Telford SNT"

JSON: ``{"tokens": [{"sha256": …, "role": …, "scope": […], "name": …}]}``.
Anonymous requests get the parish role's view; restricted resources answer 401 without a token and 403 with a
token whose role may not see them.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from geo.errors import InputError

ROLES = ("analyst", "neighbourhood", "parish")
#: the aggregate audience each role reads
AUDIENCE = {"analyst": "analyst", "neighbourhood": "analyst", "parish": "parish"}


class AuthError(InputError):
    """Missing or wrong credentials (401) or a role that may not see the resource (403)."""

    status_code = 401


@dataclass(frozen=True)
class Principal:
    """The caller: a role, an area scope (None = everywhere) and a name for logs."""

    role: str = "parish"
    scope: tuple[str, ...] | None = None
    name: str = "anonymous"
    anonymous: bool = True

    @property
    def audience(self) -> str:
        return AUDIENCE[self.role]

    @property
    def cache_key(self) -> str:
        """What a cached response may depend on (role and scope, never the token)."""
        return f"{self.role}:{','.join(self.scope) if self.scope else '*'}"


ANONYMOUS = Principal()


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a token (what the tokens file stores).

    Examples
    --------
    >>> hash_token("test")[:12]
    '9f86d081884c'
    """
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class TokenBook:
    """Hashed tokens → principals."""

    entries: dict[str, Principal] = field(default_factory=dict)

    def principal(self, authorization: str | None) -> Principal:
        """The principal of an ``Authorization`` header value; anonymous when there is none."""
        if authorization is None or not authorization.strip():
            return ANONYMOUS
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("authorization header is not a bearer token; expected 'Bearer <token>'",
                            param="Authorization")
        digest = hash_token(token.strip())
        for known, who in self.entries.items():
            if secrets.compare_digest(known, digest):
                return who
        raise AuthError("bearer token is not known; expected a token from the tokens file", param="Authorization")


def load_tokens(path: str | Path | None) -> TokenBook:
    """Read a tokens file (TOML or JSON); no file means no tokens (everyone is anonymous)."""
    if path is None:
        return TokenBook()
    p = Path(path)
    if not p.exists():
        raise InputError(f"tokens file {p} does not exist; expected a TOML or JSON tokens file", param="tokens_file")
    try:
        text = p.read_text()
        raw = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as e:
        raise InputError(f"tokens file {p} is unreadable ({str(e)[:80]}); expected TOML or JSON",
                         param="tokens_file") from None
    items = raw.get("tokens", raw.get("token", []))
    book = TokenBook()
    for i, item in enumerate(items):
        digest, role = str(item.get("sha256", "")).lower(), str(item.get("role", ""))
        if len(digest) != 64 or role not in ROLES:
            raise InputError(f"tokens file {p}: entry {i + 1} has sha256 {digest[:12]!r} and role {role!r}; "
                             f"expected a 64-hex sha256 and one of {', '.join(ROLES)}", param="tokens_file")
        scope = item.get("scope")
        book.entries[digest] = Principal(role=role, scope=tuple(scope) if scope else None,
                                         name=str(item.get("name", role)), anonymous=False)
    return book


def write_tokens(path: str | Path, tokens: dict[str, tuple[str, list[str] | None]]) -> Path:
    """Write a TOML tokens file of ``{clear_token: (role, scope)}`` (hashed; the clear tokens are not kept)."""
    lines = []
    for token, (role, scope) in tokens.items():
        lines += ["[[token]]", f'sha256 = "{hash_token(token)}"', f'role = "{role}"', f'name = "demo {role}"']
        if scope:
            lines.append("scope = [" + ", ".join(f'"{c}"' for c in scope) + "]")
        lines.append("")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("\n".join(lines))
    p.chmod(0o600)
    return p
