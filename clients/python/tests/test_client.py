"""TokengateClient against a real gateway process and a fake Zoho Accounts server."""

import socket
import threading
from datetime import datetime, timedelta, timezone

import pytest

from tokengate_client import Token, TokengateClient, TokengateError


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
    assert operator.get_token("t1").status == "THROTTLED"


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
