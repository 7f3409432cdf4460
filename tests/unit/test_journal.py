import re

from bracket_plugin.backtrader.journal import DONE, INTENT, SENT, UNKNOWN, Journal


def test_intent_before_send_and_client_ids_unique_and_valid(tmp_path):
    j = Journal(str(tmp_path / 'j.sqlite'))
    a = j.record_intent('g1', 'first', 'ETH/BTC', 'create_oco_order', {'args': [1, 2]})
    b = j.record_intent('g1', 'then', 'ETH/BTC', 'create_order', {})
    assert a != b
    for cid in (a, b):
        assert re.fullmatch(r'[A-Za-z0-9]{1,34}', cid)
    assert j.intent(a)['state'] == INTENT and j.intent(a)['args'] == {'args': [1, 2]}
    j.mark(a, UNKNOWN)
    j.mark(b, SENT, exchange_id='X1')
    assert [i['client_oid'] for i in j.intents([INTENT, SENT, UNKNOWN])] == [a, b]
    j.mark(a, DONE, exchange_id='L1')
    assert j.intent(a)['exchange_id'] == 'L1'


def test_reopen_keeps_prefix_groups_fills(tmp_path):
    path = str(tmp_path / 'j.sqlite')
    j = Journal(path)
    cid = j.record_intent('g1', 'first', 'ETH/BTC', 'create_order', {})
    j.save_group('g1', 'ETH/BTC', 'live', {'x': 1})
    assert j.add_fill('t1', 'o1', 'ETH/BTC', 'buy', 1.5, 0.1, 0.0001, 5)
    assert not j.add_fill('t1', 'o1', 'ETH/BTC', 'buy', 1.5, 0.1, 0.0001, 5)  # never applied twice
    j.add_fill('t2', 'o2', 'ETH/BTC', 'sell', 0.5, 0.1, 0.0001, 6)
    j.set_cursor('ETH/BTC', 6)
    j.close()
    k = Journal(path)
    assert k.prefix == j.prefix and k.intent(cid)['state'] == INTENT
    assert k.groups() == [{'key': 'g1', 'symbol': 'ETH/BTC', 'state': 'live', 'data': {'x': 1}}]
    assert k.net_position('ETH/BTC') == 1.0 and k.cursor('ETH/BTC') == 6
    k.save_group('g1', 'ETH/BTC', 'done', {'x': 2})
    assert k.groups() == []
    # a second journal gets another prefix, so its client ids never collide
    assert Journal(str(tmp_path / 'other.sqlite')).prefix != k.prefix
