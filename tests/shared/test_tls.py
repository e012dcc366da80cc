import ssl

from shared.tls import client_context


def test_one_context_per_process_that_still_verifies_servers() -> None:
    context = client_context()
    assert client_context() is context
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0
