"""Who may use the console: the users file (`SCHEDCU_CONSOLE_USERS_FILE`) and checking a request's credentials.

The file is YAML, a secret like any password file:

    users:
      - name: alice
        role: operator          # or read-only
        token_sha256: 5e88...   # sha256 (hex) of alice's token

Only the hash of each token is stored. A request carries the token as `Authorization: Bearer TOKEN`, or as
the password of HTTP basic auth with the user's name. Tokens are random (e.g. `openssl rand -hex 32`), so one
unsalted SHA-256 is enough; every comparison is constant-time.

The console reads the file again whenever it changes (`WatchedUsers`): a rotated or removed token stops
working on the next request, without a restart.

A user's CSRF signing key is derived from that user's line of the file (`csrf_key`), so every console started
from the same file accepts the same forms (across a restart, and between replicas); rotating a user's token or
changing their role invalidates that user's open forms, and nobody else's."""

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import time
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


log = logging.getLogger(__name__)

# a file changed within this long of its last read may change again with the same size and time stamp
RACY_NS = 2_000_000_000


def _parse(path: Path, content: bytes) -> list[User]:
    try:
        data = yaml.safe_load(content.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        raise UsersFileError(f"the console users file {path} is not YAML") from None
    try:
        return UsersFile.model_validate(data).users
    except ValidationError as error:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_input=False))
        raise UsersFileError(f"the console users file {path} is wrong ({where}); see README, Console") from None


class WatchedUsers:
    """The users of the file at `path`, read again when its device, inode, size or modification time change
    (one `stat` per call). A file that cannot be read or is wrong refuses everyone with its `UsersFileError`
    until it is fixed: a half-edited file never lets a revoked token in."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._signature: tuple[int, int, int, int] | None = None
        self._content: bytes | None = None
        self._read_at_ns = 0
        self._users: list[User] = []
        self._problem: str | None = None  # why the file cannot be used, as UsersFileError says it
        self._started = False
        self.users()
        self._started = True  # from now on, each change is logged

    def users(self) -> list[User]:
        """The users as the file says now; `UsersFileError` when it cannot be read or is wrong."""
        self._refresh()
        if self._problem is not None:
            raise UsersFileError(self._problem)
        return self._users

    def _refresh(self) -> None:
        try:
            stat = os.stat(self.path)
            signature = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
            if signature == self._signature and self._read_at_ns - stat.st_mtime_ns > RACY_NS:
                return
            content = self.path.read_bytes()
        except OSError as error:
            self._set(None, None, [], f"cannot read the console users file {self.path}: {error.strerror}")
            return
        self._read_at_ns = time.time_ns()
        if content == self._content:
            self._signature = signature
            return
        try:
            self._set(signature, content, _parse(self.path, content), None)
        except UsersFileError as error:
            self._set(signature, content, [], str(error))

    def _set(
        self, signature: tuple[int, int, int, int] | None, content: bytes | None, users: list[User], problem: str | None
    ) -> None:
        changed = (users, problem) != (self._users, self._problem)
        self._signature, self._content, self._users, self._problem = signature, content, users, problem
        if not (self._started and changed):
            return
        if problem is not None:
            log.warning("%s: every request is refused until it is fixed", problem)
        else:
            log.info("console users file %s read: %d users", self.path, len(users))


def csrf_key(user: User) -> bytes:
    """HMAC-SHA256 over the user's name, role and token hash (secret like the file)."""
    canonical = json.dumps([user.name, user.role.value, user.token_sha256])
    return hmac.new(b"schedcu-console-csrf", canonical.encode("utf-8"), hashlib.sha256).digest()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def credentials(authorization: str | None) -> tuple[str | None, str] | None:
    """The user name (basic auth; None for a bearer token) and the token the `Authorization` header carries."""
    if not authorization:
        return None
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return None, given.strip()
    if scheme.lower() == "basic":
        try:
            name, _, token = base64.b64decode(given.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return name, token
    return None


def authenticate(users: list[User], authorization: str | None) -> User | None:
    """The user whose token the `Authorization` header carries (bearer, or basic with the user's name)."""
    given = credentials(authorization)
    if given is None:
        return None
    name, token = given
    offered = token_hash(token)
    found = None
    for user in users:  # every user is compared, so the time taken does not say which one matched
        same_name = name is None or hmac.compare_digest(name.encode(), user.name.encode())
        if hmac.compare_digest(offered, user.token_sha256) and same_name:
            found = user
    return found
