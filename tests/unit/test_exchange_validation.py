"""One test per input rule: the right ccxt exception, a message naming the field and the rule,
and zero requests on the wire."""
import ccxt
import pytest

from bracket_plugin import validation
from bracket_plugin.model import Violation
from conformance import VENUES
from exchange_wire import Wire, make


def rejected(exchange_id, call, exc, *fragments):
    wire = Wire()
    ex = make(exchange_id, wire)
    with pytest.raises(exc) as info:
        call(ex)
    text = str(info.value)
    for f in fragments:
        assert f in text, text
    assert wire.sent == []
    return text


KU_OK = dict(symbol='ETH/BTC', side='sell', amount=0.01, price=0.06, stop_price=0.05, stop_limit_price=0.0499)


def ku(**kw):
    args = dict(KU_OK, **{k: v for k, v in kw.items() if k != 'params'})
    return lambda ex: ex.create_oco_order(args['symbol'], args['side'], args['amount'], args['price'],
                                          args['stop_price'], args['stop_limit_price'], kw.get('params', {}))


def cdc_otoco(side='buy', amount=0.01, price=0.05, tp=0.06, sl=0.045, params=None, symbol='ETH/BTC'):
    return lambda ex: ex.create_otoco_order(symbol, side, amount, price, tp, sl, params or {})


def cdc_oto(side='buy', price=0.05, sl=None, tp=None, params=None):
    return lambda ex: ex.create_oto_order('ETH/BTC', side, 0.01, price, sl, tp, params or {})


# ---- client order id ----
def test_kucoin_client_order_id_longer_than_40():
    rejected('kucoin', ku(params={'clientOrderId': 'a' * 41}), ccxt.InvalidOrder,
             'params.clientOrderId', 'at most 40 characters', 'got 41')


def test_kucoin_client_order_id_of_40_is_accepted():
    wire = Wire().reply({'code': '200000', 'data': {'orderId': '1'}})
    ku(params={'clientOrderId': 'a' * 40})(make('kucoin', wire))
    assert wire.sent[0].json['clientOid'] == 'a' * 40


@pytest.mark.parametrize('cid', ['has space', 'dot.ted', 'ümlaut', 'slash/'])
def test_kucoin_client_order_id_charset(cid):
    rejected('kucoin', ku(params={'clientOrderId': cid}), ccxt.InvalidOrder,
             'params.clientOrderId', 'only letters, digits, "_" and "-"')


def test_cryptocom_client_order_id_longer_than_34_leaves_no_room_for_leg_suffix():
    rejected('cryptocom', cdc_otoco(params={'clientOrderId': 'b' * 35}), ccxt.InvalidOrder,
             'params.clientOrderId', 'at most 34 characters')


def test_cryptocom_client_order_id_charset():
    rejected('cryptocom', cdc_otoco(params={'clientOrderId': 'a+b'}), ccxt.InvalidOrder,
             'params.clientOrderId', 'only letters')


# ---- remark ----
def test_remark_longer_than_20():
    rejected('kucoin', ku(params={'remark': 'r' * 21}), ccxt.InvalidOrder, 'params.remark', 'at most 20 ASCII')


def test_remark_not_ascii():
    rejected('kucoin', ku(params={'remark': 'café'}), ccxt.InvalidOrder, 'params.remark', 'ASCII')


# ---- price ordering ----
def test_sell_oco_limit_must_be_above_stop():
    rejected('kucoin', ku(price=0.05, stop_price=0.06), ccxt.InvalidOrder, 'stop_price', 'must be below price',
             'sell OCO')


def test_buy_oco_limit_must_be_below_stop():
    rejected('cryptocom', lambda ex: ex.create_oco_order('ETH/BTC', 'buy', 0.01, 0.06, 0.05), ccxt.InvalidOrder,
             'price', 'must be below stop_price', 'buy OCO')


def test_otoco_buy_stop_loss_below_price():
    rejected('cryptocom', cdc_otoco(sl=0.05), ccxt.InvalidOrder, 'stop_loss_price', 'must be below price', 'buy OTOCO')


def test_otoco_buy_take_profit_above_price():
    rejected('cryptocom', cdc_otoco(tp=0.049), ccxt.InvalidOrder, 'price', 'must be below take_profit_price')


def test_otoco_sell_order_is_reversed():
    text = rejected('cryptocom', cdc_otoco(side='sell'), ccxt.InvalidOrder, 'take_profit_price', 'sell OTOCO')
    assert 'price: must be below stop_loss_price' in text   # both broken rules are named


def test_oto_buy_stop_loss_above_entry():
    rejected('cryptocom', cdc_oto(sl=0.051), ccxt.InvalidOrder, 'stop_loss_price', 'buy OTO')


def test_oto_sell_take_profit_above_entry():
    rejected('cryptocom', cdc_oto(side='sell', tp=0.051), ccxt.InvalidOrder, 'take_profit_price', 'sell OTO')


def test_market_entry_otoco_checks_stop_against_take_profit():
    rejected('cryptocom', cdc_otoco(price=None, sl=0.06, tp=0.05, params={'entryType': 'market'}), ccxt.InvalidOrder,
             'stop_loss_price', 'must be below take_profit_price')


# ---- minimums ----
def test_amount_below_market_minimum():
    rejected('kucoin', ku(amount=0.0009), ccxt.InvalidOrder, 'amount', 'below the market minimum amount 0.001')


def test_amount_rounded_below_minimum_by_precision():
    # 0.00109 truncates to the 0.0001 lot: 0.001 passes, 0.00099 -> 0.0009 fails
    rejected('cryptocom', cdc_otoco(amount=0.00099), ccxt.InvalidOrder, 'amount', '0.0009')


def test_cost_below_market_minimum():
    rejected('kucoin', lambda ex: ex.create_oco_order('BTC/USDT', 'sell', 0.00002, 3000, 2000, 1999),
             ccxt.InvalidOrder, 'amount * stop_limit_price', 'below the market minimum cost 0.1')


# ---- symbol ----
@pytest.mark.parametrize('exchange_id', VENUES)
def test_unknown_symbol(exchange_id):
    rejected(exchange_id, lambda ex: ex.create_oco_order('NOPE/BTC', 'sell', 0.01, 0.06, 0.05, 0.0499),
             ccxt.BadSymbol, 'symbol', "'NOPE/BTC' is not a market")


def test_unknown_symbol_in_list_queries():
    rejected('kucoin', lambda ex: ex.fetch_open_oco_orders('NOPE/BTC'), ccxt.BadSymbol, 'symbol')
    rejected('cryptocom', lambda ex: ex.cancel_all_oco_orders('NOPE/BTC'), ccxt.BadSymbol, 'symbol')


# ---- required values ----
def test_kucoin_requires_stop_limit_price():
    rejected('kucoin', ku(stop_limit_price=None), ccxt.ArgumentsRequired, 'stop_limit_price', 'required on KuCoin')


def test_oto_needs_exactly_one_exit():
    rejected('cryptocom', cdc_oto(), ccxt.ArgumentsRequired, 'stop_loss_price/take_profit_price', 'exactly one')
    rejected('cryptocom', cdc_oto(sl=0.045, tp=0.06), ccxt.ArgumentsRequired, 'exactly one')


def test_limit_entry_needs_price():
    rejected('cryptocom', cdc_otoco(price=None), ccxt.ArgumentsRequired, 'price', 'required for a limit entry')


def test_entry_type_must_be_limit_or_market():
    rejected('cryptocom', cdc_otoco(params={'entryType': 'stop'}), ccxt.InvalidOrder, 'params.entryType')


def test_side_must_be_buy_or_sell():
    rejected('kucoin', ku(side='long'), ccxt.InvalidOrder, 'side', "'buy' or 'sell'")


@pytest.mark.parametrize('field, kw', [('amount', {'amount': 0}), ('price', {'price': -1}),
                                       ('stop_price', {'stop_price': 'abc'})])
def test_amount_and_prices_must_be_positive_numbers(field, kw):
    rejected('kucoin', ku(**kw), ccxt.InvalidOrder, field)


def test_limit_prices_in_params_must_be_positive():
    rejected('cryptocom', cdc_otoco(params={'stopLossLimitPrice': 0}), ccxt.InvalidOrder,
             'params.stopLossLimitPrice', 'greater than 0')


# ---- the pure layer itself ----
def test_pure_checks_return_violations_without_raising():
    assert validation.check_ordering('oco', 'sell', price=1, stop_price=2) == [
        Violation('stop_price', 'must be below price (2 >= 1) for a sell OCO')]
    assert validation.check_ordering('otoco', 'buy', price=2, stop_loss_price=1, take_profit_price=3) == []
    assert validation.check_client_order_id('ok_id-1', 40) == []
    assert validation.check_minimums({'limits': {'amount': {'min': 1}, 'cost': {'min': 10}}}, '2', {'price': '5'}) == []
    validation.raise_for('x', [])   # nothing to raise


def test_price_below_tick_is_refused_by_ccxt_precision_before_sending():
    rejected('kucoin', ku(stop_limit_price=1e-9), ccxt.InvalidOrder, 'price', 'minimum price precision')
