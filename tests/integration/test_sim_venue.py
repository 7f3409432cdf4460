"""Venue controls: state file across restarts, realtime clock, control endpoint, defaults."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from decimal import Decimal

import ccxt
import pytest
import requests

from bracket_plugin.sim.venue import url_leaves
from conformance import VENUES
from simfixtures import START, SYMBOL, client, make_venue


def test_state_file_keeps_orders_balances_and_clock(tmp_path):
    path = tmp_path / "venue.json"
    with make_venue(state_file=path) as v:
        ex = client(v, "kucoin")
        ex.load_markets()
        resting = ex.create_order(SYMBOL, "limit", "buy", 1, 0.05, {"clientOid": "keep-1"})
        ex.create_order(SYMBOL, "market", "sell", 2)
        v.step()
        cx = client(v, "cryptocom")
        cx.load_markets()
        adv = cx.request("private/advanced/create-order", ["v1", "private"], "POST",
                         {"instrument_name": "ETH_BTC", "side": "SELL", "type": "STOP_LOSS", "quantity": "1",
                          "ref_price": "0.05"})["result"]["order_id"]
        before = ex.fetch_balance()
        now = v.now_ms()
    assert path.exists()
    with make_venue(state_file=path) as v:
        assert v.now_ms() == now and v.engine.bars_left() == len(v.bars[SYMBOL]) - START - 1
        ex = client(v, "kucoin")
        ex.load_markets()
        again = ex.fetch_order(None, SYMBOL, {"clientOid": "keep-1"})
        assert (again["id"], again["status"]) == (resting["id"], "open")
        after = ex.fetch_balance()
        assert (after["ETH"], after["BTC"]) == (before["ETH"], before["BTC"])
        assert len(ex.fetch_my_trades(SYMBOL)) == 1
        new = ex.create_order(SYMBOL, "limit", "buy", 1, 0.05)
        assert new["id"] not in (resting["id"],)  # ids stay unique across the restart
        cx = client(v, "cryptocom")
        cx.load_markets()
        # the advanced order is still in its own family after the restart
        assert cx.fetch_open_orders(SYMBOL) == []
        opened = cx.request("private/advanced/get-open-orders", ["v1", "private"], "POST", {})["result"]["data"]
        assert [o["order_id"] for o in opened] == [adv]


def serve_process(state_path):
    """`bracket-plugin sim serve` in its own process, keeping its state in state_path; returns (proc, url)."""
    proc = subprocess.Popen([sys.executable, "-m", "bracket_plugin.cli", "sim", "serve", "--step", "--start", str(START),
                             "--state", str(state_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline()).group(0)
    return proc, url


def test_a_killed_venue_loses_no_accepted_order_or_fill(tmp_path):
    path = tmp_path / "venue.json"
    proc, url = serve_process(path)
    try:
        def urls(base):
            return {"api": {"base": base, "v1": base + "/exchange/v1", "v2": base + "/v2",
                             "derivatives": base + "/v2"}}

        ex = ccxt.cryptocom({"apiKey": "sim-cryptocom-key", "secret": "sim-cryptocom-secret",
                             "urls": urls(url + "/cryptocom"), "enableRateLimit": False})
        ex.load_markets()
        filled = ex.create_order(SYMBOL, "market", "buy", 2)
        assert requests.post(url + "/sim/step", timeout=5).json()["stepped"] == 1
        resting = ex.create_order(SYMBOL, "limit", "buy", 1, 0.01, {"client_oid": "rest-1"})
        adv = ex.request("private/advanced/create-order", ["v1", "private"], "POST",
                         {"instrument_name": "ETH_BTC", "side": "SELL", "type": "STOP_LOSS", "quantity": "1",
                          "ref_price": "0.05"})["result"]["order_id"]
        gone = ex.create_order(SYMBOL, "limit", "sell", 1, 0.3)
        ex.cancel_order(gone["id"], SYMBOL)
        balance = ex.fetch_balance()
    finally:
        proc.kill()  # SIGKILL: no shutdown code runs, nothing is written at exit
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
    assert filled["id"] not in path.read_text()  # the snapshot predates every change: all is in the journal
    with make_venue(state_file=path) as v:
        eng = v.engine_for("cryptocom")
        assert eng.bars_left() == len(v.bars[SYMBOL]) - START - 1
        assert [(f.order_id, f.amount) for f in eng.fills()] == [(filled["id"], Decimal(2))]
        assert [o.id for o in eng.open_orders()] == [resting["id"], adv]
        assert (eng.order_by_client_id("rest-1").id, eng.order(gone["id"]).status) == (resting["id"], "canceled")
        assert {c: float(t) for c, (t, _, _) in eng.balances().items()} == {c: balance[c]["total"] for c in ("ETH", "BTC")}
        cx = client(v, "cryptocom")
        cx.load_markets()
        assert [o["id"] for o in cx.fetch_open_orders(SYMBOL)] == [resting["id"]]  # the advanced one kept its family
        assert cx.create_order(SYMBOL, "limit", "buy", 1, 0.01)["id"] not in (filled["id"], resting["id"], adv, gone["id"])
    # a clean shutdown folded the journal into the snapshot
    assert resting["id"] in path.read_text() and path.with_name(path.name + ".journal").read_text() == ""


def test_journal_already_in_the_snapshot_is_not_repeated_and_a_torn_line_is_dropped(tmp_path):
    path = tmp_path / "s.json"
    journal = path.with_name(path.name + ".journal")
    v = make_venue(state_file=path)
    eng = v.engine_for("kucoin")
    from bracket_plugin.sim.engine import OrderRequest
    eng.place(OrderRequest(SYMBOL, "buy", "market", amount="1"))
    v.step()
    eng.place(OrderRequest(SYMBOL, "sell", "limit", amount="1", price="0.3"))
    written = journal.read_text()
    # one step line per served dialect's engine
    assert [json.loads(line)["op"] for line in written.splitlines()] == ["place"] + ["step"] * len(v.engines) + ["place"]
    expected = {ex: e.to_state() for ex, e in v.engines.items()}
    v.compact()
    v.close()
    # as if the process died after the new snapshot was in place but before the journal was emptied,
    # in the middle of writing one more entry
    journal.write_text(written + '{"op": "place", "req": {"symbol": "ETH/B')
    again = make_venue(state_file=path)
    assert {ex: e.to_state() for ex, e in again.engines.items()} == expected
    again.close()


def test_realtime_mode_moves_the_clock():
    with make_venue(mode="realtime", speed=50) as v:
        start = v.now_ms()
        deadline = time.monotonic() + 5
        while v.now_ms() < start + 3 * 300_000 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert v.now_ms() >= start + 3 * 300_000


def test_control_endpoint_steps_the_clock():
    with make_venue(control=True) as v:
        before = v.now_ms()
        r = requests.post(v.url + "/sim/step?n=3", timeout=5).json()
        assert r["stepped"] == 3 and r["now"] == before + 3 * 300_000 == v.now_ms()
        assert requests.get(v.url + "/sim/status", timeout=5).json()["bars_left"] == r["bars_left"]
    with make_venue() as v:  # off unless asked for
        assert requests.post(v.url + "/sim/step", timeout=5).status_code == 404


def test_default_and_custom_balances():
    with make_venue() as v:
        assert v.engine_for("kucoin").balances()["ETH"][0] == Decimal(100)
        assert v.engine_for("cryptocom").balances()["BTC"][0] == Decimal(10)
    with make_venue(balances={"ETH": 1, "BTC": "0.5"}) as v:
        ex = client(v, "cryptocom")
        bal = ex.fetch_balance()
        assert (bal["ETH"]["total"], bal["BTC"]["total"]) == (1.0, 0.5)


def test_fees_per_exchange_and_configurable():
    with make_venue(fees={"kucoin": {"maker_fee": "0.002", "taker_fee": "0.002"}}) as v:
        assert v.engine_for("kucoin").rules(SYMBOL).taker_fee == Decimal("0.002")
        assert v.engine_for("cryptocom").rules(SYMBOL).taker_fee == Decimal("0.00075")
        assert v.engine_for("kucoin").rules(SYMBOL).max_open_stops == 20


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        make_venue(mode="fast")
    with pytest.raises(ValueError, match="exchanges"):
        make_venue(exchanges=("ftx",))   # not a registered venue
    with pytest.raises(ValueError, match=r"balances\['BTC'\] must be a number >= 0"):
        make_venue(balances={"BTC": -1})
    with pytest.raises(ValueError, match="unknown: maker"):
        make_venue(fees={"kucoin": {"maker": "0.1"}})
    v = make_venue()
    with pytest.raises(RuntimeError, match="not serving"):
        v.ccxt_config("kucoin")


def test_two_venues_on_distinct_ports():
    with make_venue() as a, make_venue() as b:
        assert a.url != b.url
        assert client(a, "kucoin").fetch_time() > 0 and client(b, "kucoin").fetch_time() > 0


def test_partial_fills_show_on_every_dialect():
    with make_venue(volume_fraction="0.0001") as v:
        bar = v.bars[SYMBOL][START]
        cap = float(bar.volume) * 0.0001
        for exchange_id in VENUES:
            ex = client(v, exchange_id)
            ex.load_markets()
            ex.create_order(SYMBOL, "market", "sell", 50)
        v.step()
        for exchange_id in VENUES:
            ex = client(v, exchange_id)
            (order,) = [o for o in ex.fetch_open_orders(SYMBOL)] or [None]
            assert order is not None and order["status"] == "open"
            assert 0 < order["filled"] <= cap + 0.0001 and order["filled"] < 50


def test_clean_shutdown_releases_the_port():
    import socket

    with make_venue() as v:
        port = int(v.url.rsplit(":", 1)[1])
        thread = v._server._thread
    assert not thread.is_alive()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # nobody listens any more


def test_two_markets_from_a_dict_of_files(tmp_path):
    from bracket_plugin.bars import bundled_data_path
    from bracket_plugin.sim import Venue

    lines = bundled_data_path().read_text().splitlines()
    ltc = [lines[0]] + [",".join([r.split(",")[0]] + [str(Decimal(x) / 5) for x in r.split(",")[1:5]] + [r.split(",")[5]])
                        for r in lines[1:200]]
    (tmp_path / "ltc.csv").write_text("\n".join(ltc) + "\n")
    with Venue({"ETH/BTC": bundled_data_path(), "LTC/BTC": tmp_path / "ltc.csv"}, start=20) as v:
        ex = client(v, "kucoin")
        assert sorted(ex.load_markets()) == ["ETH/BTC", "LTC/BTC"]
        bal = ex.fetch_balance()
        assert bal["LTC"]["total"] > 0 and bal["ETH"]["total"] > 0 and bal["BTC"]["total"] > 0
        assert ex.fetch_ticker("LTC/BTC")["last"] == float(v.bars["LTC/BTC"][19].close)
        v.step()  # one step closes the next bar of both markets (same timestamps)
        assert ex.fetch_ticker("LTC/BTC")["last"] == float(v.bars["LTC/BTC"][20].close)
        assert ex.fetch_ticker("ETH/BTC")["last"] == float(v.bars["ETH/BTC"][20].close)
        cx = client(v, "cryptocom")
        assert sorted(cx.load_markets()) == ["ETH/BTC", "LTC/BTC"]
        assert cx.fetch_ticker("LTC/BTC")["last"] == float(v.engine_for("cryptocom").last_price("LTC/BTC"))


@pytest.mark.parametrize("exchange_id", VENUES)
def test_every_url_a_client_could_use_points_at_the_simulator(exchange_id):
    """REST and websocket: ccxt's, ccxt.pro's and our classes given ccxt_config reach 127.0.0.1 only."""
    import ccxt
    import ccxt.pro

    import bracket_plugin
    with make_venue() as v:
        config = v.ccxt_config(exchange_id)
        for cls in (getattr(ccxt, exchange_id), getattr(ccxt.pro, exchange_id), getattr(bracket_plugin, exchange_id)):
            urls = list(url_leaves(cls(config).urls["api"]))
            assert urls and all(u.startswith(("http://127.0.0.1:", "ws://127.0.0.1:")) for _, u in urls), \
                [(p, u) for p, u in urls if "127.0.0.1" not in u]
        # the streams too: every websocket URL ccxt.pro knows for the exchange is replaced
        ws = dict(url_leaves(getattr(ccxt.pro, exchange_id)(config).urls["api"]["ws"]))
        assert ws and all(u.startswith("ws://127.0.0.1:") for u in ws.values())


@pytest.mark.parametrize("exchange_id", VENUES)
def test_stream_paths_are_the_dialects_own(exchange_id):
    """A websocket URL from ccxt_config reaches the dialect's stream handler (404 until it streams),
    not its REST routes."""
    import ccxt.pro

    with make_venue() as v:
        url = next(iter(url_leaves(getattr(ccxt.pro, exchange_id)(v.ccxt_config(exchange_id)).urls["api"]["ws"])))[1]
        r = requests.get("http" + url[len("ws"):], timeout=10)
        assert r.status_code in (101, 400, 404, 426) and f"/{exchange_id}/ws/" in url
        if r.status_code == 404:
            assert "does not stream" in r.json()["error"]
