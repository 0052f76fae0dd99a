"""A client of the tokengate GraphQL API over urllib (standard library only)."""

import errno
import http.client
import json
import math
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Iterator, List, Optional, Union

from .errors import TokengateError

_TOKEN_FIELDS = (
    "id userName clientId redirectUrl apiDomain accountsUrl expiresAt status hasAccessToken hasRefreshToken "
    "hasGrantToken lastRefreshedAt lastError provider client throttled throttledUntil createdAt updatedAt "
    "budget { accessTokensLeft accessTokensPerWindow windowSeconds resetsAt nextAt }"
)
_SECRET_SELECTION = {
    "none": "",
    "access": " accessToken",
    "all": " accessToken refreshToken clientSecret grantToken",
}
# save_token's keywords and the API's TokenInput fields.
_INPUT_FIELDS = {
    "id": "id",
    "user_name": "userName",
    "client_id": "clientId",
    "client_secret": "clientSecret",
    "access_token": "accessToken",
    "refresh_token": "refreshToken",
    "grant_token": "grantToken",
    "redirect_url": "redirectUrl",
    "api_domain": "apiDomain",
    "accounts_url": "accountsUrl",
    "provider": "provider",
    "expires_at": "expiresAt",
    "expires_in": "expiresIn",
}
# get_token's keywords and the API's TokenMatchInput fields.
_MATCH_FIELDS = {
    "user_name": "userName",
    "access_token": "accessToken",
    "refresh_token": "refreshToken",
    "grant_token": "grantToken",
    "client_id": "clientId",
    "client_secret": "clientSecret",
}
_PRINTABLE_KEY = re.compile(r"^[\x21-\x7e]+$")


def _instant(value: Optional[str]) -> Optional[datetime]:
    if value is None:
        return None
    # fromisoformat takes no "Z" before Python 3.11.
    return datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)


@dataclass(frozen=True)
class TokenBudget:
    """What is left of a token's issuing budget now, by the governor's counters."""

    #: Access tokens a caller may still have minted now (0 while the provider blocks the token).
    access_tokens_left: int
    #: The provider's access tokens per window.
    access_tokens_per_window: int
    #: The rolling window, in seconds.
    window_seconds: int
    #: When every mint counted now has left the window (the whole budget is back); None when none is counted.
    resets_at: Optional[datetime]
    #: When the next access token may be minted, when none may be now; None when one may.
    next_at: Optional[datetime]

    @classmethod
    def _from_api(cls, raw: Optional[Dict[str, Any]]) -> Optional["TokenBudget"]:
        if raw is None:
            return None
        return cls(
            access_tokens_left=raw["accessTokensLeft"],
            access_tokens_per_window=raw["accessTokensPerWindow"],
            window_seconds=raw["windowSeconds"],
            resets_at=_instant(raw.get("resetsAt")),
            next_at=_instant(raw.get("nextAt")),
        )


@dataclass(frozen=True)
class Token:
    """A stored token. The secret fields are present as the client's ``secrets`` asks, and never shown by repr()."""

    id: str
    #: The CRM user's name (Zoho's user signature).
    user_name: Optional[str]
    client_id: Optional[str]
    redirect_url: Optional[str]
    api_domain: Optional[str]
    #: Where this token refreshes.
    accounts_url: Optional[str]
    #: When the access token expires (timezone-aware, UTC).
    expires_at: Optional[datetime]
    #: ACTIVE, EXPIRING, EXPIRED, PENDING_GRANT, FAILED or THROTTLED.
    status: str
    has_access_token: bool
    has_refresh_token: bool
    has_grant_token: bool
    last_refreshed_at: Optional[datetime]
    #: The provider's error code of the last failed refresh.
    last_error: Optional[str]
    created_at: datetime
    updated_at: datetime
    access_token: Optional[str] = field(default=None, repr=False)
    refresh_token: Optional[str] = field(default=None, repr=False)
    client_secret: Optional[str] = field(default=None, repr=False)
    grant_token: Optional[str] = field(default=None, repr=False)
    #: The provider profile the token belongs to: "zoho" unless saved with another.
    provider: str = "zoho"
    #: The OAuth client the token was connected through (its name); None for a token saved or imported without one.
    client: Optional[str] = None
    #: True on a refresh() result that is the held, still valid access token because the governor would not mint.
    throttled: bool = False
    #: Until when the provider's issuing limits hold the token back (timezone-aware, UTC); None unless status is THROTTLED.
    throttled_until: Optional[datetime] = None
    #: What is left of the token's issuing budget now; None when its provider limits no access tokens per window.
    budget: Optional[TokenBudget] = None

    @classmethod
    def _from_api(cls, raw: Dict[str, Any]) -> "Token":
        return cls(
            id=raw["id"],
            user_name=raw.get("userName"),
            client_id=raw.get("clientId"),
            redirect_url=raw.get("redirectUrl"),
            api_domain=raw.get("apiDomain"),
            accounts_url=raw.get("accountsUrl"),
            expires_at=_instant(raw.get("expiresAt")),
            status=raw["status"],
            has_access_token=raw["hasAccessToken"],
            has_refresh_token=raw["hasRefreshToken"],
            has_grant_token=raw["hasGrantToken"],
            last_refreshed_at=_instant(raw.get("lastRefreshedAt")),
            last_error=raw.get("lastError"),
            created_at=_instant(raw["createdAt"]),
            updated_at=_instant(raw["updatedAt"]),
            access_token=raw.get("accessToken"),
            refresh_token=raw.get("refreshToken"),
            client_secret=raw.get("clientSecret"),
            grant_token=raw.get("grantToken"),
            provider=raw.get("provider", "zoho"),
            client=raw.get("client"),
            throttled=raw.get("throttled", False),
            throttled_until=_instant(raw.get("throttledUntil")),
            budget=TokenBudget._from_api(raw.get("budget")),
        )


@dataclass(frozen=True)
class TokenPage:
    """One page of tokens; pass ``end_cursor`` as ``after`` for the next."""

    nodes: List[Token]
    total_count: int
    end_cursor: Optional[str]
    has_next_page: bool


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Refuses redirects: urllib would resend the Authorization header to wherever they point."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 (urllib's hook)
        return None


class TokengateClient:
    """A client of the tokengate API for scripts.

    Every method returns the API's answer or raises :class:`TokengateError`
    carrying the API's ``extensions.code``::

        tg = TokengateClient("http://127.0.0.1:4000", os.environ["TOKENGATE_API_KEY"])
        access_token = tg.get_access_token("42")  # refreshed first when about to expire

    ``secrets`` chooses the secret fields read: ``"none"`` (any key, viewers
    included), ``"access"`` (the access token; operator and admin keys, the
    default) or ``"all"`` (also the refresh token, client secret and grant
    token; admin keys). ``timeout`` is in seconds, per request.
    """

    def __init__(self, url: str, api_key: str, *, secrets: str = "access", timeout: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("TokengateClient: url must be an absolute http(s) URL such as http://127.0.0.1:4000")
        path = parts.path.rstrip("/")
        if not path.endswith("/graphql"):
            path += "/graphql"
        #: The GraphQL endpoint.
        self.endpoint = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
        # The endpoint as messages show it: without any user:password@.
        self._where = urllib.parse.urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], path, "", ""))
        if not isinstance(api_key, str) or not _PRINTABLE_KEY.match(api_key):
            raise ValueError("TokengateClient: api_key must be a non-empty key of printable characters")
        self._api_key = api_key
        if secrets not in _SECRET_SELECTION:
            raise ValueError("TokengateClient: secrets must be 'none', 'access' or 'all'")
        self._selection = _TOKEN_FIELDS + _SECRET_SELECTION[secrets]
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError("TokengateClient: timeout must be a positive number of seconds")
        self.timeout = float(timeout)
        self._opener = urllib.request.build_opener(_NoRedirects)

    def __repr__(self) -> str:
        return f"TokengateClient({self._where!r})"

    def get_access_token(self, id: Union[str, int]) -> str:
        """A valid access token of a token: ``refresh(id, force=False)``, so it is refreshed only when it has
        expired or is about to. Raises TokengateError (NOT_FOUND, REFRESH_FAILED, UPSTREAM_UNAVAILABLE, ...)."""
        data = self.request("mutation AccessToken($id: ID!) { refresh(id: $id, force: false) { accessToken } }", {"id": str(id)})
        access_token = data["refresh"].get("accessToken")
        if not access_token:
            raise TokengateError("BAD_RESPONSE", "the gateway answered without an access token")
        return access_token

    def get_token(self, id: Union[str, int, None] = None, **match: Optional[str]) -> Optional[Token]:
        """A token by id, or by Zoho's lookup rules: ``get_token(user_name=...)`` (else ``access_token``,
        ``grant_token``, ``refresh_token``; ``client_id``/``client_secret`` narrow it). None where there is none."""
        unknown = set(match) - set(_MATCH_FIELDS)
        if unknown:
            raise TypeError(f"get_token: unknown keyword(s) {', '.join(sorted(unknown))}")
        if id is not None:
            if match:
                raise TypeError("get_token: give an id or match keywords, not both")
            data = self.request(f"query TokenById($id: ID!) {{ tokenById(id: $id) {{ {self._selection} }} }}", {"id": str(id)})
            raw = data["tokenById"]
        else:
            if not match:
                raise TypeError("get_token: give an id, or user_name=, access_token=, grant_token= or refresh_token=")
            variables = {"match": {_MATCH_FIELDS[k]: v for k, v in match.items()}}
            data = self.request(f"query FindToken($match: TokenMatchInput!) {{ token(match: $match) {{ {self._selection} }} }}", variables)
            raw = data["token"]
        return None if raw is None else Token._from_api(raw)

    def list_page(self, first: int = 100, after: Optional[str] = None) -> TokenPage:
        """One page of tokens in a stable order (``first`` 1..1000)."""
        data = self.request(
            f"query Tokens($first: Int, $after: String) {{ tokens(first: $first, after: $after) {{ nodes {{ {self._selection} }} totalCount endCursor hasNextPage }} }}",
            {"first": first, "after": after},
        )
        page = data["tokens"]
        return TokenPage(
            nodes=[Token._from_api(t) for t in page["nodes"]],
            total_count=page["totalCount"],
            end_cursor=page["endCursor"],
            has_next_page=page["hasNextPage"],
        )

    def list_tokens(self, page_size: int = 500) -> Iterator[Token]:
        """Every token, reading a page of ``page_size`` at a time as the iteration goes."""
        after = None
        while True:
            page = self.list_page(first=page_size, after=after)
            yield from page.nodes
            if not page.has_next_page:
                return
            after = page.end_cursor

    def save_token(self, **fields: Any) -> Token:
        """Upserts a token (by ``id``, else Zoho's lookup rules); never makes a duplicate. Needs an operator key.

        Keywords: id, user_name, client_id, client_secret, access_token, refresh_token, grant_token,
        redirect_url, api_domain, accounts_url, provider (a registered provider's name, default "zoho"; fixed when
        the token is first saved, and never cleared), expires_at (an aware datetime or ISO string) or expires_in
        (seconds from now). A keyword left out keeps the stored value; None clears it.
        """
        unknown = set(fields) - set(_INPUT_FIELDS)
        if unknown:
            raise TypeError(f"save_token: unknown keyword(s) {', '.join(sorted(unknown))}")
        expires_at = fields.get("expires_at")
        if isinstance(expires_at, datetime):
            if expires_at.tzinfo is None:
                raise ValueError("save_token: expires_at must be timezone-aware (e.g. datetime.now(timezone.utc))")
            fields["expires_at"] = expires_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        if fields.get("id") is not None:
            fields["id"] = str(fields["id"])
        token = {_INPUT_FIELDS[k]: v for k, v in fields.items()}
        data = self.request(f"mutation SaveToken($token: TokenInput!) {{ saveToken(token: $token) {{ {self._selection} }} }}", {"token": token})
        return Token._from_api(data["saveToken"])

    def refresh(self, id: Union[str, int], force: bool = True) -> Token:
        """Gets a new access token from the provider; with ``force=False`` only when the token is not ACTIVE.
        Concurrent calls, from any number of clients, share one upstream refresh. Needs an operator key."""
        data = self.request(
            f"mutation Refresh($id: ID!, $force: Boolean) {{ refresh(id: $id, force: $force) {{ {self._selection} }} }}",
            {"id": str(id), "force": bool(force)},
        )
        return Token._from_api(data["refresh"])

    def delete_token(self, id: Union[str, int]) -> bool:
        """Deletes a token. False where there was none. Needs an operator key."""
        return self.request("mutation DeleteToken($id: ID!) { deleteToken(id: $id) }", {"id": str(id)})["deleteToken"]

    def delete_tokens(self) -> int:
        """Deletes every token; returns how many. Needs an admin key."""
        return self.request("mutation DeleteTokens { deleteTokens }")["deleteTokens"]

    def revoke_token(self, id: Union[str, int]) -> bool:
        """Revokes the token at the provider, then deletes it. False where there was none. Needs an operator key."""
        return self.request("mutation RevokeToken($id: ID!) { revokeToken(id: $id) }", {"id": str(id)})["revokeToken"]

    def request(self, query: str, variables: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Sends one GraphQL operation and returns its ``data``. Any error in the answer raises, with the
        first error's code (a field the key may not read included)."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode("utf-8")
        req = urllib.request.Request(
            self.endpoint,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Accept": "application/json", "Authorization": f"Bearer {self._api_key}"},
        )
        try:
            try:
                with self._opener.open(req, timeout=self.timeout) as res:
                    status, request_id, text = res.status, res.headers.get("x-request-id"), res.read()
                    retry_header = res.headers.get("retry-after")
            except urllib.error.HTTPError as err:
                # An answer with an error status: the API's errors are in its body.
                try:
                    status, request_id, text = err.code, err.headers.get("x-request-id"), err.read()
                    retry_header = err.headers.get("retry-after")
                finally:
                    err.close()
        except (socket.timeout, TimeoutError):
            raise TokengateError("TIMEOUT", f"tokengate at {self._where} did not answer within {self.timeout:g} s") from None
        except urllib.error.URLError as err:
            if isinstance(err.reason, (socket.timeout, TimeoutError)):
                raise TokengateError("TIMEOUT", f"tokengate at {self._where} did not answer within {self.timeout:g} s") from None
            raise TokengateError("NETWORK_ERROR", f"cannot reach tokengate at {self._where}{_reason(err.reason)}") from err
        except (OSError, http.client.HTTPException) as err:
            raise TokengateError("NETWORK_ERROR", f"cannot reach tokengate at {self._where}{_reason(err)}") from err

        try:
            answer = json.loads(text.decode("utf-8"))
        except ValueError:
            raise TokengateError(
                "BAD_RESPONSE", f"tokengate at {self._where} answered HTTP {status} with a body that is not JSON", status=status, request_id=request_id
            ) from None
        errors = answer.get("errors") if isinstance(answer, dict) else None
        if isinstance(errors, list) and errors:
            listed = []
            for e in errors:
                e = e if isinstance(e, dict) else {}
                ext = e.get("extensions") if isinstance(e.get("extensions"), dict) else {}
                item = {
                    "message": e["message"] if isinstance(e.get("message"), str) else "unknown error",
                    "code": ext["code"] if isinstance(ext.get("code"), str) else "INTERNAL_SERVER_ERROR",
                }
                if isinstance(e.get("path"), list):
                    item["path"] = e["path"]
                listed.append(item)
            first = errors[0] if isinstance(errors[0], dict) else {}
            ext = first.get("extensions") if isinstance(first.get("extensions"), dict) else {}
            oauth_error = ext.get("oauthError") if isinstance(ext.get("oauthError"), str) else None
            retry_after = _retry_after(retry_header, ext.get("retryAfter"))
            raise TokengateError(
                listed[0]["code"], listed[0]["message"], oauth_error=oauth_error, status=status, retry_after=retry_after, request_id=request_id, errors=listed
            )
        data = answer.get("data") if isinstance(answer, dict) else None
        if status >= 400 or not isinstance(data, dict):
            raise TokengateError("BAD_RESPONSE", f"tokengate at {self._where} answered HTTP {status} without data", status=status, request_id=request_id)
        return data


def _retry_after(header: Optional[str], extension: Any) -> Optional[int]:
    """Seconds to wait: the answer's Retry-After header (STORE_UNAVAILABLE) wins, else the error's
    extensions.retryAfter (THROTTLED); None when neither is a count of seconds."""
    if header is not None and re.fullmatch(r"[0-9]{1,6}", header.strip()):
        return int(header.strip())
    if isinstance(extension, (int, float)) and not isinstance(extension, bool) and math.isfinite(extension) and extension >= 0:
        return math.ceil(extension)
    return None


def _reason(reason: Any) -> str:
    """" (ECONNREFUSED)" for a socket error; "" when there is no code to show."""
    code = getattr(reason, "errno", None)
    if isinstance(code, int) and code in errno.errorcode:
        return f" ({errno.errorcode[code]})"
    if isinstance(reason, socket.gaierror):
        return " (ENOTFOUND)"
    return ""
