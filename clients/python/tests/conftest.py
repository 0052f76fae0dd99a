"""Fixtures: a fake Zoho Accounts server (a real HTTP server on 127.0.0.1) and a real tokengate gateway
process (``node dist/cli/tokengate.js serve``, SQLite in a temporary directory) pointed at it."""

import base64
import json
import os
import secrets
import shutil
import subprocess
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CLI = ROOT / "dist" / "cli" / "tokengate.js"
PUBLIC_URL = "https://tokens.example.com"


class FakeAccounts:
    """Zoho Accounts' token and revoke endpoints, and the consent step of the connect flow (``GET /oauth/v2/auth``,
    answered at once with a 302 back to ``redirect_uri``, its code exchanged once by ``grant_type=authorization_code``):
    clients, refresh tokens, and the access tokens it issued."""

    def __init__(self) -> None:
        self.clients = {}
        self.refresh_tokens = {}  # refresh token -> client id
        self.codes = {}  # authorization code -> (client id, redirect URI), until exchanged
        self.issued = []  # access tokens, in order
        self.requests = []  # grant types (or "revoke"), in order
        self.failures = []  # OAuth errors the token endpoint answers next, in order (e.g. "access_denied": Zoho's rate limit)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("content-length") or 0)
                params = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                params.update(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                path = urllib.parse.urlsplit(self.path).path
                with fake._lock:
                    answer = fake._revoke(params) if path == "/oauth/v2/token/revoke" else fake._token(params)
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json;charset=UTF-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                parts = urllib.parse.urlsplit(self.path)
                params = dict(urllib.parse.parse_qsl(parts.query))
                with fake._lock:
                    location = fake._consent(params) if parts.path == "/oauth/v2/auth" else None
                self.send_response(302 if location else 400)
                if location:
                    self.send_header("location", location)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def add_client(self, client_id: str, client_secret: str) -> None:
        self.clients[client_id] = client_secret

    def add_refresh_token(self, client_id: str) -> str:
        token = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        self.refresh_tokens[token] = client_id
        return token

    def count(self, kind: str) -> int:
        return self.requests.count(kind)

    def _token(self, params: dict) -> dict:
        self.requests.append(params.get("grant_type"))
        if self.failures:
            return {"error": self.failures.pop(0)}
        client_id = params.get("client_id")
        if client_id not in self.clients or self.clients[client_id] != params.get("client_secret"):
            return {"error": "invalid_client"}
        answer = {}
        if params.get("grant_type") == "authorization_code":
            # Single use, by the client it was issued to, with the redirect URI of the consent.
            if self.codes.pop(params.get("code"), None) != (client_id, params.get("redirect_uri")):
                return {"error": "invalid_code"}
            answer["refresh_token"] = self.add_refresh_token(client_id)
        elif params.get("grant_type") != "refresh_token":
            return {"error": "unsupported_grant_type"}
        elif self.refresh_tokens.get(params.get("refresh_token")) != client_id:
            return {"error": "invalid_code"}
        access_token = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        self.issued.append(access_token)
        return {"access_token": access_token, **answer, "api_domain": "https://www.zohoapis.com", "token_type": "Bearer", "expires_in": 3600}

    def _consent(self, params: dict):
        """The person consents at once: the redirect back with a code, the state, and the data center (this server)."""
        client_id, redirect_uri = params.get("client_id"), params.get("redirect_uri")
        if client_id not in self.clients or params.get("response_type") != "code" or not redirect_uri:
            return None
        code = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        self.codes[code] = (client_id, redirect_uri)
        query = urllib.parse.urlencode({"code": code, "state": params.get("state", ""), "location": "us", "accounts-server": self.url})
        return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}"

    def _revoke(self, params: dict) -> dict:
        self.requests.append("revoke")
        if self.refresh_tokens.pop(params.get("token"), None) is not None:
            return {"status": "success"}
        return {"error": "invalid_code"}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Gateway:
    """A tokengate process on a port of its choosing, with admin, operator and viewer keys."""

    def __init__(self, accounts_url: str, data_dir: Path) -> None:
        if not CLI.exists():
            raise RuntimeError(f"{CLI} is missing: run `npm run build` first (npm test does)")
        self.keys = {role: f"{role}-{secrets.token_hex(16)}" for role in ("admin", "operator", "viewer")}
        env = {
            "PATH": os.environ.get("PATH", ""),
            "TOKENGATE_HOST": "127.0.0.1",
            "TOKENGATE_PORT": "0",
            "TOKENGATE_STORE": "sqlite",
            "TOKENGATE_DATA_DIR": str(data_dir),
            "TOKENGATE_API_KEYS": ",".join(f"{role}:{key}" for role, key in self.keys.items()),
            "TOKENGATE_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "TOKENGATE_ACCOUNTS_URL": accounts_url,
            # The external origin of a reverse proxy in front of the gateway (the connect flow's callback is below it);
            # a test that takes the provider's redirect to the callback sends it to self.url, as that proxy would.
            "TOKENGATE_PUBLIC_URL": PUBLIC_URL,
            "TOKENGATE_REFRESH_CHECK_SECONDS": "0",
            "TOKENGATE_LOG_LEVEL": "info",
        }
        node = os.environ.get("npm_node_execpath") or shutil.which("node") or "node"
        self.process = subprocess.Popen([node, str(CLI), "serve"], cwd=str(data_dir), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output = []
        # The gateway logs "tokengate serving on http://host:port/graphql" once it listens (port 0: its own).
        for line in self.process.stdout:
            self.output.append(line)
            try:
                msg = json.loads(line).get("msg", "")
            except ValueError:
                continue
            if msg.startswith("tokengate serving on "):
                self.url = msg[len("tokengate serving on ") :].rsplit("/graphql", 1)[0]
                break
        else:
            self.process.wait()
            raise RuntimeError(f"the gateway exited with {self.process.returncode} before serving:\n{''.join(self.output)}")
        # Keep reading its log, so that it never blocks on a full pipe.
        self._reader = threading.Thread(target=lambda: self.output.extend(self.process.stdout), daemon=True)
        self._reader.start()

    def log(self) -> str:
        return "".join(self.output)

    def stop(self) -> int:
        self.process.terminate()
        code = self.process.wait(timeout=30)
        self._reader.join(timeout=30)
        return code


@pytest.fixture(scope="session")
def accounts():
    server = FakeAccounts()
    yield server
    server.close()


@pytest.fixture(scope="session")
def gateway(accounts, tmp_path_factory):
    gw = Gateway(accounts.url, tmp_path_factory.mktemp("tokengate-data"))
    yield gw
    assert gw.stop() == 0, gw.log()
