"""Labelling BackBroker's differences from a venue run with the venue rule behind each (pure)."""
from bracket_plugin import differences as D
from bracket_plugin import venues
from bracket_plugin.markets import MarketInfo

INFO = MarketInfo('XRP/USDT', 0.0001, 0.1, 1.0, 1.0)


def trade(entry='t1', exit_='t3', side='long', size=100.0, ep=1.2, xp=1.23, why='take_profit'):
    return {'entry_time': entry, 'exit_time': exit_, 'side': side, 'size': size, 'entry_price': ep,
            'exit_price': xp, 'exit_reason': why}


def rules(back, venue, **kw):
    return [d['rule'] for d in D.label(back, venue, INFO, venues.profile('kucoin'), **kw)]


def test_equal_lists_have_no_difference():
    assert rules([trade()], [trade()]) == []


def test_prices_within_a_tick_are_tick_rounding_and_beyond_are_unexplained():
    assert rules([trade(ep=1.200031)], [trade(ep=1.2)]) == [D.TICK]
    assert rules([trade(ep=1.2003)], [trade(ep=1.2)]) == [D.UNEXPLAINED]


def test_sizes_within_a_lot_are_lot_rounding():
    assert rules([trade(size=100.05)], [trade(size=100.0)]) == [D.LOT]
    assert rules([trade(size=101.0)], [trade(size=100.0)]) == [D.UNEXPLAINED]


def test_a_trade_the_venue_refused_below_its_minimum():
    assert rules([trade(size=0.5)], []) == [D.MINIMUM]
    assert rules([trade(size=5.0)], []) == [D.ACCOUNT]


def test_exit_rules():
    # same bar, BackBroker's stop against the venue's resting take-profit: the crossed OCO
    assert rules([trade(why='stop_loss', xp=1.19)], [trade(why='take_profit')]) == [D.CROSSED_OCO]
    # a later stop exit: KuCoin's stop-limit leg, or a watched stop on the managed path
    assert rules([trade(why='stop_loss', xp=1.19)], [trade(exit_='t5', why='stop_loss', xp=1.18)]) == [D.STOP_LIMIT_GAP]
    assert rules([trade(why='stop_loss', xp=1.19)], [trade(exit_='t4', why='stop_loss', xp=1.18)],
                 managed=True) == [D.MANAGED_STOP]
    cryptocom = D.label([trade(why='stop_loss', xp=1.19)], [trade(exit_='t5', why='stop_loss', xp=1.18)], INFO,
                        venues.profile('cryptocom'))
    assert [d['rule'] for d in cryptocom] == [D.UNEXPLAINED]    # its stop legs are stop-market


def test_an_entry_moved_by_a_later_exit_is_shifted():
    back = [trade(why='stop_loss', xp=1.19), trade(entry='t4', exit_='t6')]
    venue = [trade(exit_='t5', why='stop_loss', xp=1.18), trade(entry='t6', exit_='t8')]
    assert rules(back, venue) == [D.STOP_LIMIT_GAP, D.SHIFTED, D.SHIFTED]
    assert D.counts(D.label(back, venue, INFO, venues.profile('kucoin'))) == {D.STOP_LIMIT_GAP: 1, D.SHIFTED: 2}


def test_an_exit_moved_by_the_mark_is_a_mark_trigger_only_where_triggers_watch_a_given_mark():
    # the mark dipped to the stop where the trades did not: the venue stopped out first
    back, venue = [trade(exit_='t7', why='take_profit')], [trade(exit_='t3', why='stop_loss', xp=1.19)]

    def on(venue_id, **kw):
        return [d['rule'] for d in D.label(back, venue, INFO, venues.profile(venue_id), **kw)]

    assert on('cryptocom', marks=True) == [D.MARK_TRIGGER]
    assert on('cryptocom') == [D.UNEXPLAINED]              # no mark series: mark = last
    assert on('kucoin', marks=True) == [D.UNEXPLAINED]     # KuCoin watches the last price
