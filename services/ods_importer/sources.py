"""Where a template comes from: inline in the request, a file in the drop folder, or an http(s) URL."""

import base64
import binascii
import time
from pathlib import Path

import httpx

from shared.contracts import TemplateSource
from shared.findings import Finding, Severity


class TemplateSourceError(Exception):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.finding = Finding(severity=Severity.ERROR, code=code, text=text)


def _too_large(limit: int) -> TemplateSourceError:
    return TemplateSourceError("FILE_TOO_LARGE", f"The template is larger than the limit of {limit:,} bytes.")


def from_inline(encoded: str, limit: int) -> bytes:
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise TemplateSourceError("INVALID_TEMPLATE_SOURCE", "The inline template is not valid base64.") from None
    if len(data) > limit:
        raise _too_large(limit)
    return data


def from_drop_folder(relative: str, drop_folder: Path | None, limit: int) -> bytes:
    """A file inside the drop folder: `..`, absolute paths and symbolic links may not lead out of it."""
    if drop_folder is None:
        raise TemplateSourceError("INVALID_TEMPLATE_SOURCE", "No drop folder is configured for template paths.")
    root = drop_folder.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise TemplateSourceError("INVALID_TEMPLATE_SOURCE", f"The path {relative!r} is outside the drop folder.")
    if not path.is_file():
        raise TemplateSourceError("INVALID_TEMPLATE_SOURCE", f"No template file {relative!r} in the drop folder.")
    with path.open("rb") as file:
        data = file.read(limit + 1)  # the file may grow after any size check
    if len(data) > limit:
        raise _too_large(limit)
    return data


def from_url(url: str, limit: int, timeout_s: float) -> bytes:
    """GET the URL, refusing more than `limit` bytes as they arrive and a download longer than `timeout_s`.

    Error texts never repeat the URL: it may carry a token.
    """
    deadline = time.monotonic() + timeout_s
    chunks: list[bytes] = []
    size = 0
    try:
        with httpx.stream("GET", url, timeout=timeout_s, follow_redirects=True) as response:
            if not response.is_success:
                raise TemplateSourceError(
                    "TEMPLATE_FETCH_FAILED", f"The template URL answered HTTP {response.status_code}."
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _too_large(limit)
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("download deadline passed")
                chunks.append(chunk)
    except httpx.TimeoutException:
        raise TemplateSourceError(
            "TEMPLATE_FETCH_FAILED", f"Fetching the template took longer than {timeout_s:g} s."
        ) from None
    except httpx.HTTPError as error:
        raise TemplateSourceError(
            "TEMPLATE_FETCH_FAILED", f"Could not fetch the template: {type(error).__name__}."
        ) from None
    return b"".join(chunks)


def load(source: TemplateSource, *, limit: int, drop_folder: Path | None, timeout_s: float = 30.0) -> bytes:
    if source.inline_base64 is not None:
        return from_inline(source.inline_base64, limit)
    if source.path is not None:
        return from_drop_folder(source.path, drop_folder, limit)
    assert source.url is not None
    return from_url(source.url, limit, timeout_s)
