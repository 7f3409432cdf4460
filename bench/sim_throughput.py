"""Signed requests per second the simulator answers on loopback.

The venue runs in its own process (as `bracket-plugin sim serve` would); a lean HTTP/1.1 client
(asyncio streams, keep-alive) with several concurrent connections signs every request exactly as the exchange wants (KuCoin
KC-API-* headers, Crypto.com body signature) and measures completed requests per second for:
KuCoin GET /api/v1/accounts, KuCoin orders (POST /api/v1/orders of a resting limit order, then
DELETE /api/v1/orders/{id}, alternating, so the book stays the size a bot keeps), Crypto.com
private/user-balance.  Client and server use uvloop when installed (ccxt depends on it).  For context it then measures plain ccxt clients (one request at a time,
rate limiter off) on the same venue.  All figures come from one run, side by side.

    .venv/bin/python bench/sim_throughput.py [--requests 3000] [--connections 8]
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import multiprocessing as mp
import os
import time


def serve(conn) -> None:
    from bracket_plugin.bars import bundled_data_path
    from bracket_plugin.sim import Venue

    with Venue(bundled_data_path(), symbol="ETH/BTC", start=50, balances={"ETH": 10**9, "BTC": 10**9}) as venue:
        conn.send((venue.url, {ex: venue.ccxt_config(ex) for ex in venue.exchanges}))
        conn.recv()  # until the parent says stop


def kucoin_headers(cfg: dict, method: str, endpoint: str, body: str) -> dict:
    ts = str(int(time.time() * 1000))
    sign = base64.b64encode(hmac.new(cfg["secret"].encode(), (ts + method + endpoint + body).encode(), hashlib.sha256).digest()).decode()
    phrase = base64.b64encode(hmac.new(cfg["secret"].encode(), cfg["password"].encode(), hashlib.sha256).digest()).decode()
    return {"KC-API-KEY": cfg["apiKey"], "KC-API-SIGN": sign, "KC-API-TIMESTAMP": ts, "KC-API-PASSPHRASE": phrase,
            "KC-API-KEY-VERSION": "2", "Content-Type": "application/json"}


def cdc_body(cfg: dict, method: str, params: dict) -> str:
    nonce = int(time.time() * 1000)
    param_string = "".join(k + str(params[k]) for k in sorted(params))
    sig = hmac.new(cfg["secret"].encode(), (method + str(nonce) + cfg["apiKey"] + param_string + str(nonce)).encode(),
                   hashlib.sha256).hexdigest()
    return json.dumps({"id": nonce, "method": method, "params": params, "api_key": cfg["apiKey"], "sig": sig, "nonce": nonce})


def build_request(kind: str, cfgs: dict, i: int, cancel: str | None = None) -> tuple[bytes, bool]:
    """One signed HTTP/1.1 request (fresh timestamp / nonce), and whether it is a KuCoin call.
    kucoin-orders alternates: create a resting limit order, then cancel it (`cancel` = its id)."""
    ku, cdc = cfgs["kucoin"], cfgs["cryptocom"]
    if kind == "kucoin-accounts":
        ep = "/api/v1/accounts"
        method, path, body, headers = "GET", "/kucoin" + ep, "", kucoin_headers(ku, "GET", ep, "")
    elif kind == "kucoin-orders" and cancel:
        ep = "/api/v1/orders/" + cancel
        method, path, body, headers = "DELETE", "/kucoin" + ep, "", kucoin_headers(ku, "DELETE", ep, "")
    elif kind == "kucoin-orders":
        ep = "/api/v1/orders"
        body = json.dumps({"clientOid": f"b{os.getpid()}-{i}", "side": "buy", "symbol": "ETH-BTC", "type": "limit",
                           "price": "0.01", "size": "0.01"}, separators=(",", ":"))
        method, path, headers = "POST", "/kucoin" + ep, kucoin_headers(ku, "POST", ep, body)
    else:
        method, path = "POST", "/cryptocom/exchange/v1/private/user-balance"
        body, headers = cdc_body(cdc, "private/user-balance", {}), {"Content-Type": "application/json"}
    data = body.encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(data)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode() + b"\r\n" + data, kind.startswith("kucoin")


async def lean(url: str, cfgs: dict, kind: str, n: int, connections: int) -> float:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams, so the client costs little CPU
    next to the server (both share the machine)."""
    host, port = url.split("//")[1].split(":")
    counter = iter(range(n))
    failures = []

    async def worker():
        reader, writer = await asyncio.open_connection(host, int(port))
        placed = None
        try:
            for i in counter:
                request, is_kucoin = build_request(kind, cfgs, i, cancel=placed)
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                answer = json.loads(await reader.readexactly(length))
                if answer["code"] != ("200000" if is_kucoin else 0):
                    failures.append(answer)
                if kind == "kucoin-orders":
                    placed = None if placed else answer["data"]["orderId"]
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - t0
    if failures:
        raise SystemExit(f"{kind}: {len(failures)} requests were refused, first: {failures[0]}")
    return n / elapsed


def run_async(coro):
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def ccxt_rate(cfgs: dict, exchange_id: str, n: int) -> float:
    import ccxt

    ex = getattr(ccxt, exchange_id)(dict(cfgs[exchange_id], enableRateLimit=False))
    ex.load_markets()
    ex.fetch_balance()
    t0 = time.perf_counter()
    for _ in range(n):
        ex.fetch_balance()
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=3000, help="requests per lean-client measurement")
    ap.add_argument("--connections", type=int, default=8, help="concurrent connections of the lean client")
    ap.add_argument("--ccxt-requests", type=int, default=300, help="requests per ccxt measurement")
    args = ap.parse_args()
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=serve, args=(child,), daemon=True)
    proc.start()
    url, cfgs = parent.recv()
    try:
        print(f"simulator at {url} (own process); {os.cpu_count()} CPUs; {args.connections} connections")
        rows = []
        for kind in ("kucoin-accounts", "kucoin-orders", "cryptocom-user-balance"):
            rows.append((f"lean client, {kind}", run_async(lean(url, cfgs, kind, args.requests, args.connections))))
        for ex in ("kucoin", "cryptocom"):
            rows.append((f"ccxt {ex} fetch_balance, sequential", ccxt_rate(cfgs, ex, args.ccxt_requests)))
        width = max(len(r[0]) for r in rows)
        for name, rate in rows:
            print(f"{name:<{width}}  {rate:8.0f} signed requests/s")
        lean_rates = [rate for name, rate in rows if name.startswith("lean")]
        ccxt_rates = [rate for name, rate in rows if name.startswith("ccxt")]
        print(f"lowest lean-client figure: {min(lean_rates):.0f} requests/s (target >= 1000); "
              f"lean / ccxt sequential: {min(lean_rates) / max(ccxt_rates):.1f}x (the client, not the venue, limits ccxt)")
    finally:
        parent.send("stop")
        proc.join(10)


if __name__ == "__main__":
    main()
