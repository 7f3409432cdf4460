"""Fixtures and raw-request helpers for the simulator's integration tests (real HTTP on 127.0.0.1).

Test modules import the fixtures they use: `from simfixtures import venue, kucoin, cryptocom`.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import ccxt
import ccxt.async_support as ccxt_async
import pytest
import requests

from bracket_plugin.bars import bundled_data_path
from bracket_plugin.sim import Venue

START = 50  # bars[:50] are history when a test starts
SYMBOL = "ETH/BTC"


def make_venue(**kw) -> Venue:
    kw.setdefault("start", START)
    return Venue(bundled_data_path(), symbol=SYMBOL, **kw)


@pytest.fixture
def venue():
    with make_venue() as v:
        yield v


def client(venue: Venue, exchange_id: str, asynchronous: bool = False, **extra):
    module = ccxt_async if asynchronous else ccxt
    extra.setdefault("enableRateLimit", False)  # the venue does not throttle; keeps the suite fast
    return getattr(module, exchange_id)(dict(venue.ccxt_config(exchange_id), **extra))


@pytest.fixture
def kucoin(venue):
    ex = client(venue, "kucoin")
    ex.load_markets()
    return ex


@pytest.fixture
def cryptocom(venue):
    ex = client(venue, "cryptocom")
    ex.load_markets()
    return ex


# --- raw signed requests, built from the exchanges' documentation (not from ccxt) -------------

def kucoin_raw(venue: Venue, method: str, endpoint: str, body: dict | None = None, *, key=None, secret=None,
               passphrase=None, ts: int | None = None, version: str = "2", sign: str | None = None, timeout=5,
               prefix: str = "/kucoin"):
    creds = venue.credentials("kucoin")
    key, secret = key or creds.api_key, secret or creds.secret
    passphrase = creds.passphrase if passphrase is None else passphrase
    ts = str(int(time.time() * 1000) if ts is None else ts)
    text = json.dumps(body, separators=(",", ":")) if body is not None else ""
    digest = hmac.new(secret.encode(), (ts + method + endpoint + text).encode(), hashlib.sha256).digest()
    phrase = passphrase
    if version in ("2", "3"):
        phrase = base64.b64encode(hmac.new(secret.encode(), passphrase.encode(), hashlib.sha256).digest()).decode()
    headers = {"KC-API-KEY": key, "KC-API-SIGN": sign or base64.b64encode(digest).decode(), "KC-API-TIMESTAMP": ts,
               "KC-API-PASSPHRASE": phrase, "KC-API-KEY-VERSION": version, "Content-Type": "application/json"}
    return requests.request(method, venue.url + prefix + endpoint, data=text or None, headers=headers, timeout=timeout)


def binance_raw(venue: Venue, method: str, path: str, params: dict | None = None, *, where: str = "query",
                key=None, secret=None, ts: int | None = None, recv_window=None, signature=None,
                prefix: str = "/binance", timeout=10):
    """A request signed as Binance's rest-api.md says: the parameters, then `timestamp` (now unless
    `ts`) and `recvWindow` (unless None), in the query string, the body, or split between them
    (`where`: query, body, split: the first half in the query); signature = hex HMAC-SHA256 over
    the query string followed by the body, sent last. `key=""` sends no API key header."""
    creds = venue.credentials("binance")
    items = list((params or {}).items()) + [("timestamp", int(time.time() * 1000) if ts is None else ts)]
    if recv_window is not None:
        items.append(("recvWindow", recv_window))
    cut = {"query": len(items), "body": 0, "split": len(items) // 2}[where]
    query, body = urlencode(items[:cut]), urlencode(items[cut:])
    sig = signature or hmac.new((secret or creds.secret).encode(), (query + body).encode(), hashlib.sha256).hexdigest()
    if body:
        body += "&signature=" + sig
    else:
        query += "&signature=" + sig
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if key != "":
        headers["X-MBX-APIKEY"] = key or creds.api_key
    url = f"{venue.url}{prefix}{path}" + (f"?{query}" if query else "")
    return requests.request(method, url, data=body or None, headers=headers, timeout=timeout)


def cdc_param_string(params) -> str:
    out = ""
    for k in sorted(params):
        out += k + cdc_value(params[k])
    return out


def cdc_value(v) -> str:
    if isinstance(v, dict):
        return cdc_param_string(v)
    if isinstance(v, list):
        return "".join(cdc_value(x) for x in v)
    return "null" if v is None else str(v)


def cryptocom_raw(venue: Venue, method: str, params: dict | None = None, *, key=None, secret=None,
                  nonce: int | None = None, sig: str | None = None, timeout=5, prefix: str = "/cryptocom",
                  request_id=None):
    creds = venue.credentials("cryptocom")
    key, secret = key or creds.api_key, secret or creds.secret
    nonce = int(time.time() * 1000) if nonce is None else nonce
    params = params or {}
    payload = method + str(nonce if request_id is None else request_id) + key + cdc_param_string(params) + str(nonce)
    body = {"id": nonce if request_id is None else request_id, "method": method, "params": params, "api_key": key, "nonce": nonce,
            "sig": sig or hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()}
    return requests.post(f"{venue.url}{prefix}/exchange/v1/{method}", json=body, timeout=timeout)


def cdc_call(ex, method: str, params: dict):
    """A private Crypto.com method ccxt 4.5.90 has no implicit entry for, signed by ccxt's sign()."""
    return ex.request(method, ["v1", "private"], "POST", params)
