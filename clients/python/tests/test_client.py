"""TokengateClient against a real gateway process and a fake Zoho Accounts server."""

import http.client
import socket
import threading
import urllib.parse
from datetime import datetime, timedelta, timezone

import pytest

from tokengate_client import Token, TokenBudget, TokengateClient, TokengateError


@pytest.fixture(scope="module")
def admin(gateway):
    return TokengateClient(gateway.url, gateway.keys["admin"], secrets="all")


@pytest.fixture(scope="module")
def operator(gateway):
    return TokengateClient(gateway.url + "/graphql", gateway.keys["operator"])


def test_save_get_list_refresh_delete(gateway, accounts, admin, operator):
    accounts.add_client("1000.PY", "py-secret")
    refresh_token = accounts.add_refresh_token("1000.PY")
    saved = operator.save_token(
        id="p1", user_name="p1@example.com", client_id="1000.PY", client_secret="py-secret", refresh_token=refresh_token,
        expires_at=datetime.now(timezone.utc) - timedelta(seconds=1),
    )
    assert isinstance(saved, Token)
    assert (saved.id, saved.user_name, saved.status, saved.has_refresh_token, saved.access_token) == ("p1", "p1@example.com", "EXPIRED", True, None)
    assert saved.created_at.tzinfo is not None and saved.expires_at < datetime.now(timezone.utc)
    assert saved.refresh_token is None  # an operator client reads the access token only
    assert (saved.provider, saved.client, saved.throttled, saved.throttled_until) == ("zoho", None, False, None)
    # Zoho's limits: 10 access tokens per 10 minutes, none minted yet.
    assert saved.budget == TokenBudget(access_tokens_left=10, access_tokens_per_window=10, window_seconds=600, resets_at=None, next_at=None)

    assert operator.get_token("p1").id == "p1"
    assert operator.get_token(user_name="p1@example.com").id == "p1"
    assert operator.get_token("nope") is None
    assert operator.get_token(user_name="nobody@example.com") is None
    assert admin.get_token("p1").refresh_token == refresh_token

    # Expired: get_access_token has the gateway refresh it, once.
    before = accounts.count("refresh_token")
    access_token = operator.get_access_token("p1")
    assert access_token == accounts.issued[-1]
    assert accounts.count("refresh_token") == before + 1
    # Still valid: no second refresh.
    assert operator.get_access_token("p1") == access_token
    assert accounts.count("refresh_token") == before + 1
    # refresh() forces one by default.
    refreshed = operator.refresh("p1")
    assert refreshed.status == "ACTIVE" and refreshed.access_token == accounts.issued[-1] != access_token
    # Two mints counted; the window is whole again 10 minutes after the first.
    assert (refreshed.budget.access_tokens_left, refreshed.budget.next_at) == (8, None)
    assert refreshed.budget.resets_at.tzinfo is not None
    assert 0 < (refreshed.budget.resets_at - datetime.now(timezone.utc)).total_seconds() <= 600
    assert operator.refresh("p1", force=False).access_token == refreshed.access_token

    operator.save_token(id="p2", refresh_token="p2-refresh", access_token="p2-access", expires_in=3600)
    # None clears a field; a field left out keeps its value.
    cleared = operator.save_token(id="p2", access_token=None)
    assert (cleared.has_access_token, cleared.has_refresh_token) == (False, True)

    page = operator.list_page(first=1)
    assert (page.total_count, page.has_next_page, [t.id for t in page.nodes]) == (2, True, ["p1"])
    assert [t.id for t in operator.list_tokens(page_size=1)] == ["p1", "p2"]

    assert operator.delete_token("p2") is True
    assert operator.delete_token("p2") is False
    assert [t.id for t in operator.list_tokens()] == ["p1"]


def test_revoke_at_the_provider_then_delete(accounts, operator):
    accounts.add_client("1000.PYREVOKE", "rs")
    refresh_token = accounts.add_refresh_token("1000.PYREVOKE")
    operator.save_token(id="r1", client_id="1000.PYREVOKE", client_secret="rs", refresh_token=refresh_token)
    assert operator.revoke_token("r1") is True
    assert refresh_token not in accounts.refresh_tokens
    assert operator.get_token("r1") is None
    assert operator.revoke_token("r1") is False


def test_api_errors_carry_the_code_and_oauth_error(gateway, accounts, admin, operator):
    with pytest.raises(TokengateError) as e:
        operator.refresh("missing")
    assert e.value.code == "NOT_FOUND"
    with pytest.raises(TokengateError) as e:
        operator.get_token(client_id="only")
    assert e.value.code == "BAD_USER_INPUT"
    with pytest.raises(TokengateError) as e:
        operator.delete_tokens()
    assert (e.value.code, str(e.value).split(":")[0]) == ("FORBIDDEN", "FORBIDDEN")
    viewer = TokengateClient(gateway.url, gateway.keys["viewer"], secrets="none")
    operator.save_token(id="v1", refresh_token="v1-r")
    assert viewer.get_token("v1").has_refresh_token is True
    with pytest.raises(TokengateError) as e:
        TokengateClient(gateway.url, gateway.keys["viewer"]).get_token("v1")
    assert e.value.code == "FORBIDDEN" and e.value.errors[0]["path"] == ["tokenById", "accessToken"]

    accounts.add_client("1000.PYFAIL", "fs")
    operator.save_token(id="f1", client_id="1000.PYFAIL", client_secret="fs", refresh_token="unknown-to-the-provider")
    with pytest.raises(TokengateError) as e:
        operator.get_access_token("f1")
    assert (e.value.code, e.value.oauth_error, e.value.status) == ("REFRESH_FAILED", "invalid_code", 200)
    assert e.value.request_id
    assert str(e.value).startswith("REFRESH_FAILED (invalid_code): ")
    assert operator.get_token("f1").status == "FAILED"
    assert admin.delete_tokens() >= 1


def test_throttled_carries_retry_after(accounts, operator):
    accounts.add_client("1000.PYTHROTTLE", "ts")
    operator.save_token(id="t1", client_id="1000.PYTHROTTLE", client_secret="ts", refresh_token=accounts.add_refresh_token("1000.PYTHROTTLE"))
    # Zoho's rate limit answer closes the token's window (Zoho's 10 minutes); no valid access token is held.
    accounts.failures.append("access_denied")
    with pytest.raises(TokengateError) as e:
        operator.refresh("t1")
    assert (e.value.code, e.value.oauth_error, e.value.retry_after) == ("REFRESH_FAILED", "access_denied", None)
    before = accounts.count("refresh_token")
    with pytest.raises(TokengateError) as e:
        operator.get_access_token("t1")
    assert e.value.code == "THROTTLED"
    assert isinstance(e.value.retry_after, int) and 590 < e.value.retry_after <= 600
    assert "retry_after=" in repr(e.value)
    assert accounts.count("refresh_token") == before
    throttled = operator.get_token("t1")
    assert throttled.status == "THROTTLED" and throttled.throttled is False
    # Until when: the end of the window the provider closed, as retry_after counts it.
    assert throttled.throttled_until.tzinfo is not None
    assert 580 < (throttled.throttled_until - datetime.now(timezone.utc)).total_seconds() <= 600
    assert (throttled.budget.access_tokens_left, throttled.budget.access_tokens_per_window) == (0, 10)
    assert throttled.budget.next_at >= throttled.throttled_until


def test_a_forced_refresh_the_governor_will_not_send_answers_the_held_token_throttled(accounts, operator):
    accounts.add_client("1000.PYWINDOW", "ws")
    operator.save_token(id="w1", client_id="1000.PYWINDOW", client_secret="ws", refresh_token=accounts.add_refresh_token("1000.PYWINDOW"))
    for _ in range(10):  # Zoho's 10 access tokens of the window
        last = operator.refresh("w1")
    assert (last.status, last.throttled, last.budget.access_tokens_left) == ("ACTIVE", False, 0)
    sent = accounts.count("refresh_token")
    held = operator.refresh("w1")
    assert accounts.count("refresh_token") == sent  # not sent
    assert (held.throttled, held.access_token, held.status, held.throttled_until) == (True, last.access_token, "ACTIVE", None)
    assert held.budget.access_tokens_left == 0 and held.budget.next_at > datetime.now(timezone.utc)
    # throttled is a property of that refresh answer only.
    assert operator.get_token("w1").throttled is False


def test_save_token_provider_names_a_registered_one_fixed_on_the_first_save(accounts, admin, operator):
    admin.request(f'mutation {{ saveProvider(provider: {{ name: "acme-py", tokenUrl: "{accounts.url}/acme/token" }}) {{ name }} }}')
    acme = operator.save_token(id="g1", provider="acme-py", user_name="g1@example.com", refresh_token="g1-refresh")
    # A generic provider limits nothing by default: no budget.
    assert (acme.provider, acme.client, acme.budget) == ("acme-py", None, None)
    assert operator.get_token("g1").provider == "acme-py"
    assert operator.save_token(id="g1", api_domain="https://api.acme.example").provider == "acme-py"  # left out: kept
    for provider in ("zoho", None):
        with pytest.raises(TokengateError) as e:
            operator.save_token(id="g1", provider=provider)
        assert e.value.code == "BAD_USER_INPUT"
    with pytest.raises(TokengateError) as e:
        operator.save_token(id="g2", provider="no-such-provider", refresh_token="x")
    assert e.value.code == "BAD_USER_INPUT"
    assert operator.get_token("g2") is None
    assert operator.get_token("g1").provider == "acme-py"
    assert operator.delete_token("g1") is True


def _get(url: str):
    """GETs url without following a redirect: (status, Location)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", f"{parts.path}?{parts.query}")
        res = conn.getresponse()
        res.read()
        return res.status, res.getheader("location")
    finally:
        conn.close()


def test_a_token_connected_through_a_named_oauth_client_carries_its_name(gateway, accounts, admin, operator):
    accounts.add_client("1000.PYCONNECT", "connect-secret")
    admin.request(
        "mutation SaveClient($client: ClientInput!) { saveClient(client: $client) { name } }",
        {"client": {"name": "crm-py", "clientId": "1000.PYCONNECT", "clientSecret": "connect-secret", "scopes": ["ZohoCRM.modules.ALL"]}},
    )
    started = operator.request(
        "mutation Start($input: StartConnectInput!) { startConnect(input: $input) { authorizationUrl } }",
        {"input": {"client": "crm-py", "userName": "connected-py@example.com"}},
    )
    # The person consents; the provider sends the browser to the callback at the public URL, which the
    # reverse proxy in front of the gateway (this test) hands to the gateway. No returnTo: a page.
    status, location = _get(started["startConnect"]["authorizationUrl"])
    assert status == 302
    callback = urllib.parse.urlsplit(location)
    assert f"{callback.scheme}://{callback.netloc}" == "https://tokens.example.com" and callback.path == "/oauth/callback"
    assert _get(f"{gateway.url}{callback.path}?{callback.query}")[0] == 200

    connected = operator.get_token(user_name="connected-py@example.com")
    assert (connected.client, connected.provider, connected.client_id, connected.status) == ("crm-py", "zoho", "1000.PYCONNECT", "ACTIVE")
    assert connected.access_token == accounts.issued[-1]
    # The grant exchange minted its first access token: one of the window's 10.
    assert (connected.budget.access_tokens_left, connected.budget.access_tokens_per_window) == (9, 10)
    # Saved without a client: None.
    assert operator.save_token(id="nc", refresh_token="nc-refresh").client is None


def test_no_api_key_in_any_message_or_repr(gateway):
    key = "wrong-key-0123456789abcdef"
    client = TokengateClient(gateway.url, key)
    with pytest.raises(TokengateError) as e:
        client.get_token("x")
    assert (e.value.code, e.value.status) == ("UNAUTHENTICATED", 401)
    shown = " ".join([str(e.value), repr(e.value), repr(e.value.errors), repr(client), str(vars(e.value))])
    assert key not in shown
    assert key not in repr(TokengateClient(f"http://user:{key}@127.0.0.1:1/", key))
    token = Token._from_api({"id": "1", "status": "ACTIVE", "hasAccessToken": True, "hasRefreshToken": True, "hasGrantToken": False,
                             "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00Z", "accessToken": "secret-access", "refreshToken": "secret-refresh"})
    assert "secret" not in repr(token)
    # Fields the answer leaves out take their defaults.
    assert (token.provider, token.client, token.throttled, token.throttled_until, token.budget) == ("zoho", None, False, None, None)


def test_network_error_timeout_and_bad_response(gateway):
    key = gateway.keys["operator"]
    # Nothing listens on a port that was just closed.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TokengateError) as e:
        TokengateClient(f"http://127.0.0.1:{port}", key).get_token("x")
    assert e.value.code == "NETWORK_ERROR"
    assert str(e.value) == f"NETWORK_ERROR: cannot reach tokengate at http://127.0.0.1:{port}/graphql (ECONNREFUSED)"

    # A server that takes the request and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with pytest.raises(TokengateError) as e:
            TokengateClient(f"http://127.0.0.1:{silent.getsockname()[1]}", key, timeout=0.2).get_token("x")
    assert e.value.code == "TIMEOUT" and key not in str(e.value)

    # A server that answers what is not the API: HTML with a 502, and a redirect (never followed).
    answers = iter([
        b"HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\ncontent-length: 24\r\nconnection: close\r\n\r\n<html>proxy error</html>",
        b"HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:1/graphql\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    ])
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()

        def serve() -> None:
            for answer in answers:
                conn, _ = srv.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(answer)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        client = TokengateClient(f"http://127.0.0.1:{srv.getsockname()[1]}", key)
        with pytest.raises(TokengateError) as e:
            client.get_token("x")
        assert (e.value.code, e.value.status) == ("BAD_RESPONSE", 502)
        with pytest.raises(TokengateError) as e:
            client.get_token("x")
        assert (e.value.code, e.value.status) == ("BAD_RESPONSE", 307)
        thread.join(timeout=10)


def test_refuses_bad_arguments_up_front():
    with pytest.raises(ValueError, match="absolute http"):
        TokengateClient("localhost:4000", "k" * 20)
    with pytest.raises(ValueError, match="api_key"):
        TokengateClient("http://127.0.0.1:4000", "")
    with pytest.raises(ValueError, match="api_key") as e:
        TokengateClient("http://127.0.0.1:4000", "has space")
    assert "has space" not in str(e.value)
    assert TokengateClient("http://127.0.0.1:4000/", "k").endpoint == "http://127.0.0.1:4000/graphql"
    client = TokengateClient("http://127.0.0.1:4000", "k")
    with pytest.raises(TypeError):
        client.save_token(nope=1)
    with pytest.raises(ValueError, match="timezone-aware"):
        client.save_token(expires_at=datetime.now())
    with pytest.raises(TypeError):
        client.get_token()
    with pytest.raises(TypeError):
        client.get_token("1", user_name="u")
