"""TokengateTokenStore (the Zoho Python SDK's TokenStore over tokengate) against a real gateway, with
stand-in OAuthToken/UserSignature classes of the SDK's shape (the SDK itself cannot be installed here)."""

import os
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tokengate_client import TokengateClient, TokengateError
from tokengate_client.zoho import TokengateTokenStore
from zoho_standins import OAuthToken, SdkWouldRefresh, UserSignature, sdk_get_token

PACKAGE_DIR = Path(__file__).resolve().parents[1]
PAST = datetime.now(timezone.utc) - timedelta(minutes=1)


@pytest.fixture()
def store(gateway):
    return TokengateTokenStore(gateway.url, gateway.keys["operator"], token_class=OAuthToken, user_signature_class=UserSignature)


@pytest.fixture()
def admin(gateway):
    client = TokengateClient(gateway.url, gateway.keys["admin"], secrets="all")
    yield client
    client.delete_tokens()


def expired_token(accounts, admin, id, user_name):
    """A stored token whose access token has expired, with a refresh token the fake provider knows."""
    accounts.add_client("1000.ZOHO", "zoho-secret")
    refresh_token = accounts.add_refresh_token("1000.ZOHO")
    admin.save_token(id=id, user_name=user_name, client_id="1000.ZOHO", client_secret="zoho-secret", refresh_token=refresh_token,
                     access_token="old-access", expires_at=PAST)
    return refresh_token


def test_find_token_by_user_fills_the_apps_own_token_with_the_gateways_fresh_access_token(accounts, admin, store):
    expired_token(accounts, admin, "z1", "crm-user@example.com")
    app_token = OAuthToken(client_id="1000.ZOHO", client_secret="zoho-secret", user_signature=UserSignature("crm-user@example.com"))
    before = accounts.count("refresh_token")

    access_token = sdk_get_token(store, app_token)

    # The gateway refreshed once; the SDK got a token good for an hour and had no reason to refresh.
    assert accounts.count("refresh_token") == before + 1
    assert access_token == accounts.issued[-1]
    assert app_token.get_id() == "z1"
    assert int(app_token.get_expires_in()) - time.time() * 1000 > 3_000_000
    assert app_token.get_refresh_token() is None  # an operator key does not read it, and the SDK does not need it
    assert app_token.get_api_domain() == "https://www.zohoapis.com"
    # Asked again, the gateway's token is still valid: no refresh.
    assert sdk_get_token(store, OAuthToken(user_signature=UserSignature("crm-user@example.com"))) == access_token
    assert accounts.count("refresh_token") == before + 1


def test_find_token_matches_by_refresh_token_without_a_signature_and_returns_none_for_no_match(accounts, admin, store):
    refresh_token = expired_token(accounts, admin, "z2", None)
    app_token = OAuthToken(client_id="1000.ZOHO", client_secret="zoho-secret", refresh_token=refresh_token)
    assert app_token.get_user_signature() is None
    assert store.find_token(app_token) is app_token
    assert (app_token.get_id(), app_token.get_access_token()) == ("z2", accounts.issued[-1])
    assert store.find_token(OAuthToken(refresh_token="unknown-refresh")) is None
    assert store.find_token(OAuthToken(client_id="only-a-client")) is None


def test_find_token_by_id_returns_a_new_fresh_token_and_raises_for_an_unknown_id(accounts, admin, store):
    expired_token(accounts, admin, "z3", "by-id@example.com")
    app_token = OAuthToken(id="z3")
    assert sdk_get_token(store, app_token) == accounts.issued[-1]
    found = store.find_token_by_id("z3")
    assert isinstance(found, OAuthToken) and found is not app_token
    assert (found.get_id(), found.get_client_id(), found.get_user_signature().get_name()) == ("z3", "1000.ZOHO", "by-id@example.com")
    with pytest.raises(TokengateError) as e:
        store.find_token_by_id("no-such-id")
    assert e.value.code == "NOT_FOUND"


def test_when_the_gateway_cannot_refresh_the_stored_token_is_handed_over(accounts, admin, store):
    admin.save_token(id="z4", user_name="failing@example.com", client_id="1000.ZOHO", client_secret="zoho-secret",
                     refresh_token="revoked", access_token="stale-access", expires_at=PAST)
    app_token = OAuthToken(user_signature=UserSignature("failing@example.com"))
    assert store.find_token(app_token) is app_token
    assert app_token.get_access_token() == "stale-access"
    # The SDK sees it has expired and would refresh by itself, as with any store.
    with pytest.raises(SdkWouldRefresh):
        sdk_get_token(store, OAuthToken(user_signature=UserSignature("failing@example.com")))


def test_save_token_assigns_an_id_and_stores_what_the_sdk_holds(admin, store):
    expires = str(int(time.time() * 1000) + 3_600_000)
    token = OAuthToken(client_id="1000.SAVE", client_secret="s", refresh_token="save-refresh", access_token="save-access",
                       grant_token="used-grant", redirect_url="https://app.example.com/cb", user_signature=UserSignature("saver@example.com"),
                       api_domain="https://www.zohoapis.eu")
    token.set_expires_in(expires)
    assert token.get_id() is None
    store.save_token(token)
    assert token.get_id()
    stored = admin.get_token(token.get_id())
    assert (stored.user_name, stored.client_id, stored.client_secret, stored.refresh_token, stored.access_token) == (
        "saver@example.com", "1000.SAVE", "s", "save-refresh", "save-access")
    assert (stored.redirect_url, stored.api_domain, stored.grant_token) == ("https://app.example.com/cb", "https://www.zohoapis.eu", None)
    assert int(stored.expires_at.timestamp() * 1000) == int(expires)

    # Saved again with its id (after the SDK refreshed, say): the same token, updated; nothing else cleared.
    token.set_access_token("newer-access")
    store.save_token(token)
    again = admin.get_token(token.get_id())
    assert (again.access_token, again.refresh_token) == ("newer-access", "save-refresh")
    assert len(list(admin.list_tokens())) == 1


def test_get_tokens_delete_token_and_delete_tokens(gateway, admin, store):
    assert store.get_tokens() == []
    admin.save_token(id="g1", refresh_token="g1-r", user_name="g1@example.com")
    admin.save_token(id="g2", refresh_token="g2-r")
    tokens = store.get_tokens()
    assert [t.get_id() for t in tokens] == ["g1", "g2"] and all(isinstance(t, OAuthToken) for t in tokens)
    store.delete_token("g2")
    store.delete_token("g2")  # an unknown id is not an error
    assert [t.get_id() for t in store.get_tokens()] == ["g1"]
    with pytest.raises(TokengateError) as e:
        store.delete_tokens()  # an operator key may not
    assert e.value.code == "FORBIDDEN"
    TokengateTokenStore(gateway.url, gateway.keys["admin"], token_class=OAuthToken).delete_tokens()
    assert store.get_tokens() == []


def test_subclasses_the_sdks_token_store_when_the_sdk_can_be_imported(tmp_path):
    # A stand-in of the SDK's modules: its abstract TokenStore and its OAuthToken.
    auth = tmp_path / "zohocrmsdk" / "src" / "com" / "zoho" / "api" / "authenticator"
    (auth / "store").mkdir(parents=True)
    for d in [tmp_path / "zohocrmsdk", *[p for p in auth.parents if str(p).startswith(str(tmp_path / "zohocrmsdk"))]]:
        (d / "__init__.py").touch()
    (auth / "__init__.py").write_text("from .oauth_token import OAuthToken\n")
    (auth / "oauth_token.py").write_text("class OAuthToken:\n    pass\n")
    (auth / "store" / "__init__.py").write_text(textwrap.dedent("""
        from abc import ABC, abstractmethod
        class TokenStore(ABC):
            @abstractmethod
            def find_token(self, token): pass
            @abstractmethod
            def save_token(self, token): pass
            @abstractmethod
            def delete_token(self, id): pass
            @abstractmethod
            def get_tokens(self): pass
            @abstractmethod
            def delete_tokens(self): pass
            @abstractmethod
            def find_token_by_id(self, id): pass
    """))
    check = textwrap.dedent("""
        from zohocrmsdk.src.com.zoho.api.authenticator.store import TokenStore
        from zohocrmsdk.src.com.zoho.api.authenticator import OAuthToken
        from tokengate_client.zoho import TokengateTokenStore
        store = TokengateTokenStore("http://127.0.0.1:4000", "k")
        print(issubclass(TokengateTokenStore, TokenStore), isinstance(store, TokenStore), store._token_class is OAuthToken)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(PACKAGE_DIR)])}
    out = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True, timeout=60)
    assert out.stderr == ""
    assert out.stdout.split() == ["True", "True", "True"]

    # Without the SDK: a plain class, which needs the token class given.
    out = subprocess.run([sys.executable, "-c", "from tokengate_client.zoho import TokengateTokenStore as S; print(S.__mro__[1].__name__); S('http://127.0.0.1:4000', 'k')"],
                         env={**os.environ, "PYTHONPATH": str(PACKAGE_DIR)}, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["object"]
    assert "pass token_class" in out.stderr
