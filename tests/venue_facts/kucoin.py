"""KuCoin's facts for the conformance suite (tests/conformance.py)."""

# request paths (regexes searched in the simulator's request path)
OCO_CREATE = r'/kucoin/api/v3/oco/order$'          # create_oco_order
BRACKET_LIST_CREATE = r'/api/v3/oco/order$'        # the list a bracket run creates (managed: its exits' OCO)
LIST_LOOKUP = r'/oco/client-order/'                # a list read by its client id
SINGLE_CREATE = r'/orders$'                        # create_order
# faults that hit a paper run of the example strategies on every kind of request: (path, kind, count)
RUN_FAULTS = [(r'/api/v3/oco/order$', 'lose_response', 2), (r'fills', 'http_429', 3), (r'candles', 'reset', 2),
              (r'/api/v1/(hf/)?orders', 'http_5xx', 2)]

# a client clock this far ahead is refused (KC-API-TIMESTAMP within 5 s)
CLOCK_SKEW_REFUSED_MS = 6_000

# create_oco_order's stop-limit price for the wire tests' sell OCO (KuCoin requires one)
OCO_STOP_LIMIT = 0.0499

# trades where the full-data paper run differs from BackBroker, by a rule docs/broker.md pins. None:
# the one crossed OCO whose next bar touches both levels (ShortBracket, 2018-01-16 08:30) has its
# stop watched, and the watched stop acts inside that bar before the take-profit is tried
KNOWN_PARITY_DIFFERENCES = set()

SINGLE_CANCEL = (r'/api/v1/orders/[^/]+$', 'DELETE')   # cancel_order: (path, HTTP method)

# ---- wire tests (tests/unit: the transport intercepted) ----
WIRE_CREDENTIALS = ('apiKey', 'secret', 'password')
OCO_CREATED = {'code': '200000', 'data': {'orderId': 'o1'}}         # the answer to create_oco_order
OCO_CREATED_ID = 'o1'
LIST_CANCELED = {'code': '200000', 'data': {'cancelledOrderIds': ['a', 'b']}}
# create_order: ccxt asks for the account mode first, then creates
SINGLE_CREATED = [{'code': '200000', 'data': {'selfAccountMode': 'CLASSIC'}}, {'code': '200000', 'data': {'orderId': 'k1'}}]
SINGLE_CREATED_ID = 'k1'


def wire_markets():
    from exchange_wire import markets
    return markets('-')
VERBOSE_MASKED = ("'KC-API-KEY': '***'", "'KC-API-PASSPHRASE': '***'")   # how verbose output shows the masked key
VERBOSE_KEY_FIELD = 'KC-API-KEY'    # the field verbose output shows for the (masked) key

# a streamed fill carries no fee (the order-change messages have none): the store reads that
# fill by REST, once
STREAMED_FILLS_COMPLETE = False
