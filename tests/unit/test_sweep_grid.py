"""The sweep's grid (bracket_plugin.grid): ranges, lists, the combinations' order, cache keys."""
import pytest

from bracket_plugin.grid import combination_key, combinations, parse_values


def test_a_range_includes_its_stop_and_keeps_decimal_steps_exact():
    assert parse_values('tp', '0.005:0.03:0.005') == [0.005, 0.01, 0.015, 0.02, 0.025, 0.03]
    assert parse_values('lookback', '24:48:12') == [24, 36, 48]
    assert parse_values('x', '1:2:0.4') == [1.0, 1.4, 1.8]        # 2 is not reached by the steps


def test_lists_and_single_values():
    assert parse_values('sl', '0.004,0.008') == [0.004, 0.008]
    assert parse_values('n', '7') == [7]
    assert parse_values('mode', 'a,b') == ['a', 'b']


@pytest.mark.parametrize('text,rule', [('1:0:1', 'STOP >= START'), ('0:1:0', 'STEP > 0'), ('a:b:c', 'three numbers'),
                                       ('1,,2', 'empty value'), ('0:1:0.00001', 'more than')])
def test_bad_ranges_name_the_parameter_and_the_rule(text, rule):
    with pytest.raises(ValueError) as err:
        parse_values('take_profit', text)
    assert 'take_profit' in str(err.value) and rule in str(err.value)


def test_combinations_vary_the_first_parameter_slowest():
    assert combinations({'a': [1, 2], 'b': ['x', 'y']}) == [
        {'a': 1, 'b': 'x'}, {'a': 1, 'b': 'y'}, {'a': 2, 'b': 'x'}, {'a': 2, 'b': 'y'}]
    with pytest.raises(ValueError, match='param a: no values'):
        combinations({'a': []})


def test_a_key_changes_with_everything_that_decides_the_result():
    base = dict(strategy='s1', data='d1', params={'a': 1, 'b': 2}, run={'venue': None, 'cash': 1.0})
    key = combination_key(**base)
    assert combination_key(**dict(base, params={'b': 2, 'a': 1})) == key       # the order of names does not
    for change in (dict(strategy='s2'), dict(data='d2'), dict(params={'a': 1, 'b': 3}),
                   dict(run={'venue': 'kucoin', 'cash': 1.0}), dict(run={'venue': None, 'cash': 2.0})):
        assert combination_key(**dict(base, **change)) != key
