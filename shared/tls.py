"""The TLS context of outgoing HTTPS requests, one per process.

Building one loads the CA bundle, about 17 ms of CPU here: an HTTP client made for each scrape or each
template download would pay that every time, for a context that never changes. An `ssl.SSLContext` may be
shared by any number of clients and threads.
"""

import ssl
from functools import cache

import httpx


@cache
def client_context(trust_env: bool = True) -> ssl.SSLContext:
    """httpx's default verification: the certifi CA bundle, or with `trust_env` the bundle SSL_CERT_FILE or
    SSL_CERT_DIR names when set."""
    return httpx.create_ssl_context(trust_env=trust_env)
