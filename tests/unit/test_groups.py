import pytest

from bracket_plugin.backtrader.groups import (
    BT_LIMIT,
    BT_MARKET,
    BT_STOP,
    BT_STOPLIMIT,
    BT_STOPTRAIL,
    OrderInfo,
    Pending,
    group_spec,
    partition,
)
from bracket_plugin.backtrader.planner import OCO, OTO, OTOCO, SINGLE, STOP, STOP_LIMIT, PlanError


def bracket(ref=1, stop=BT_STOP):
    p = OrderInfo(ref, True, 1.0, BT_LIMIT, 0.1, None, transmit=False)
    s = OrderInfo(ref + 1, False, 1.0, stop, 0.09, 0.089 if stop == BT_STOPLIMIT else None, parent=ref, transmit=False)
    lim = OrderInfo(ref + 2, False, 1.0, BT_LIMIT, 0.11, None, parent=ref, transmit=True)
    return [p, s, lim]


def test_pending_holds_until_transmit_like_backbroker():
    pend = Pending()
    p, s, lim = bracket()
    assert pend.add(p) is None and pend.add(s) is None
    assert pend.add(lim) == [p, s, lim]
    assert pend.held == {}


def test_child_of_unknown_parent_raises():
    with pytest.raises(PlanError, match='^parent:'):
        Pending().add(OrderInfo(9, False, 1, BT_LIMIT, 1.0, None, parent=5))


def test_bracket_becomes_otoco_with_roles_by_exec_type():
    spec = group_spec('ETH/BTC', bracket())
    assert spec.kind == OTOCO
    assert [(leg.role, leg.kind, leg.ref) for leg in spec.legs] == [('entry', 'limit', 1), ('stop_loss', STOP, 2), ('take_profit', 'limit', 3)]
    spec = group_spec('ETH/BTC', bracket(stop=BT_STOPLIMIT))
    assert spec.leg('stop_loss').kind == STOP_LIMIT and spec.leg('stop_loss').price == 0.089 and spec.leg('stop_loss').trigger == 0.09


def test_bracket_without_limit_leg_is_oto():
    p, s, _ = bracket()
    s = OrderInfo(s.ref, s.is_buy, s.size, s.exectype, s.price, None, parent=1, transmit=True)
    assert group_spec('ETH/BTC', [p, s]).kind == OTO


def test_oco_link_merges_two_single_families():
    a = OrderInfo(10, False, 2.0, BT_LIMIT, 0.11, None)
    b = OrderInfo(11, False, 2.0, BT_STOP, 0.09, None, oco=10)
    c = OrderInfo(12, True, 1.0, BT_MARKET, None, None)
    groups = partition([[a], [b], [c]])
    assert groups == [[a, b], [c]]
    assert group_spec('ETH/BTC', groups[0]).kind == OCO
    assert group_spec('ETH/BTC', groups[1]).kind == SINGLE


def test_oco_of_three_is_refused():
    a = OrderInfo(10, False, 2.0, BT_LIMIT, 0.11, None)
    b = OrderInfo(11, False, 2.0, BT_STOP, 0.09, None, oco=10)
    c = OrderInfo(12, False, 2.0, BT_STOP, 0.08, None, oco=11)
    (g,) = partition([[a], [b], [c]])
    with pytest.raises(PlanError, match='^oco:'):
        group_spec('ETH/BTC', g)


def test_unsupported_exec_types_name_the_rule():
    with pytest.raises(PlanError, match='^exectype:.*StopTrail'):
        group_spec('ETH/BTC', [OrderInfo(1, True, 1, BT_STOPTRAIL, 0.1, None)])
    with pytest.raises(PlanError, match='^plimit:'):
        group_spec('ETH/BTC', [OrderInfo(1, True, 1, BT_STOPLIMIT, 0.1, None)])
