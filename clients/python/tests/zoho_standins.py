"""Stand-ins for the Zoho CRM Python SDK 8.0's OAuthToken and UserSignature, of the same shape (constructor
keywords, private fields, get_/set_ pairs), and its token flow as far as it touches the store."""

import time


class UserSignature:
    def __init__(self, name):
        self.__name = name

    def get_name(self):
        return self.__name


class OAuthToken:
    def __init__(self, client_id=None, client_secret=None, grant_token=None, refresh_token=None, redirect_url=None, id=None,
                 access_token=None, user_signature=None, api_domain=None):
        self.__client_id = client_id
        self.__client_secret = client_secret
        self.__grant_token = grant_token
        self.__refresh_token = refresh_token
        self.__redirect_url = redirect_url
        self.__id = id
        self.__access_token = access_token
        self.__user_signature = user_signature
        self.__api_domain = api_domain
        self.__expires_in = None

    def get_client_id(self): return self.__client_id
    def set_client_id(self, v): self.__client_id = v
    def get_client_secret(self): return self.__client_secret
    def set_client_secret(self, v): self.__client_secret = v
    def get_redirect_url(self): return self.__redirect_url
    def set_redirect_url(self, v): self.__redirect_url = v
    def get_grant_token(self): return self.__grant_token
    def set_grant_token(self, v): self.__grant_token = v
    def get_refresh_token(self): return self.__refresh_token
    def set_refresh_token(self, v): self.__refresh_token = v
    def get_access_token(self): return self.__access_token
    def set_access_token(self, v): self.__access_token = v
    def get_id(self): return self.__id
    def set_id(self, v): self.__id = v
    def get_expires_in(self): return self.__expires_in
    def set_expires_in(self, v): self.__expires_in = v
    def get_user_signature(self): return self.__user_signature
    def set_user_signature(self, v): self.__user_signature = v
    def get_api_domain(self): return self.__api_domain
    def set_api_domain(self, v): self.__api_domain = v


class SdkWouldRefresh(Exception):
    """Raised where the SDK would refresh (or exchange a grant) by itself."""


def sdk_get_token(store, token):
    """The SDK's token flow as it uses the store: find_token_by_id when the app's token names an id, else
    find_token (which fills the app's own object); it refreshes by itself when there is no token or fewer
    than 5 seconds remain. Returns the access token the SDK would use."""
    if token.get_id() is not None:
        found = store.find_token_by_id(token.get_id())
        # The SDK copies the found token's fields into the app's token.
        for name in ("client_id", "client_secret", "refresh_token", "access_token", "expires_in", "api_domain", "redirect_url"):
            if getattr(found, f"get_{name}")() is not None:
                getattr(token, f"set_{name}")(getattr(found, f"get_{name}")())
    else:
        found = store.find_token(token)
        if found is None:
            raise SdkWouldRefresh("no stored token")
        assert found is token, "find_token must return the app's own object"
    expires_in = token.get_expires_in()
    if expires_in is None or int(expires_in) - int(time.time() * 1000) < 5000:
        raise SdkWouldRefresh(f"expires_in={expires_in}")
    return token.get_access_token()
