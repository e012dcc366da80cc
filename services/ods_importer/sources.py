"""Where a template comes from: inline in the request, a file in the drop folder, or an http(s) URL."""

import asyncio
import base64
import binascii
import functools
import ipaddress
import socket
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import httpx

from shared.kernel.contracts import TemplateSource
from shared.kernel.findings import (
    FILE_TOO_LARGE,
    INVALID_TEMPLATE_SOURCE,
    TEMPLATE_FETCH_FAILED,
    TEMPLATE_URL_REFUSED,
    Finding,
)
from shared.tls import client_context


class TemplateSourceError(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.text)
        self.finding = finding


def _too_large(limit: int) -> TemplateSourceError:
    return TemplateSourceError(FILE_TOO_LARGE(f"The template is larger than the limit of {limit:,} bytes."))


def from_inline(encoded: str, limit: int) -> bytes:
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise TemplateSourceError(INVALID_TEMPLATE_SOURCE("The inline template is not valid base64.")) from None
    if len(data) > limit:
        raise _too_large(limit)
    return data


def from_drop_folder(relative: str, drop_folder: Path | None, limit: int) -> bytes:
    """A file inside the drop folder: `..`, absolute paths and symbolic links may not lead out of it."""
    if drop_folder is None:
        raise TemplateSourceError(INVALID_TEMPLATE_SOURCE("No drop folder is configured for template paths."))
    try:
        root = drop_folder.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root):
            raise TemplateSourceError(INVALID_TEMPLATE_SOURCE(f"The path {relative!r} is outside the drop folder."))
        if not path.is_file():
            raise TemplateSourceError(INVALID_TEMPLATE_SOURCE(f"No template file {relative!r} in the drop folder."))
        with path.open("rb") as file:
            data = file.read(limit + 1)  # the file may grow after any size check
    except (OSError, ValueError) as error:  # a NUL byte (ValueError), a name too long, no permission
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise TemplateSourceError(
            INVALID_TEMPLATE_SOURCE(f"The path {relative!r} cannot be read from the drop folder: {reason}.")
        ) from None
    if len(data) > limit:
        raise _too_large(limit)
    return data


# --- URL ------------------------------------------------------------------------------------------------

HOSTS_SETTING = "SCHEDCU_TEMPLATE_URL_HOSTS"
MAX_REDIRECTS = 5

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

# cloud instance metadata: AWS, GCP, Azure, OpenStack (IPv4 and AWS's IPv6), Alibaba
_METADATA = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def address_problem(address: IPAddress) -> str | None:
    """What kind of internal address this is (`loopback`, `private`, `cloud metadata`, ...); None for a public one.

    An IPv6 address that carries an IPv4 one (IPv4-mapped, 6to4, Teredo, NAT64) is judged by that IPv4 address.
    """
    if address in _METADATA:
        return "cloud metadata"
    if isinstance(address, ipaddress.IPv6Address):
        for embedded in _embedded_ipv4(address):
            if (problem := address_problem(embedded)) is not None:
                return problem
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "non-public"),
    )
    return next((kind for failed, kind in checks if failed), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


@dataclass(frozen=True)
class UrlHosts:
    """The hosts a template URL may name (the setting SCHEDCU_TEMPLATE_URL_HOSTS).

    An entry is a host name or IP address, `*.example.org` (any host under example.org) or `*` (any host).
    Only a host listed by its own name may resolve to an internal address (loopback, private, metadata, ...);
    a host matched by a wildcard must resolve to public addresses only.
    """

    entries: tuple[str, ...]

    @classmethod
    def of(cls, entries: Sequence[str]) -> "UrlHosts":
        return cls(tuple(_normalise_host(entry) for entry in entries))

    def allows(self, host: str) -> bool:
        return self.names(host) or any(
            entry == "*" or (entry.startswith("*.") and host.endswith(entry[1:])) for entry in self.entries
        )

    def names(self, host: str) -> bool:
        return host in self.entries

    def describe(self) -> str:
        if not self.entries:
            return f"{HOSTS_SETTING} is empty, so every template URL is refused until an operator lists a host"
        return f"{HOSTS_SETTING} lists {', '.join(self.entries)}"


def _normalise_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def from_url(url: str, limit: int, timeout_s: float, hosts: Sequence[str] = ()) -> bytes:
    """GET the URL from a listed host, following at most MAX_REDIRECTS redirects, each checked like the first;
    more than `limit` bytes are refused as they arrive, and so is a fetch longer than `timeout_s` in all (name
    lookups, connections, headers and body of every hop: a server sending a byte a second stops there too).

    Each hop's host is resolved once here, its addresses checked, and the request sent to a checked address
    (the URL's host replaced by that IP, the Host header and TLS server name set to the real host, so the
    certificate is still verified against it). Nothing resolves the name again between the check and the
    connection, so a DNS answer that changes in between (DNS rebinding) cannot lead the request elsewhere.
    Proxy settings from the environment are ignored for the same reason.

    Error texts name hosts but never repeat a URL: it may carry a token.
    """
    return asyncio.run(_fetch(url, limit, timeout_s, UrlHosts.of(hosts)))


async def _fetch(url: str, limit: int, timeout_s: float, allowed: UrlHosts) -> bytes:
    try:
        async with asyncio.timeout(timeout_s):
            target = httpx.URL(url)
            async with httpx.AsyncClient(
                timeout=timeout_s, follow_redirects=False, trust_env=False, verify=client_context(trust_env=False)
            ) as client:
                for hop in range(MAX_REDIRECTS + 1):
                    addresses = await _checked_addresses(target, allowed, redirected=hop > 0)
                    async with _send(client, target, addresses) as response:
                        if not response.has_redirect_location:
                            return await _body(response, limit)
                        target = target.join(response.headers["location"])
    except (httpx.InvalidURL, ValueError):
        raise TemplateSourceError(
            INVALID_TEMPLATE_SOURCE("The template URL, or a URL it redirected to, is not a valid URL.")
        ) from None
    except (TimeoutError, httpx.TimeoutException):
        raise TemplateSourceError(
            TEMPLATE_FETCH_FAILED(f"Fetching the template took longer than {timeout_s:g} s.")
        ) from None
    except httpx.HTTPError as error:
        raise TemplateSourceError(
            TEMPLATE_FETCH_FAILED(f"Could not fetch the template: {type(error).__name__}.")
        ) from None
    raise TemplateSourceError(TEMPLATE_FETCH_FAILED(f"The template URL redirected more than {MAX_REDIRECTS} times."))


async def _checked_addresses(url: httpx.URL, allowed: UrlHosts, *, redirected: bool) -> list[IPAddress]:
    """The addresses of the URL's host, once each is known to be allowed; TEMPLATE_URL_REFUSED otherwise."""
    subject = "The template URL redirected to" if redirected else "The template URL names"
    if url.port is not None and not 0 < url.port < 65_536:  # httpx parses any number of digits
        raise httpx.InvalidURL("port out of range")
    if url.scheme not in ("http", "https"):
        raise TemplateSourceError(
            TEMPLATE_URL_REFUSED(f"{subject} a {url.scheme!r} URL; only http and https are accepted.")
        )
    host = _normalise_host(url.host)
    if not allowed.allows(host):
        raise TemplateSourceError(
            TEMPLATE_URL_REFUSED(
                f"{subject} host {host!r}, which is not allowed: {allowed.describe()}. Nothing was fetched from it."
            )
        )
    addresses = await _resolve(url)
    if not allowed.names(host):
        for address in addresses:
            if (problem := address_problem(address)) is not None:
                raise TemplateSourceError(
                    TEMPLATE_URL_REFUSED(
                        f"{subject} host {host!r}, which resolves to {address}, a {problem} address. Only a host "
                        f"listed by its own name in {HOSTS_SETTING} may resolve to one. Nothing was fetched from it."
                    )
                )
    return addresses


# name lookups block: they run here, so that a fetch past its deadline returns without waiting for one
_RESOLVER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="template-url-dns")


async def _resolve(url: httpx.URL) -> list[IPAddress]:
    host = url.raw_host.decode("ascii")
    port = url.port or (443 if url.scheme == "https" else 80)
    lookup = functools.partial(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        found = await asyncio.get_running_loop().run_in_executor(_RESOLVER, lookup)
    except (socket.gaierror, UnicodeError):
        raise TemplateSourceError(
            TEMPLATE_FETCH_FAILED(f"The template URL's host {url.host!r} could not be resolved.")
        ) from None
    # the scope of a link-local IPv6 address (`%eth0`) is dropped: such an address is refused unless listed
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    return list(dict.fromkeys(addresses))


@asynccontextmanager
async def _send(client: httpx.AsyncClient, url: httpx.URL, addresses: list[IPAddress]) -> AsyncIterator[httpx.Response]:
    """GET `url` from the first of `addresses` that accepts a connection."""
    host_header = url.netloc.decode("ascii")
    extensions = {"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else {}
    for index, address in enumerate(addresses):
        request = client.build_request(
            "GET", url.copy_with(host=str(address)), headers={"Host": host_header}, extensions=extensions
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.ConnectError:
            if index == len(addresses) - 1:
                raise
            continue
        try:
            yield response
        finally:
            await response.aclose()
        return


async def _body(response: httpx.Response, limit: int) -> bytes:
    if not response.is_success:
        raise TemplateSourceError(TEMPLATE_FETCH_FAILED(f"The template URL answered HTTP {response.status_code}."))
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def load(
    source: TemplateSource,
    *,
    limit: int,
    drop_folder: Path | None,
    timeout_s: float = 30.0,
    url_hosts: Sequence[str] = (),
) -> bytes:
    if source.inline_base64 is not None:
        return from_inline(source.inline_base64, limit)
    if source.path is not None:
        return from_drop_folder(source.path, drop_folder, limit)
    assert source.url is not None
    return from_url(source.url, limit, timeout_s, url_hosts)
