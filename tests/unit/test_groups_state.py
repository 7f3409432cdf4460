"""The group state machine (orderstate.Group) and the crossed-levels planning, event by event."""
import pytest

from bracket_plugin.backtrader.orderstate import CANCEL_LEG, CANCEL_LIST, PLACE_THEN, SEND_WATCHED, Group
from bracket_plugin.backtrader.planner import (
    ENTRY,
    LIMIT,
    OCO,
    OTOCO,
    STOP,
    STOP_LOSS,
    TAKE_PROFIT,
    BracketSpec,
    LegSpec,
    plan,
)

OTOCO_SPEC = BracketSpec(OTOCO, 'ETH/BTC', (LegSpec(ENTRY, 'buy', 2.0, LIMIT, price=0.1),
                                            LegSpec(STOP_LOSS, 'sell', 2.0, STOP, trigger=0.09),
                                            LegSpec(TAKE_PROFIT, 'sell', 2.0, LIMIT, price=0.11)))
OCO_SPEC = BracketSpec(OCO, 'ETH/BTC', (LegSpec(TAKE_PROFIT, 'sell', 2.0, LIMIT, price=0.11),
                                        LegSpec(STOP_LOSS, 'sell', 2.0, STOP, trigger=0.09)))


def native_otoco():
    g = Group.new('g1', OTOCO_SPEC, plan(OTOCO_SPEC, {'createOtocoOrder': True}, 'cryptocom'))
    g.placed((ENTRY, STOP_LOSS, TAKE_PROFIT), {ENTRY: 'e', STOP_LOSS: 's', TAKE_PROFIT: 't'}, 'L1')
    return g


def test_native_otoco_exits_inactive_until_entry_fully_filled():
    g = native_otoco()
    assert [g.legs[r].status for r in (ENTRY, STOP_LOSS, TAKE_PROFIT)] == ['open', 'inactive', 'inactive']
    assert g.fill('e', 1.0, 0.1, 0.0) == (ENTRY, [])
    assert g.legs[STOP_LOSS].status == 'inactive'          # partial entry: exits wait (full-trigger OTO)
    assert g.fill('e', 1.0, 0.1, 0.0) == (ENTRY, [])
    assert g.legs[STOP_LOSS].status == g.legs[TAKE_PROFIT].status == 'open'


def test_partial_fill_of_one_exit_ends_the_other_unlike_backbroker():
    """BackBroker keeps both children at full size until one completes (they can overshoot);
    on the exchange a fill of one OCO leg cancels the other, and the group never exceeds the entry."""
    g = native_otoco()
    g.fill('e', 2.0, 0.1, 0.0)
    role, _ = g.fill('t', 0.5, 0.11, 0.0)
    assert role == TAKE_PROFIT and g.legs[TAKE_PROFIT].status == 'open'
    assert g.legs[STOP_LOSS].status == 'canceled'
    g.fill('s', 2.0, 0.09, 0.0)                           # a late report: never more than the leg's size
    g.fill('t', 5.0, 0.11, 0.0)
    assert g.legs[TAKE_PROFIT].filled == 1.5 + 0.5 and g.done
    assert sum(g.legs[r].filled for r in (STOP_LOSS, TAKE_PROFIT)) <= g.legs[ENTRY].filled + 2.0


def test_managed_bracket_places_exits_once_entry_filled():
    p = plan(OTOCO_SPEC, {'createOcoOrder': True}, 'kucoin')
    g = Group.new('g2', OTOCO_SPEC, p)
    g.placed((ENTRY,), {ENTRY: 'e'})
    assert g.legs[STOP_LOSS].status == 'waiting'
    assert g.fill('e', 2.0, 0.1, 0.0) == (ENTRY, [(PLACE_THEN,)])
    g.apply_exit_plan(plan(BracketSpec(OCO, 'ETH/BTC', OTOCO_SPEC.exits), {'createOcoOrder': True}, 'kucoin'))
    assert g.fill('e', 1.0, 0.1, 0.0) == (ENTRY, [])      # nothing placed twice
    g.placed((STOP_LOSS, TAKE_PROFIT), {STOP_LOSS: 's', TAKE_PROFIT: 't'}, 'L2')
    assert g.cancel() == [(CANCEL_LIST, 'L2')]


def test_cancel_any_leg_tears_down_the_group():
    g = native_otoco()
    assert g.cancel() == [(CANCEL_LIST, 'L1')]
    g2 = Group.new('g3', OTOCO_SPEC, plan(OTOCO_SPEC, {}, 'x'))
    g2.placed((ENTRY,), {ENTRY: 'e'})
    assert g2.cancel() == [(CANCEL_LEG, ENTRY)]
    # the exits (never placed) wait for the entry's cancel to be confirmed: a fill may win the race
    assert g2.legs[STOP_LOSS].status == g2.legs[TAKE_PROFIT].status == 'waiting'
    assert g2.leg_status(ENTRY, 'canceled') == []
    assert g2.legs[STOP_LOSS].status == g2.legs[TAKE_PROFIT].status == 'canceled' and g2.done


def test_an_entry_fill_that_wins_the_race_with_the_cancel_keeps_the_exits():
    g = Group.new('g9', OTOCO_SPEC, plan(OTOCO_SPEC, {}, 'x'))
    g.placed((ENTRY,), {ENTRY: 'e'})
    g.cancel()
    assert g.fill('e', 2.0, 0.1, 0.0) == (ENTRY, [(PLACE_THEN,)])   # filled before the cancel landed
    assert g.cancel_lost() == [] and not g.cancel_requested and not g.legs[ENTRY].canceling


def test_watched_stop_frees_the_resting_leg_then_fires():
    g = Group.new('g4', OCO_SPEC, plan(OCO_SPEC, {}, 'x'))
    g.placed((TAKE_PROFIT,), {TAKE_PROFIT: 't'})
    assert g.watch == STOP_LOSS
    # first the resting leg goes; the stop is sent only once the venue confirms it canceled
    assert g.stop_touched() == [(CANCEL_LEG, TAKE_PROFIT)]
    assert g.stop_touched() == []                         # touched again while firing: nothing new
    assert g.leg_status(TAKE_PROFIT, 'canceled') == [(SEND_WATCHED, STOP_LOSS)]
    assert g.legs[STOP_LOSS].amount == 2.0
    g2 = Group.new('g5', OCO_SPEC, plan(OCO_SPEC, {}, 'x'))
    g2.placed((TAKE_PROFIT,), {TAKE_PROFIT: 't'})
    g2.fill('t', 2.0, 0.11, 0.0)                          # the limit filled first: nothing to fire
    assert g2.stop_touched() == [] and g2.done


def test_watched_stop_is_sized_to_what_the_resting_leg_did_not_fill():
    g = Group.new('g6', OCO_SPEC, plan(OCO_SPEC, {}, 'x'))
    g.placed((TAKE_PROFIT,), {TAKE_PROFIT: 't'})
    g.stop_touched()
    g.fill('t', 0.5, 0.11, 0.0)          # a part fill crossed the cancel; the stop is no longer needed
    assert g.legs[STOP_LOSS].status == 'canceled' and not g.firing
    g3 = Group.new('g7', OCO_SPEC, plan(OCO_SPEC, {}, 'x'))
    g3.placed((TAKE_PROFIT,), {TAKE_PROFIT: 't'})
    g3.stop_touched()
    g3.legs[TAKE_PROFIT].filled = 0.5    # fills read before the cancel confirmation was applied
    assert g3.leg_status(TAKE_PROFIT, 'canceled') == [(SEND_WATCHED, STOP_LOSS)]
    assert g3.legs[STOP_LOSS].amount == 1.5


def test_cancel_answer_lost_does_not_end_the_watched_stop():
    # the cancel's OrderNotFound is a question: until the venue says canceled, the stop stays watched
    g = Group.new('g8', OCO_SPEC, plan(OCO_SPEC, {}, 'x'))
    g.placed((TAKE_PROFIT,), {TAKE_PROFIT: 't'})
    g.stop_touched()
    assert g.legs[STOP_LOSS].status == 'waiting' and g.firing and g.legs[TAKE_PROFIT].canceling
    h = Group.from_dict(g.to_dict())      # survives a restart
    assert h.firing and h.leg_status(TAKE_PROFIT, 'canceled') == [(SEND_WATCHED, STOP_LOSS)]


def test_illegal_leg_moves_raise():
    from bracket_plugin.backtrader.orderstate import IllegalMove, Leg
    leg = Leg('entry', 1.0, status='filled')
    with pytest.raises(IllegalMove):
        leg.move('placed_live')
    leg = Leg('entry', 1.0, status='canceled')
    leg.move('fully_filled')              # a fill that crossed a cancel is still applied
    assert leg.status == 'filled'


def test_unprotected_when_exits_vanish_after_the_entry_filled():
    g = native_otoco()
    g.fill('e', 2.0, 0.1, 0.0)
    assert not g.unprotected()
    g.leg_status(STOP_LOSS, 'canceled')
    g.leg_status(TAKE_PROFIT, 'canceled')
    assert g.unprotected()


def test_roundtrip_through_the_journal_format():
    g = native_otoco()
    g.fill('e', 1.0, 0.1, 0.001)
    h = Group.from_dict(g.to_dict())
    assert h.to_dict() == g.to_dict() and h.spec == g.spec


def test_crossed_levels_are_planned_as_the_orders_they_turn_into():
    # sell exits, market already below the stop: the stop has fired -> market order, take-profit dropped
    p = plan(OCO_SPEC, {'createOcoOrder': True}, 'kucoin', last=0.089)
    assert p.first.args == ('ETH/BTC', 'market', 'sell', 2.0, None) and p.drop == (TAKE_PROFIT,)
    # market already above the take-profit: a marketable limit, the stop watched
    p = plan(OCO_SPEC, {'createOcoOrder': True}, 'kucoin', last=0.111)
    assert p.first.args == ('ETH/BTC', 'limit', 'sell', 2.0, 0.11) and p.watch.role == STOP_LOSS
    # in between: the native OCO
    assert plan(OCO_SPEC, {'createOcoOrder': True}, 'kucoin', last=0.1).first.method == 'create_oco_order'
