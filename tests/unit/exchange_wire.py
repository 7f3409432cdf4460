"""Transport interception for exchange-layer tests: replaces the HTTP session of a ccxt instance
(requests for sync, aiohttp for async), so ccxt's real sign() / fetch() / handle_errors() run and
the exact request is recorded. Also recomputes signatures from the exchanges' documented
algorithms, independently of ccxt."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import bracket_plugin
from bracket_plugin import async_support

KEYS = {'apiKey': 'test-key', 'secret': 'test-secret', 'password': 'test-pass'}


@dataclass
class Sent:
    method: str
    url: str
    headers: dict
    body: str | None

    @property
    def path(self) -> str:          # path + query, as signed
        parts = urlsplit(self.url)
        return parts.path + ('?' + parts.query if parts.query else '')

    @property
    def json(self):
        return json.loads(self.body) if self.body else None


@dataclass
class Wire:
    """Replies are taken in order; each is a dict (HTTP 200 JSON), (status, dict), or (status, str):
    a raw non-JSON body such as a proxy's HTML error page, sent as text/html."""
    replies: list = field(default_factory=list)
    sent: list = field(default_factory=list)

    def reply(self, *replies):
        self.replies.extend(replies)
        return self

    def _next(self, method, url, headers, data):
        body = data.decode() if isinstance(data, bytes) else data
        self.sent.append(Sent(method.upper(), str(url), dict(headers or {}), body))
        if not self.replies:
            raise AssertionError(f'unexpected request {method} {url}')
        r = self.replies.pop(0)
        status, payload = r if isinstance(r, tuple) else (200, r)
        if isinstance(payload, str):
            return status, payload, 'text/html'
        return status, json.dumps(payload), 'application/json'



class _SyncResponse:
    def __init__(self, status, text, content_type):
        self.status_code, self.text, self.reason = status, text, 'OK' if status == 200 else 'Error'
        self.headers = {'Content-Type': content_type}
        self.encoding = 'utf-8'
        self.content = text.encode()

    def raise_for_status(self):
        if self.status_code >= 400:
            import requests
            raise requests.HTTPError(str(self.status_code))


class SyncSession:
    def __init__(self, wire):
        self.wire = wire
        self.headers = {}
        import requests.cookies
        self.cookies = requests.cookies.RequestsCookieJar()

    def request(self, method, url, data=None, headers=None, **kw):
        return _SyncResponse(*self.wire._next(method, url, headers, data))

    def close(self):
        pass


class _AsyncResponse:
    def __init__(self, status, text, content_type):
        self.status, self._text, self.reason = status, text, 'OK' if status == 200 else 'Error'
        self.headers = {'Content-Type': content_type}

    async def text(self, errors='strict'):
        return self._text

    async def __aenter__(self):
        return self

    async def __aexit__(self, *a):
        return False


class AsyncSession:
    closed = False

    def __init__(self, wire):
        self.wire = wire
        self.headers = {}

    def __getattr__(self, method):
        if method not in ('get', 'post', 'delete', 'put'):
            raise AttributeError(method)

        def call(url, data=None, headers=None, **kw):
            return _AsyncResponse(*self.wire._next(method, url, headers, data))
        return call

    async def close(self):
        self.closed = True


def kucoin_market(symbol, tick, lot, min_amount, min_cost, sep='-'):
    base, quote = symbol.split('/')
    return {'id': base + sep + quote, 'symbol': symbol, 'base': base, 'quote': quote, 'baseId': base,
            'quoteId': quote, 'settle': None, 'settleId': None, 'type': 'spot', 'spot': True, 'margin': False,
            'swap': False, 'future': False, 'option': False, 'contract': False, 'linear': None, 'inverse': None,
            'active': True, 'contractSize': None, 'expiry': None, 'expiryDatetime': None, 'strike': None,
            'optionType': None, 'taker': 0.001, 'maker': 0.001,
            'precision': {'amount': lot, 'price': tick},
            'limits': {'amount': {'min': min_amount, 'max': None}, 'price': {'min': None, 'max': None},
                       'cost': {'min': min_cost, 'max': None}, 'leverage': {'min': None, 'max': None}},
            'info': {}}


def markets(sep):
    return [kucoin_market('ETH/BTC', 0.000001, 0.0001, 0.001, 0.0001, sep),
            kucoin_market('BTC/USDT', 0.1, 0.00001, 0.00001, 0.1, sep)]


def make(exchange_id, wire, is_async=False, **config):
    """The venue's exchange class on the intercepted transport, with its test markets and the
    credentials it takes (both from the venue's facts, tests/venue_facts/<id>.py)."""
    from conformance import facts

    module = async_support if is_async else bracket_plugin
    keys = {k: KEYS[k] for k in facts(exchange_id).WIRE_CREDENTIALS}
    ex = getattr(module, exchange_id)({**keys, **config})
    ex.session = AsyncSession(wire) if is_async else SyncSession(wire)
    ex.set_markets(facts(exchange_id).wire_markets())
    return ex


# ---- signatures recomputed from the documented algorithms ----
def kucoin_check_signature(sent: Sent, secret=KEYS['secret'], password=KEYS['password']):
    h = sent.headers
    prehash = h['KC-API-TIMESTAMP'] + sent.method + sent.path + (sent.body or '')
    expect = base64.b64encode(hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()
    assert h['KC-API-SIGN'] == expect
    expect_pass = base64.b64encode(hmac.new(secret.encode(), password.encode(), hashlib.sha256).digest()).decode()
    assert h['KC-API-PASSPHRASE'] == expect_pass
    assert h['KC-API-KEY'] == KEYS['apiKey'] and h['KC-API-KEY-VERSION'] == '2'


def cryptocom_param_string(value) -> str:
    """Crypto.com's paramString: sorted keys, key then value, lists flattened in order, dicts
    contribute their own sorted pairs, null as 'null'."""
    if value is None:
        return 'null'
    if isinstance(value, dict):
        return ''.join(k + cryptocom_param_string(value[k]) for k in sorted(value))
    if isinstance(value, list):
        return ''.join(cryptocom_param_string(x) for x in value)
    return str(value)


def cryptocom_check_signature(sent: Sent, secret=KEYS['secret']):
    body = sent.json
    payload = body['method'] + str(body['id']) + body['api_key'] + cryptocom_param_string(body['params']) + str(body['nonce'])
    expect = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    assert body['sig'] == expect
    assert body['api_key'] == KEYS['apiKey']
    assert sent.url.endswith('/' + body['method'])
