"""The broker's streams go where its REST calls go: in sandbox mode, to the sandbox's websockets,
never to the production ones (the sync class the store trades through has no websocket URLs)."""
import asyncio

import pytest

import bracket_plugin
from bracket_plugin import async_support, venues
from bracket_plugin.backtrader.streams import stream_client, stream_config

KEYS = {'apiKey': 'key-abc', 'secret': 'sec-def', 'password': 'pw-ghi'}
WITH_SANDBOX = [v for v in venues.ids() if venues.profile(v).exchange_class()().urls.get('test')]


def urls_in(tree) -> set[str]:
    if isinstance(tree, str):
        return {tree}
    return set().union(*(urls_in(v) for v in tree.values())) if isinstance(tree, dict) else set()


def test_the_venues_with_a_sandbox():
    assert WITH_SANDBOX == ['cryptocom', 'binance']   # ccxt knows no test URLs for KuCoin


@pytest.mark.parametrize('venue_id', WITH_SANDBOX)
def test_in_sandbox_mode_the_streams_use_the_sandbox_websockets(venue_id):
    exchange = bracket_plugin.exchange(venue_id, dict(KEYS))
    exchange.set_sandbox_mode(True)
    client = stream_client(venue_id, stream_config(exchange), sandbox=True)
    production = async_support.exchange(venue_id, {})
    try:
        websockets = urls_in(client.urls['api'].get('ws'))
        assert websockets and not websockets & urls_in(production.urls['api'].get('ws'))
        assert urls_in(exchange.urls['api']) <= urls_in(client.urls['api'])   # REST: the sandbox's too
        assert (client.apiKey, client.secret) == (KEYS['apiKey'], KEYS['secret'])
    finally:
        asyncio.run(client.close())
        asyncio.run(production.close())


@pytest.mark.parametrize('venue_id', venues.ids())
def test_out_of_sandbox_mode_the_streams_take_the_exchanges_urls(venue_id):
    """The simulator points every URL of the store's exchange at itself: the streams follow."""
    exchange = bracket_plugin.exchange(venue_id, dict(KEYS))
    exchange.urls['api'] = {k: 'http://127.0.0.1:9/x' for k in exchange.urls['api']}
    client = stream_client(venue_id, stream_config(exchange), sandbox=False)
    try:
        assert urls_in(exchange.urls['api']) <= urls_in(client.urls['api'])
    finally:
        asyncio.run(client.close())
