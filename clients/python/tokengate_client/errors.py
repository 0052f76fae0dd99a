"""The one error of the tokengate client."""

from typing import Any, Dict, List, Optional


class TokengateError(Exception):
    """The error of every failed call.

    ``code`` is the API's ``extensions.code`` (``UNAUTHENTICATED``,
    ``FORBIDDEN``, ``BAD_USER_INPUT``, ``NOT_FOUND``, ``REFRESH_FAILED``,
    ``UPSTREAM_UNAVAILABLE``, ``THROTTLED``, ``STORE_UNAVAILABLE``,
    ``INTERNAL_SERVER_ERROR``, ...), or, when no
    answer came, one of the client's own: ``NETWORK_ERROR`` (the gateway could
    not be reached), ``TIMEOUT``, ``BAD_RESPONSE`` (an answer that is not the
    API's). ``oauth_error`` is the provider's OAuth error code with
    ``REFRESH_FAILED`` (e.g. ``invalid_code``). ``retry_after`` is the seconds
    to wait before retrying, with ``THROTTLED`` and ``STORE_UNAVAILABLE``
    (else None). The message never holds the API key or a secret.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        oauth_error: Optional[str] = None,
        status: Optional[int] = None,
        retry_after: Optional[int] = None,
        request_id: Optional[str] = None,
        errors: Optional[List[Dict[str, Any]]] = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.oauth_error = oauth_error
        #: The HTTP status of the answer; None when none came.
        self.status = status
        #: Seconds to wait before retrying: the answer's Retry-After header (STORE_UNAVAILABLE), else the
        #: error's extensions.retryAfter (THROTTLED); None when neither.
        self.retry_after = retry_after
        #: The gateway's X-Request-Id of the request, to find it in the gateway's log.
        self.request_id = request_id
        #: Every error of the answer (the first is this one): dicts of message, code and maybe path.
        self.errors = errors if errors is not None else [{"message": message, "code": code}]

    def __str__(self) -> str:
        oauth = f" ({self.oauth_error})" if self.oauth_error else ""
        return f"{self.code}{oauth}: {self.message}"

    def __repr__(self) -> str:
        return f"TokengateError(code={self.code!r}, message={self.message!r}, oauth_error={self.oauth_error!r}, status={self.status!r}, retry_after={self.retry_after!r})"
