"""Who may use the console: the users file (`SCHEDCU_CONSOLE_USERS_FILE`) and checking a request's credentials.

The file is YAML, a secret like any password file:

    users:
      - name: alice
        role: operator          # or read-only
        token_sha256: 5e88...   # sha256 (hex) of alice's token

Only the hash of each token is stored. A request carries the token as `Authorization: Bearer TOKEN`, or as
the password of HTTP basic auth with the user's name. Tokens are random (e.g. `openssl rand -hex 32`), so one
unsalted SHA-256 is enough; every comparison is constant-time.

The console's CSRF signing key is derived from the users (`csrf_key`), so every console started from the same
file accepts the same forms (across a restart, and between replicas), and changing the file (a user added or
removed, a token rotated) invalidates the forms already open."""

import base64
import binascii
import hashlib
import hmac
import json
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError


class Role(StrEnum):
    OPERATOR = "operator"
    READ_ONLY = "read-only"


class User(BaseModel, frozen=True):
    name: str = Field(min_length=1)
    role: Role
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", repr=False)


class UsersFile(BaseModel):
    users: list[User] = Field(min_length=1)


class UsersFileError(ValueError):
    """The users file is missing or wrong; the text says which and how to fix it (never a token)."""


def load_users(path: Path) -> list[User]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsersFileError(f"cannot read the console users file {path}: {error.strerror}") from None
    except yaml.YAMLError:
        raise UsersFileError(f"the console users file {path} is not YAML") from None
    try:
        return UsersFile.model_validate(data).users
    except ValidationError as error:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_input=False))
        raise UsersFileError(f"the console users file {path} is wrong ({where}); see README, Console") from None


def csrf_key(users: list[User]) -> bytes:
    """HMAC-SHA256 over every user's name, role and token hash, in a canonical order (secret like the file)."""
    canonical = json.dumps(sorted([user.name, user.role.value, user.token_sha256] for user in users))
    return hmac.new(b"schedcu-console-csrf", canonical.encode("utf-8"), hashlib.sha256).digest()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def authenticate(users: list[User], authorization: str | None) -> User | None:
    """The user whose token the `Authorization` header carries (bearer, or basic with the user's name)."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    name: str | None = None
    if scheme.lower() == "bearer":
        token = credentials.strip()
    elif scheme.lower() == "basic":
        try:
            name, _, token = base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
    else:
        return None
    offered = token_hash(token)
    found = None
    for user in users:  # every user is compared, so the time taken does not say which one matched
        same_name = name is None or hmac.compare_digest(name.encode(), user.name.encode())
        if hmac.compare_digest(offered, user.token_sha256) and same_name:
            found = user
    return found
