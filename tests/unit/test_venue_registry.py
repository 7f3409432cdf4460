"""The venue registry is the one place an exchange id is looked up (issue: venue rules as data)."""
import ast
from pathlib import Path

import pytest

import bracket_plugin
from bracket_plugin import venues

PACKAGE = Path(bracket_plugin.__file__).parent


def _venue_file(path: Path) -> bool:
    """A venue's own files: its profile, and every module named for it (exchange layer, dialect)."""
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] == 'venues' or path.stem in venues.ids()


def _exempt(tree) -> set[int]:
    """Docstrings, and `__all__` (it lists the exchange classes, which ccxt names by id)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == '__all__' for t in node.targets):
            out |= {id(n) for n in ast.walk(node.value)}
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def id_literals(source: str) -> list[tuple[int, str]]:
    """(line, id) of every string literal equal to a registered venue id, docstrings aside."""
    tree = ast.parse(source)
    skip = _exempt(tree)
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in venues.ids() and id(n) not in skip]


def test_no_module_outside_the_venue_files_names_an_exchange_id():
    found = {str(p.relative_to(PACKAGE)): id_literals(p.read_text())
             for p in PACKAGE.rglob('*.py') if not _venue_file(p)}
    assert {f: hits for f, hits in found.items() if hits} == {}


def test_the_scan_finds_a_comparison_it_is_meant_to_refuse():
    assert id_literals("if exchange.id == 'kucoin':\n    pass\n") == [(1, 'kucoin')]
    assert id_literals("X = {'cryptocom': 1}\n") == [(1, 'cryptocom')]
    assert id_literals('"""kucoin"""\n__all__ = ["kucoin"]\n') == []


def test_every_registered_profile_names_its_own_id_and_classes():
    for v in venues.profiles():
        assert venues.profile(v.id) is v
        assert v.exchange_class()().id == v.id
        assert v.exchange_class(asynchronous=True)().id == v.id
        assert v.dialect_class().prefix == '/' + v.id
        assert v.native <= {'oco', 'oto', 'otoco'}


@pytest.mark.parametrize('venue_id', venues.ids())
def test_the_classes_place_natively_what_the_profile_says(venue_id):
    """The venue backtest reads the profile's `native`; paper and live runs read the exchange
    class's has flags: the two must agree, sync and async."""
    p = venues.profile(venue_id)
    for cls in (p.exchange_class(), p.exchange_class(asynchronous=True)):
        has = cls().has
        assert {k for k in ('oco', 'oto', 'otoco') if has.get(f'create{k.capitalize()}Order')} == p.native, cls


def test_a_list_client_id_is_refused_beyond_the_profiles_limit():
    for p in venues.profiles():
        ex = p.exchange_class()()
        assert ex._check_client_id('a' * p.list_client_id_max) == []
        too_long = ex._check_client_id('a' * (p.list_client_id_max + 1))
        assert [(v.field, str(p.list_client_id_max) in v.rule) for v in too_long] == [('params.clientOrderId', True)], p.id


def test_an_unknown_venue_is_refused_naming_the_registered_ones():
    with pytest.raises(ValueError, match='registered venues are kucoin, cryptocom'):
        venues.profile('nowhere')
    assert venues.find('binanceus') is None
