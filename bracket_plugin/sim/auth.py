"""Request authentication for the simulator, written from the exchanges' documentation.

Independent of ccxt on purpose: the simulator must catch a client that signs wrongly, so it may
not reuse the client's own signing code. Pure functions; the caller passes the wall-clock time.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

KUCOIN_TIMESTAMP_WINDOW_MS = 5_000  # KuCoin: KC-API-TIMESTAMP within 5 s of server time
CRYPTOCOM_NONCE_WINDOW_MS = 60_000  # Crypto.com: nonce within 60 s of server time


@dataclass(frozen=True)
class Credentials:
    api_key: str
    secret: str
    passphrase: str | None = None  # KuCoin only

    def __repr__(self) -> str:  # secrets never reach logs or tracebacks
        return f"Credentials(api_key={self.api_key[:4]}…)"


@dataclass(frozen=True)
class AuthFailure:
    """Why a request was refused: the exchange's own code, HTTP status and message."""

    code: str
    status: int
    message: str


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _hmac_sha256(secret: str, payload: str) -> bytes:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()


# --- KuCoin ---------------------------------------------------------------------------------

def kucoin_signature(secret: str, timestamp: str, method: str, endpoint: str, body: str) -> str:
    """base64(HMAC-SHA256(secret, timestamp + METHOD + endpoint(+?query) + body))."""
    return base64.b64encode(_hmac_sha256(secret, timestamp + method.upper() + endpoint + body)).decode()


def kucoin_passphrase(secret: str, passphrase: str) -> str:
    """Key versions 2 and 3 send base64(HMAC-SHA256(secret, passphrase))."""
    return base64.b64encode(_hmac_sha256(secret, passphrase)).decode()


def _kucoin_fail(code: str, message: str) -> AuthFailure:
    # KuCoin answers authentication failures with HTTP 401 (its "Unauthorized -- Invalid API Key" row)
    return AuthFailure(code, 401, message)


def kucoin_verify(headers, method: str, endpoints: list[str], body: str, creds: Credentials, now_ms: int) -> AuthFailure | None:
    """Check the KC-API-* headers of one request. `endpoints` lists acceptable spellings of the
    signed path+query (as sent on the wire, and percent-decoded), since clients differ on quoting."""
    get = lambda name: headers.get(name)  # noqa: E731  (case-insensitive mapping from aiohttp)
    key, sign, ts, phrase = get("KC-API-KEY"), get("KC-API-SIGN"), get("KC-API-TIMESTAMP"), get("KC-API-PASSPHRASE")
    version = get("KC-API-KEY-VERSION") or "1"
    if not key or not sign or not ts or phrase is None:
        return _kucoin_fail("400001", "Please check the header of your request for KC-API-KEY, KC-API-SIGN, KC-API-TIMESTAMP, KC-API-PASSPHRASE")
    try:
        ts_ms = int(ts)
    except ValueError:
        return _kucoin_fail("400002", "Invalid KC-API-TIMESTAMP")
    if abs(now_ms - ts_ms) > KUCOIN_TIMESTAMP_WINDOW_MS:
        return _kucoin_fail("400002", "Invalid KC-API-TIMESTAMP")
    if not _same(key, creds.api_key):
        return _kucoin_fail("400003", "KC-API-KEY not exists")
    if version not in ("1", "2", "3"):
        return _kucoin_fail("400009", "Invalid KC-API-KEY-VERSION")
    expected_phrase = creds.passphrase or ""
    if version != "1":
        expected_phrase = kucoin_passphrase(creds.secret, expected_phrase)
    if not _same(phrase, expected_phrase):
        return _kucoin_fail("400004", "Invalid KC-API-PASSPHRASE")
    for endpoint in endpoints:
        if _same(sign, kucoin_signature(creds.secret, ts, method, endpoint, body)):
            return None
    return _kucoin_fail("400005", "Invalid KC-API-SIGN")


# --- Crypto.com -----------------------------------------------------------------------------

def _scalar(value) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def cryptocom_param_string(params) -> str:
    """The documented parameter string: keys ascending, key then value with no separators; a list
    writes its elements in order (the key once); a dict element writes its own sorted pairs."""
    if not params:
        return ""
    out = []
    for key in sorted(params):
        out.append(key)
        out.append(_value_string(params[key]))
    return "".join(out)


def _value_string(value) -> str:
    if isinstance(value, dict):
        return cryptocom_param_string(value)
    if isinstance(value, list):
        return "".join(_value_string(v) for v in value)
    return _scalar(value)


def cryptocom_signature(secret: str, method: str, req_id, api_key: str, params, nonce) -> str:
    """hex(HMAC-SHA256(secret, method + id + api_key + paramString + nonce))."""
    payload = method + _scalar(req_id) + api_key + cryptocom_param_string(params or {}) + _scalar(nonce)
    return _hmac_sha256(secret, payload).hex()


def cryptocom_verify(body: dict, path_method: str, creds: Credentials, now_ms: int) -> AuthFailure | None:
    """Check api_key, nonce and sig of a private request body."""
    api_key, sig, nonce = body.get("api_key"), body.get("sig"), body.get("nonce")
    if not isinstance(api_key, str) or not isinstance(sig, str) or nonce is None:
        return AuthFailure("40101", 401, "UNAUTHORIZED")
    try:
        nonce_ms = int(str(nonce))
    except ValueError:
        return AuthFailure("40101", 401, "UNAUTHORIZED")
    if abs(now_ms - nonce_ms) > CRYPTOCOM_NONCE_WINDOW_MS:
        return AuthFailure("40102", 400, "INVALID_NONCE")
    if not _same(api_key, creds.api_key):
        return AuthFailure("40101", 401, "UNAUTHORIZED")
    method = body.get("method") or path_method
    expected = cryptocom_signature(creds.secret, method, body.get("id"), api_key, body.get("params") or {}, nonce)
    if not _same(sig, expected):
        return AuthFailure("40101", 401, "UNAUTHORIZED")
    return None
