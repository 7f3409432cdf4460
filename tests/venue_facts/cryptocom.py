"""Crypto.com's facts for the conformance suite (tests/conformance.py)."""

OCO_CREATE = r'private/advanced/create-oco$'
BRACKET_LIST_CREATE = r'advanced/create-otoco$'    # a bracket is a native OTOCO
LIST_LOOKUP = r'private/advanced/get-order-detail$'
SINGLE_CREATE = r'private/create-order$'
RUN_FAULTS = [(r'create-otoco$', 'lose_response', 2), (r'get-trades', 'reset', 3), (r'get-candlestick', 'reset', 2),
              (r'create-oco$', 'http_429', 1)]

CLOCK_SKEW_REFUSED_MS = 61_000                     # the nonce within 60 s

OCO_STOP_LIMIT = None                              # the stop leg may be a stop-market

KNOWN_PARITY_DIFFERENCES = set()

SINGLE_CANCEL = (r'private/cancel-order$', None)
BRACKET_LIST_CANCEL = r'private/advanced/cancel-otoco$'

# ---- wire tests (tests/unit: the transport intercepted) ----
WIRE_CREDENTIALS = ('apiKey', 'secret')
OCO_CREATED = {'id': 1, 'method': 'private/advanced/create-oco', 'code': 0, 'result': {'list_id': '77'}}
OCO_CREATED_ID = '77'
LIST_CANCELED = {'id': 1, 'method': 'private/advanced/cancel-oco', 'code': 0}
SINGLE_CREATED = [{'id': 1, 'method': 'private/create-order', 'code': 0, 'result': {'order_id': 'c1'}}]
SINGLE_CREATED_ID = 'c1'


def wire_markets():
    from exchange_wire import markets
    return markets('_')
VERBOSE_MASKED = ('"api_key":"***"',)
VERBOSE_KEY_FIELD = '"api_key"'

# a streamed fill carries its fee (user.trade's fees): the store applies it as it comes
STREAMED_FILLS_COMPLETE = True
