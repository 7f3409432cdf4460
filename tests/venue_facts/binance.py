"""Binance's facts for the conformance suite (tests/conformance.py)."""

OCO_CREATE = r'/api/v3/orderList/oco$'
BRACKET_LIST_CREATE = r'/api/v3/orderList/otoco$'  # a bracket with a limit entry is a native OTOCO
LIST_LOOKUP = r'/api/v3/orderList$'                # GET by origClientOrderId (DELETE cancels)
SINGLE_CREATE = r'/api/v3/order$'
SINGLE_CANCEL = (r'/api/v3/order$', 'DELETE')
BRACKET_LIST_CANCEL = r'/api/v3/orderList$'
RUN_FAULTS = [(r'/orderList/otoco$', 'lose_response', 2), (r'myTrades', 'reset', 3), (r'klines', 'reset', 2),
              (r'/orderList/oco$', 'http_429', 1)]

CLOCK_SKEW_REFUSED_MS = 6_000                      # timestamp at most 1 s ahead of the server

OCO_STOP_LIMIT = None                              # the stop leg may be a STOP_LOSS (market)

KNOWN_PARITY_DIFFERENCES = set()

# ---- wire tests (tests/unit: the transport intercepted) ----
WIRE_CREDENTIALS = ('apiKey', 'secret')
_LIST = {'orderListId': 77001, 'contingencyType': 'OCO', 'listStatusType': 'EXEC_STARTED',
         'listOrderStatus': 'EXECUTING', 'listClientOrderId': 'c1', 'transactionTime': 1700000000000,
         'symbol': 'ETHBTC', 'orders': [{'symbol': 'ETHBTC', 'orderId': 11, 'clientOrderId': 'c1-s'},
                                        {'symbol': 'ETHBTC', 'orderId': 12, 'clientOrderId': 'c1-t'}]}
OCO_CREATED = _LIST
OCO_CREATED_ID = '77001'
LIST_CANCELED = dict(_LIST, listStatusType='ALL_DONE', listOrderStatus='ALL_DONE', orderReports=[
    {'symbol': 'ETHBTC', 'orderId': oid, 'orderListId': 77001, 'clientOrderId': cid, 'status': 'CANCELED',
     'origClientOrderId': cid, 'price': '0.06000000', 'origQty': '0.01000000', 'executedQty': '0.00000000',
     'timeInForce': 'GTC', 'type': kind, 'side': 'SELL'}
    for oid, cid, kind in ((11, 'c1-s', 'STOP_LOSS'), (12, 'c1-t', 'LIMIT_MAKER'))])
SINGLE_CREATED = [{'symbol': 'ETHBTC', 'orderId': 5, 'orderListId': -1, 'clientOrderId': 'x1',
                   'transactTime': 1700000000000, 'price': '0.05000000', 'origQty': '0.01000000',
                   'executedQty': '0.00000000', 'cummulativeQuoteQty': '0.00000000', 'status': 'NEW',
                   'timeInForce': 'GTC', 'type': 'LIMIT', 'side': 'BUY', 'workingTime': 1700000000000,
                   'fills': []}]
SINGLE_CREATED_ID = '5'
VERBOSE_MASKED = ("'X-MBX-APIKEY': '***'",)


def wire_markets():
    """ETH/BTC and BTC/USDT parsed by ccxt from a recorded exchangeInfo (tests/fixtures)."""
    import json
    from pathlib import Path

    import ccxt

    info = json.loads((Path(__file__).parents[1] / 'fixtures' / 'binance_exchange_info.json').read_text())
    ex = ccxt.binance({'options': {'crossMarginPairsData': [], 'isolatedMarginPairsData': []}})   # set by fetch_markets
    return ex.parse_markets(info['symbols'])
VERBOSE_KEY_FIELD = 'X-MBX-APIKEY'

# a streamed fill carries its fee (executionReport's commission): the store applies it as it comes
STREAMED_FILLS_COMPLETE = True
