"""A token store for the Zoho CRM Python SDK 8.0 (``zohocrmsdk8_0``) that keeps the tokens in tokengate.

Every instance of an SDK app pointed at one gateway shares one set of tokens,
and the gateway refreshes them: the store hands the SDK the gateway's fresh
access token, so the SDK never refreshes by itself::

    from zohocrmsdk.src.com.zoho.api.authenticator import OAuthToken
    from tokengate_client.zoho import TokengateTokenStore

    store = TokengateTokenStore("http://127.0.0.1:4000", os.environ["TOKENGATE_API_KEY"])
    Initializer.initialize(environment=USDataCenter.PRODUCTION(), token=OAuthToken(id="42"), store=store)

The class subclasses the SDK's ``TokenStore`` when the SDK can be imported
(its ``initialize()`` refuses any other store), else it is a plain class with
the same six methods.
"""

from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

from .client import Token, TokengateClient
from .errors import TokengateError

try:  # The SDK's abstract TokenStore, when the SDK is installed.
    from zohocrmsdk.src.com.zoho.api.authenticator.store import TokenStore as _StoreBase
except ImportError:
    _StoreBase = object

try:
    from zohocrmsdk.src.com.zoho.api.authenticator import OAuthToken as _SdkOAuthToken
except ImportError:
    _SdkOAuthToken = None

try:
    from zohocrmsdk.src.com.zoho.crm.api import UserSignature as _SdkUserSignature
except ImportError:
    _SdkUserSignature = None

# Codes after which find_token hands over the stored token instead of failing.
_FALL_BACK_ON = {"REFRESH_FAILED", "UPSTREAM_UNAVAILABLE", "BAD_USER_INPUT", "TIMEOUT"}


def _present(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _expiry_of(at: Optional[datetime]) -> Optional[str]:
    """Zoho's expires_in (epoch milliseconds as a string) of an instant."""
    return None if at is None else str(int(at.timestamp() * 1000))


class TokengateTokenStore(_StoreBase):
    """The Zoho SDK's TokenStore over tokengate.

    Field mapping: the SDK's user signature name is tokengate's user name, its
    ``expires_in`` (epoch ms as a string) is ``expires_at``; ids are
    tokengate's. Errors are :class:`TokengateError` with the API's code.

    ``refresh="gateway"`` (the default): find_token and find_token_by_id ask
    the gateway for a valid access token (``refresh(id, force=False)``), so
    the SDK gets one good for minutes and never refreshes itself. Where the
    gateway cannot refresh (the provider refused or is down, or there is
    nothing to refresh with) the stored token is handed over and the SDK does
    what it would with any store. ``refresh="sdk"``: tokens are handed over
    as stored, and the SDK refreshes them itself and saves the result here.

    ``read_secrets=True`` also reads the refresh token, client secret and
    grant token (an admin key), for apps whose token names only an id or a
    user and that must be able to refresh by themselves.

    ``token_class`` and ``user_signature_class`` are the SDK's ``OAuthToken``
    and ``UserSignature`` by default (used to build the tokens of
    find_token_by_id and get_tokens).
    """

    def __init__(
        self,
        url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        client: Optional[TokengateClient] = None,
        refresh: str = "gateway",
        read_secrets: bool = False,
        timeout: float = 30.0,
        token_class: Any = None,
        user_signature_class: Any = None,
    ) -> None:
        if client is None:
            if url is None or api_key is None:
                raise TypeError("TokengateTokenStore: give url and api_key, or client")
            client = TokengateClient(url, api_key, secrets="all" if read_secrets else "access", timeout=timeout)
        if refresh not in ("gateway", "sdk"):
            raise ValueError("TokengateTokenStore: refresh must be 'gateway' or 'sdk'")
        self.client = client
        self._mode = refresh
        self._token_class = token_class or _SdkOAuthToken
        if self._token_class is None:
            raise TypeError("TokengateTokenStore: the Zoho SDK (zohocrmsdk8_0) cannot be imported: pass token_class (its OAuthToken)")
        self._signature_class = user_signature_class or _SdkUserSignature

    def find_token(self, token: Any) -> Any:
        """The SDK's find_token: the stored token that Zoho's lookup rules find for the SDK's token (user name,
        else access token, else grant token, else refresh token), filled into that same object (fields it
        lacks; in gateway mode the access token and its expiry are always the gateway's). None when none."""
        match = _match_of(token)
        if not any(_present(match.get(k)) for k in ("user_name", "access_token", "grant_token", "refresh_token")):
            return None
        found = self.client.get_token(**match)
        if found is None:
            return None
        current = self._fresh(found) if self._mode == "gateway" else (found, False)
        if current is None:
            return None
        _merge_into(token, current[0], current[1], self._signature_class)
        return token

    def find_token_by_id(self, id: str) -> Any:
        """The SDK's find_token_by_id: a new token of the SDK's class. Raises TokengateError NOT_FOUND for an
        unknown id (the SDK expects a token or an exception, never None)."""
        found = self.client.get_token(id)
        current = None if found is None else self._fresh(found) if self._mode == "gateway" else (found, False)
        if current is None:
            raise TokengateError("NOT_FOUND", f"no token with id {id}")
        return self._to_sdk_token(current[0])

    def save_token(self, token: Any) -> None:
        """The SDK's save_token: an upsert in the gateway (by id, else Zoho's lookup rules). Only the fields
        the token holds are written (None there means "not known here", never "clear it"); a grant token is
        left out once the token holds a refresh and an access token (grant tokens are single-use). Sets the
        id the gateway gave the token with set_id()."""
        saved = self.client.save_token(**_input_of(token))
        token.set_id(saved.id)

    def delete_token(self, id: str) -> None:
        """The SDK's delete_token; an unknown id is not an error."""
        self.client.delete_token(id)

    def get_tokens(self) -> List[Any]:
        """The SDK's get_tokens: every token (an empty list when none)."""
        return [self._to_sdk_token(t) for t in self.client.list_tokens()]

    def delete_tokens(self) -> None:
        """The SDK's delete_tokens (needs an admin key)."""
        self.client.delete_tokens()

    def _fresh(self, token: Token) -> Optional[Tuple[Token, bool]]:
        """The token with an access token the gateway made valid (True), the stored one where the gateway
        cannot refresh (False), or None when it was deleted meanwhile."""
        try:
            return self.client.refresh(token.id, force=False), True
        except TokengateError as err:
            if err.code == "NOT_FOUND":
                return None
            if err.code in _FALL_BACK_ON:
                return token, False
            raise

    def _to_sdk_token(self, g: Token) -> Any:
        t = self._token_class(
            client_id=g.client_id,
            client_secret=g.client_secret,
            grant_token=g.grant_token,
            refresh_token=g.refresh_token,
            redirect_url=g.redirect_url,
            id=g.id,
            access_token=g.access_token,
            user_signature=self._signature_class(g.user_name) if g.user_name and self._signature_class else None,
            api_domain=g.api_domain,
        )
        expiry = _expiry_of(g.expires_at)
        if expiry is not None:
            t.set_expires_in(expiry)
        return t


def _user_name(t: Any) -> Optional[str]:
    signature = t.get_user_signature()
    return None if signature is None else signature.get_name()


def _match_of(t: Any) -> Dict[str, str]:
    """get_token's match keywords from an SDK token: its non-empty fields."""
    values = {
        "user_name": _user_name(t),
        "access_token": t.get_access_token(),
        "refresh_token": t.get_refresh_token(),
        "grant_token": t.get_grant_token(),
        "client_id": t.get_client_id(),
        "client_secret": t.get_client_secret(),
    }
    return {k: v for k, v in values.items() if _present(v)}


def _input_of(t: Any) -> Dict[str, Any]:
    """save_token's keywords from an SDK token: its non-empty fields."""
    values = {
        "id": t.get_id(),
        "user_name": _user_name(t),
        "client_id": t.get_client_id(),
        "client_secret": t.get_client_secret(),
        "refresh_token": t.get_refresh_token(),
        "access_token": t.get_access_token(),
        "redirect_url": t.get_redirect_url(),
        "api_domain": t.get_api_domain(),
    }
    if not (_present(values["refresh_token"]) and _present(values["access_token"])):
        values["grant_token"] = t.get_grant_token()
    fields = {k: v for k, v in values.items() if v is not None and v != ""}
    expires_in = t.get_expires_in()
    if expires_in is not None and str(expires_in).isdigit() and len(str(expires_in)) <= 16:
        fields["expires_at"] = datetime.fromtimestamp(int(expires_in) / 1000, tz=timezone.utc)
    return fields


def _merge_into(t: Any, g: Token, gateway_wins: bool, signature_class: Any) -> None:
    """Fills an SDK token from a gateway token (a field already set on it is kept); with gateway_wins the
    access token and its expiry are the gateway's in any case."""
    if t.get_id() is None:
        t.set_id(g.id)
    if t.get_user_signature() is None and g.user_name and signature_class is not None:
        t.set_user_signature(signature_class(g.user_name))
    for name, value in (
        ("client_id", g.client_id),
        ("client_secret", g.client_secret),
        ("refresh_token", g.refresh_token),
        ("grant_token", g.grant_token),
        ("redirect_url", g.redirect_url),
        ("api_domain", g.api_domain),
    ):
        if not getattr(t, f"get_{name}")() and value:
            getattr(t, f"set_{name}")(value)
    if (gateway_wins and g.access_token) or not t.get_access_token():
        t.set_access_token(g.access_token)
        expiry = _expiry_of(g.expires_at)
        if expiry is not None:
            t.set_expires_in(expiry)
