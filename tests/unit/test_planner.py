import pytest

from bracket_plugin.backtrader.planner import (
    ENTRY,
    LIMIT,
    MARKET,
    OCO,
    OTO,
    OTOCO,
    SINGLE,
    STOP,
    STOP_LIMIT,
    STOP_LOSS,
    TAKE_PROFIT,
    BracketSpec,
    LegSpec,
    PlanError,
    plan,
)

KUCOIN_HAS = {'createOcoOrder': True, 'createOtoOrder': False, 'createOtocoOrder': False}
CDC_HAS = {'createOcoOrder': True, 'createOtoOrder': True, 'createOtocoOrder': True}
NONE_HAS = {}


def otoco(entry_kind=LIMIT, stop_kind=STOP, side='buy'):
    other = 'sell' if side == 'buy' else 'buy'
    lo, hi = (0.09, 0.11) if side == 'buy' else (0.11, 0.09)
    entry = LegSpec(ENTRY, side, 1.0, entry_kind, price=0.1 if entry_kind in (LIMIT, STOP_LIMIT) else None,
                    trigger=0.1 if entry_kind in (STOP, STOP_LIMIT) else None)
    sl = LegSpec(STOP_LOSS, other, 1.0, stop_kind, trigger=lo, price=(lo * 0.99 if side == 'buy' else lo * 1.01) if stop_kind == STOP_LIMIT else None)
    tp = LegSpec(TAKE_PROFIT, other, 1.0, LIMIT, price=hi)
    return BracketSpec(OTOCO, 'ETH/BTC', (entry, sl, tp))


def oco(side='sell', stop_kind=STOP):
    lim, trig = (0.11, 0.09) if side == 'sell' else (0.09, 0.11)
    return BracketSpec(OCO, 'ETH/BTC', (LegSpec(TAKE_PROFIT, side, 2.0, LIMIT, price=lim),
                                        LegSpec(STOP_LOSS, side, 2.0, stop_kind, trigger=trig,
                                                price=trig * 0.995 if stop_kind == STOP_LIMIT else None)))


def test_cryptocom_otoco_is_one_native_request_with_limit_take_profit():
    p = plan(otoco(), CDC_HAS, 'cryptocom')
    assert p.mode == 'native' and p.then is None and p.watch is None
    assert p.first.method == 'create_otoco_order'
    assert p.first.args == ('ETH/BTC', 'buy', 1.0, 0.1, 0.11, 0.09)
    # plain Stop stays stop-market on Crypto.com; the Limit exit is a limit leg at its price; the
    # exits sell what the entry leaves after its fee, charged in the base (0.075%)
    assert p.first.params == {'entryType': 'limit', 'takeProfitLimitPrice': 0.11, 'exitAmount': 0.99925}


def test_exits_are_sized_to_what_the_account_holds_after_a_fee_charged_in_the_base():
    lot = 0.0001
    long_ = plan(otoco(), CDC_HAS, 'cryptocom', lot=lot)
    assert [leg.amount for leg in long_.spec.legs] == [1.0, 0.9992, 0.9992]      # floor(1 * 0.99925)
    assert long_.first.params['exitAmount'] == 0.9992
    short = BracketSpec(OTOCO, 'ETH/BTC', (LegSpec(ENTRY, 'sell', 1.0, LIMIT, price=0.1),
                                           LegSpec(STOP_LOSS, 'buy', 1.0, STOP, trigger=0.11),
                                           LegSpec(TAKE_PROFIT, 'buy', 1.0, LIMIT, price=0.09)))
    # a buy-back receives its amount less its fee: ceil(1 / 0.99925) covers the short
    assert [leg.amount for leg in plan(short, CDC_HAS, 'cryptocom', lot=lot).spec.legs] == [1.0, 1.0008, 1.0008]
    # dust an earlier exit left (less than a lot) goes with the next exit, so it never grows past a lot
    assert [leg.amount for leg in plan(otoco(), CDC_HAS, 'cryptocom', lot=lot, dust=0.00005).spec.legs] == [1.0, 0.9993, 0.9993]
    assert [leg.amount for leg in plan(short, CDC_HAS, 'cryptocom', lot=lot, dust=0.00009).spec.legs] == [1.0, 1.0007, 1.0007]
    # a venue charging the quote: exits as asked, amounts to the lot
    assert [leg.amount for leg in plan(otoco(), KUCOIN_HAS, 'kucoin', lot=lot).spec.legs] == [1.0, 1.0, 1.0]
    assert 'exitAmount' not in plan(otoco(), CDC_HAS, 'kucoin', lot=lot).first.params


def test_kucoin_otoco_is_managed_limit_entry_then_native_oco():
    p = plan(otoco(), KUCOIN_HAS, 'kucoin')
    assert p.mode == 'managed'
    assert p.first.method == 'create_order' and p.first.args == ('ETH/BTC', 'limit', 'buy', 1.0, 0.1)
    assert p.then.kind == OCO and {leg.role for leg in p.then.legs} == {TAKE_PROFIT, STOP_LOSS}
    exits = plan(p.then, KUCOIN_HAS, 'kucoin', stop_slippage=0.02)
    assert exits.mode == 'native' and exits.first.method == 'create_oco_order'
    # KuCoin's stop leg is a stop-limit: a plain Stop gets its limit 2% below the trigger
    assert exits.first.args == ('ETH/BTC', 'sell', 1.0, 0.11, 0.09, pytest.approx(0.09 * 0.98))


def test_stop_limit_keeps_its_own_limit_price():
    p = plan(oco(stop_kind=STOP_LIMIT), KUCOIN_HAS, 'kucoin')
    assert p.first.args[-1] == pytest.approx(0.09 * 0.995)
    p = plan(otoco(stop_kind=STOP_LIMIT), CDC_HAS, 'cryptocom')
    assert p.first.params['stopLossLimitPrice'] == pytest.approx(0.09 * 0.99)


def test_buy_side_kucoin_slippage_is_above_trigger():
    p = plan(oco(side='buy'), KUCOIN_HAS, 'kucoin', stop_slippage=0.01)
    assert p.first.args == ('ETH/BTC', 'buy', 2.0, 0.09, 0.11, pytest.approx(0.11 * 1.01))


def test_without_native_oco_the_limit_rests_and_the_stop_is_watched():
    p = plan(oco(), NONE_HAS, 'binance')
    assert p.mode == 'managed'
    assert p.first.args == ('ETH/BTC', 'limit', 'sell', 2.0, 0.11) and p.first.params == {}
    assert p.watch.role == STOP_LOSS and p.watch.trigger == 0.09


def test_stop_entry_is_managed_even_on_cryptocom():
    p = plan(otoco(entry_kind=STOP), CDC_HAS, 'cryptocom')
    assert p.mode == 'managed'
    assert p.first.args == ('ETH/BTC', 'market', 'buy', 1.0, None) and p.first.params == {'triggerPrice': 0.1}
    assert p.then.kind == OCO


def test_oto_native_on_cryptocom_and_single_exit_when_managed():
    spec = BracketSpec(OTO, 'ETH/BTC', (LegSpec(ENTRY, 'sell', 1.0, MARKET), LegSpec(STOP_LOSS, 'buy', 1.0, STOP, trigger=0.12)))
    p = plan(spec, CDC_HAS, 'cryptocom')
    assert p.first.method == 'create_oto_order' and p.first.args == ('ETH/BTC', 'sell', 1.0, None, 0.12, None)
    # the buy-back receives its amount less its fee (charged in the base): it buys 1 / (1 - 0.075%)
    assert p.first.params == {'entryType': 'market', 'exitAmount': pytest.approx(1 / 0.99925)}
    p = plan(spec, KUCOIN_HAS, 'kucoin')
    assert p.then.kind == SINGLE and p.then.legs[0].role == STOP_LOSS


def test_single_orders_map_exec_types():
    def s(leg):
        return plan(BracketSpec(SINGLE, 'ETH/BTC', (leg,)), CDC_HAS, 'cryptocom').first

    assert s(LegSpec(ENTRY, 'buy', 1, STOP_LIMIT, price=0.11, trigger=0.1)).params == {'triggerPrice': 0.1}
    assert s(LegSpec(ENTRY, 'buy', 1, STOP_LIMIT, price=0.11, trigger=0.1)).args[1:] == ('limit', 'buy', 1, 0.11)


@pytest.mark.parametrize('spec, field', [
    (BracketSpec(OCO, 'ETH/BTC', (LegSpec(TAKE_PROFIT, 'sell', 1, LIMIT, price=0.08), LegSpec(STOP_LOSS, 'sell', 1, STOP, trigger=0.09))), 'price'),
    (BracketSpec(OCO, 'ETH/BTC', (LegSpec(TAKE_PROFIT, 'sell', 1, LIMIT, price=0.11), LegSpec(STOP_LOSS, 'sell', 2, STOP, trigger=0.09))), 'legs'),
    (BracketSpec(OTOCO, 'ETH/BTC', (LegSpec(ENTRY, 'buy', 1, LIMIT, price=0.1), LegSpec(STOP_LOSS, 'sell', 1, STOP, trigger=0.12),
                                    LegSpec(TAKE_PROFIT, 'sell', 1, LIMIT, price=0.11))), 'price'),
    (BracketSpec(OTOCO, 'ETH/BTC', (LegSpec(ENTRY, 'buy', 1, LIMIT, price=0.1), LegSpec(STOP_LOSS, 'buy', 1, STOP, trigger=0.09),
                                    LegSpec(TAKE_PROFIT, 'sell', 1, LIMIT, price=0.11))), 'side'),
])
def test_bad_groups_raise_naming_the_field(spec, field):
    with pytest.raises(PlanError, match=f'^{field}:'):
        plan(spec, CDC_HAS, 'cryptocom')


def test_leg_validation():
    with pytest.raises(PlanError, match='^trigger:'):
        LegSpec(STOP_LOSS, 'sell', 1, STOP)
    with pytest.raises(PlanError, match='^amount:'):
        LegSpec(ENTRY, 'sell', 0, MARKET)
