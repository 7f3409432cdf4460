"""ccxt logs every request at DEBUG, headers and body included; ours never write the credentials."""
import asyncio
import logging

import pytest
from exchange_wire import KEYS, Wire, make

KUCOIN_OCO = {'code': '200000', 'data': {'orderId': 'o1'}}
CRYPTOCOM_OCO = {'id': 1, 'method': 'private/advanced/create-oco', 'code': 0, 'result': {'list_id': '77'}}
ANSWERS = {'kucoin': KUCOIN_OCO, 'cryptocom': CRYPTOCOM_OCO}


def create(ex):
    return ex.create_oco_order('ETH/BTC', 'sell', 0.5, 0.07, 0.06, 0.0599, {'clientOrderId': 'c1'})


@pytest.mark.parametrize('is_async', [False, True], ids=['sync', 'async'])
@pytest.mark.parametrize('exchange_id', ['kucoin', 'cryptocom'])
def test_debug_log_of_a_signed_request_masks_the_credentials(exchange_id, is_async, caplog):
    caplog.set_level(logging.DEBUG)
    wire = Wire().reply(ANSWERS[exchange_id])
    ex = make(exchange_id, wire, is_async=is_async)

    async def run_async():
        try:
            return await create(ex)
        finally:
            await ex.close()

    result = asyncio.run(run_async()) if is_async else create(ex)
    assert result['id'] in ('o1', '77')
    sent = wire.sent[0]
    assert KEYS['apiKey'] in str(sent.headers) + (sent.body or ''), 'the key is on the wire, so it would be logged'
    requests = [r.getMessage() for r in caplog.records if 'Request:' in r.getMessage()]
    assert requests, 'ccxt logged the request'
    for line in requests + [caplog.text]:
        for secret in KEYS.values():
            assert secret not in line
    assert '***' in requests[0]


def test_credentials_set_after_construction_are_masked_too(caplog):
    caplog.set_level(logging.DEBUG)
    wire = Wire().reply(KUCOIN_OCO)
    ex = make('kucoin', wire)
    ex.apiKey = 'rotated-key-123'
    create(ex)
    assert 'rotated-key-123' in str(wire.sent[0].headers)
    assert 'rotated-key-123' not in caplog.text
