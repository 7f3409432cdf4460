"""Secrets never leave the config: not in the journal, the logs, the run files, or exceptions.

A paper run with a lost create answer (so the lookup-by-client-id path runs) and a CLI
run write everything they write; none of it may contain the API key, secret or passphrase."""
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from bracket_plugin.backtrader.paper import run_paper
from bracket_plugin.examples.breakout_bracket import BreakoutBracket
from bracket_plugin.sim import Venue
from bracket_plugin.sim.venue import DEFAULT_CREDENTIALS
from conformance import VENUES, facts

ROOT = Path(__file__).resolve().parents[2]


def secrets_of(exchange_id):
    creds = DEFAULT_CREDENTIALS[exchange_id]
    return [s for s in (creds.api_key, creds.secret, creds.passphrase) if s]


def assert_clean(blob: bytes, exchange_id):
    for secret in secrets_of(exchange_id):
        assert secret.encode() not in blob


@pytest.mark.parametrize('exchange_id', VENUES)
def test_journal_and_logs_hold_no_secret(exchange_id, slice_path, tmp_path, caplog):
    journal = tmp_path / 'journal.sqlite'
    caplog.set_level(logging.DEBUG)   # every logger, ccxt's request log included
    with Venue(data=str(slice_path), symbol='ETH/BTC', exchanges=(exchange_id,)) as venue:
        lost = venue.faults.add(pattern=facts(exchange_id).BRACKET_LIST_CREATE, kind='lose_response', count=1, method='POST')
        result = run_paper(BreakoutBracket, exchange_id, slice_path, cash=1.0, journal=str(journal), venue=venue)
    assert result.trades, 'the run must trade, or it proves nothing'
    assert lost.fired == 1, 'a create answer must have been lost, so the lookup path ran'
    written = b''.join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith('journal'))
    assert written
    assert_clean(written, exchange_id)
    assert_clean(caplog.text.encode(), exchange_id)


def test_cli_run_files_and_output_hold_no_secret(slice_path, tmp_path):
    out = tmp_path / 'out'
    done = subprocess.run([sys.executable, '-m', 'bracket_plugin.cli', '--debug', 'live', str(ROOT / 'strategies' / 'breakout_bracket.py'),
                           '--exchange', 'kucoin', '--data', str(slice_path), '--out', str(out), '--quiet'],
                          capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    files = [p for p in out.rglob('*') if p.is_file()]
    assert files
    assert_clean(done.stdout + done.stderr + b''.join(p.read_bytes() for p in files), 'kucoin')


@pytest.mark.parametrize('exchange_id', VENUES)
def test_verbose_output_through_the_store_holds_no_secret(exchange_id, bundled_slice, capsys):
    data = bundled_slice(120)
    with Venue(data=str(data), symbol='ETH/BTC', exchanges=(exchange_id,)) as venue:
        result = run_paper(BreakoutBracket, exchange_id, data, cash=1.0, venue=venue,
                           capabilities={'verbose': True})
        result.store.exchange.fetch_balance()    # at least one signed request, whatever the run sent
    printed = capsys.readouterr().out
    assert result.store.exchange.verbose is True
    # signed requests were printed, their credential fields masked
    assert facts(exchange_id).VERBOSE_KEY_FIELD in printed
    assert_clean(printed.encode(), exchange_id)
