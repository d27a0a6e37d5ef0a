"""Admin counters: per-object request counts and token caching, seen from the SDK side."""

from azure.keyvault.secrets import SecretClient


def test_two_reads_count_twice_for_the_object(admin, reader_secrets, seed):
    name, value = seed.secrets.counted
    reader_secrets.get_secret(name)  # challenge and token are cached from here on
    admin.reset_counters()
    assert reader_secrets.get_secret(name).value == value
    assert reader_secrets.get_secret(name).value == value
    counters = admin.counters()
    vault = admin.vault_counters(counters, seed.vault)
    assert (vault.get("byObject") or {}).get(f"secrets/{name}") == 2, vault
    assert vault.get("total") == 2, vault
    assert int((counters.get("token") or {}).get("total", 0)) == 0, counters.get("token")


def test_fresh_credential_asks_for_one_token(admin, secret_credential, vault_url, seed):
    name, value = seed.secrets.counted
    admin.reset_counters()
    credential = secret_credential(seed.reader.client_id, seed.reader.secret)
    with SecretClient(vault_url, credential) as client:
        for _ in range(3):
            assert client.get_secret(name).value == value
    counters = admin.counters()
    token = counters.get("token") or {}
    assert token.get("total") == 1, token
    assert (token.get("byClient") or {}).get(seed.reader.client_id) == 1, token
    vault = admin.vault_counters(counters, seed.vault)
    assert (vault.get("byObject") or {}).get(f"secrets/{name}") == 3, vault


def test_reset_clears_counters(admin, reader_secrets, seed):
    reader_secrets.get_secret(seed.secrets.counted[0])
    admin.reset_counters()
    counters = admin.counters()
    vault = admin.vault_counters(counters, seed.vault)
    assert int(vault.get("total", 0)) == 0, vault
    assert int((counters.get("token") or {}).get("total", 0)) == 0, counters
