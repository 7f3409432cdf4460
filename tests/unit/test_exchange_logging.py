"""ccxt logs every request at DEBUG and prints it with verbose=True, headers and body included; ours
never write the credentials, nor KuCoin's signed passphrase."""
import asyncio
import base64
import hashlib
import hmac
import logging

import pytest

from conformance import VENUES, facts
from exchange_wire import KEYS, Wire, make

# what KuCoin's KC-API-PASSPHRASE header carries (key version 2): base64 HMAC-SHA256(secret, passphrase)
SIGNED_PASSPHRASE = base64.b64encode(hmac.new(KEYS['secret'].encode(), KEYS['password'].encode(),
                                              hashlib.sha256).digest()).decode()
SECRETS = list(KEYS.values()) + [SIGNED_PASSPHRASE]


def create(ex):
    return ex.create_oco_order('ETH/BTC', 'sell', 0.5, 0.07, 0.06, 0.0599, {'clientOrderId': 'c1'})


def created(exchange_id, is_async, **config):
    """Create one OCO through the intercepted transport; returns (wire, result)."""
    wire = Wire().reply(facts(exchange_id).OCO_CREATED)
    ex = make(exchange_id, wire, is_async=is_async, **config)

    async def run_async():
        try:
            return await create(ex)
        finally:
            await ex.close()
    return wire, (asyncio.run(run_async()) if is_async else create(ex))


@pytest.mark.parametrize('is_async', [False, True], ids=['sync', 'async'])
@pytest.mark.parametrize('exchange_id', VENUES)
def test_debug_log_of_a_signed_request_masks_the_credentials(exchange_id, is_async, caplog):
    caplog.set_level(logging.DEBUG)
    wire, result = created(exchange_id, is_async)
    assert result['id'] == facts(exchange_id).OCO_CREATED_ID
    sent = wire.sent[0]
    assert KEYS['apiKey'] in str(sent.headers) + (sent.body or ''), 'the key is on the wire, so it would be logged'
    requests = [r.getMessage() for r in caplog.records if 'Request:' in r.getMessage()]
    assert requests, 'ccxt logged the request'
    for line in requests + [caplog.text]:
        for secret in SECRETS:
            assert secret not in line
    assert '***' in requests[0]


@pytest.mark.parametrize('is_async', [False, True], ids=['sync', 'async'])
@pytest.mark.parametrize('exchange_id', VENUES)
def test_verbose_output_of_a_signed_request_masks_the_credentials(exchange_id, is_async, capsys):
    wire, result = created(exchange_id, is_async, verbose=True)
    assert result['id'] == facts(exchange_id).OCO_CREATED_ID
    sent = wire.sent[0]
    on_wire = str(sent.headers) + (sent.body or '')
    assert KEYS['apiKey'] in on_wire, 'the key is on the wire, so verbose would print it'
    if 'KC-API-PASSPHRASE' in sent.headers:
        assert sent.headers['KC-API-PASSPHRASE'] == SIGNED_PASSPHRASE, 'the signed passphrase is on the wire too'
    out = capsys.readouterr().out
    assert 'fetch Request:' in out and sent.url in out, 'the request was still printed'
    assert 'fetch Response:' in out and facts(exchange_id).OCO_CREATED_ID in out, 'and its answer'
    for secret in SECRETS:
        assert secret not in out
    for masked in facts(exchange_id).VERBOSE_MASKED:
        assert masked in out


def test_credentials_set_after_construction_are_masked_too(caplog):
    caplog.set_level(logging.DEBUG)
    wire = Wire().reply(facts('kucoin').OCO_CREATED)
    ex = make('kucoin', wire)
    ex.apiKey = 'rotated-key-123'
    create(ex)
    assert 'rotated-key-123' in str(wire.sent[0].headers)
    assert 'rotated-key-123' not in caplog.text
