"""`bracket-plugin sim serve` as a separate process: banner, credentials, step endpoint, ccxt."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import ccxt
import requests


def test_sim_serve_prints_url_and_credentials_and_steps():
    proc = subprocess.Popen([sys.executable, "-m", "bracket_plugin.cli", "sim", "serve", "--step", "--start", "10",
                             "--balance", "BTC=3", "--balance", "ETH=7"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(6)]
        url = re.search(r"http://127\.0\.0\.1:\d+", lines[0]).group(0)
        config = json.loads(re.search(r"ccxt\.kucoin\((.*)\)$", lines[2].strip()).group(1))
        assert config["apiKey"] and config["secret"] and config["password"]
        ex = ccxt.kucoin(dict(config, enableRateLimit=False))
        balance = ex.fetch_balance()
        assert (balance["BTC"]["total"], balance["ETH"]["total"]) == (3.0, 7.0)
        before = requests.get(url + "/sim/status", timeout=5).json()
        stepped = requests.post(url + "/sim/step?n=2", timeout=5).json()
        assert stepped["stepped"] == 2 and stepped["now"] == before["now"] + 2 * 300_000
    finally:
        proc.terminate()
        proc.wait(10)


def test_sim_serve_refuses_bad_arguments(capsys):
    import pytest

    from bracket_plugin.cli import build_parser

    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["sim", "serve", "--balance", "BTC"])
    assert exc.value.code != 0 and "CURRENCY=AMOUNT" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["sim", "serve", "--speed", "2", "--step"])
    assert exc.value.code != 0 and "not allowed with" in capsys.readouterr().err


def test_sim_serve_single_exchange_also_serves_it_at_the_root():
    """KuCoin's older SDK joins /api/v1/... to the host: with one --exchange, the root path is that dialect."""
    proc = subprocess.Popen([sys.executable, "-m", "bracket_plugin.cli", "sim", "serve", "--exchange", "kucoin",
                             "--balance", "BTC=3", "--balance", "ETH=7"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(5)]
        url = re.search(r"http://127\.0\.0\.1:\d+", lines[0]).group(0)
        assert lines[3].strip() == f"kucoin: also at the root path, base {url}" and lines[4].startswith("status:")
        config = json.loads(re.search(r"ccxt\.kucoin\((.*)\)$", lines[2].strip()).group(1))
        assert requests.get(url + "/api/v1/timestamp", timeout=5).json()["code"] == "200000"
        bare = dict(config, enableRateLimit=False, urls={"api": {k: url for k in config["urls"]["api"]}})
        assert ccxt.kucoin(bare).fetch_balance()["BTC"]["total"] == 3.0
        assert ccxt.kucoin(dict(config, enableRateLimit=False)).fetch_balance()["ETH"]["total"] == 7.0  # prefix too
        assert requests.get(url + "/sim/status", timeout=5).json()["mode"] == "step"
    finally:
        proc.terminate()
        proc.wait(10)
