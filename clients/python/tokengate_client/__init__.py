"""tokengate_client: a client of the tokengate API (standard library only, Python 3.9+).

    from tokengate_client import TokengateClient, TokengateError
    tg = TokengateClient("http://127.0.0.1:4000", os.environ["TOKENGATE_API_KEY"])
    access_token = tg.get_access_token("42")

The Zoho CRM Python SDK token store is in ``tokengate_client.zoho``.
"""

from .client import Token, TokenBudget, TokengateClient, TokenPage
from .errors import TokengateError

__all__ = ["TokengateClient", "TokengateError", "Token", "TokenBudget", "TokenPage"]
__version__ = "0.1.0"
