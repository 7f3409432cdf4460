"""JSON-able snapshots of an Engine, and the journal entries of its changes (for the simulator's
optional state file).

Decimals are written as strings so a round trip is exact.  Bars are not stored: the data files
give them again, and the snapshot records how many of each market's bars were closed.  A journal
entry names one accepted engine call (place, place_list, cancel, cancel_list, step) and its
arguments; the engine is deterministic, so applying the entries to the snapshot they follow
rebuilds the same state, fills included.
"""
from __future__ import annotations

from dataclasses import fields
from decimal import Decimal

from bracket_plugin.bars import Bar
from bracket_plugin.sim.rules import MarketRules

VERSION = 1


def _enc(value):
    if isinstance(value, Decimal):
        return str(value)
    return value


_NAMES: dict[type, tuple[str, ...]] = {}


def _obj(dc) -> dict:
    # field by field: dataclasses.asdict deep-copies and is ~10x slower on big order books
    names = _NAMES.get(type(dc))
    if names is None:
        names = _NAMES[type(dc)] = tuple(f.name for f in fields(dc))
    return {k: _enc(getattr(dc, k)) for k in names}


def _dec_fields(cls, data: dict) -> dict:
    out = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        v = data[f.name]
        if isinstance(v, str) and "Decimal" in str(f.type):
            v = Decimal(v)
        out[f.name] = v
    return out


def _cached(cache: dict, key, dc, final: bool) -> dict:
    """Encoded form of a record; records that can no longer change are encoded once."""
    if not final:
        return _obj(dc)
    d = cache.get(key)
    if d is None:
        d = cache[key] = _obj(dc)
    return dict(d)


def dump(engine) -> dict:
    from bracket_plugin.sim.engine import FINAL

    cache = engine.__dict__.setdefault("_encoded_final", {})
    return {
        "version": VERSION,
        "markets": {s: _obj(r) for s, r in engine._rules.items()},
        "cursor": dict(engine._cursor),
        "first_ts": {s: b[0].ts for s, b in engine._bars.items()},
        "totals": {c: str(v) for c, v in engine._total.items()},
        "holds": {k: [h.currency, str(h.amount)] for k, h in engine._holds.items()},
        "orders": [_cached(cache, ("o", o.id), o, o.status in FINAL) for o in engine._orders.values()],
        "lists": [dict(_cached(cache, ("l", lst.id), lst, lst.status != "open"), order_ids=list(lst.order_ids))
                  for lst in engine._lists.values()],
        "fills": [_cached(cache, ("f", f.id), f, True) for f in engine._fills],
        "counter": engine._counter,
        "max_volume_fraction": _enc(engine.max_volume_fraction),
    }


def load(cls, data: dict, bars: dict[str, list[Bar]], ids, marks: dict[str, list[Bar]] | None = None):
    from bracket_plugin.sim.engine import FINAL, Fill, SimList, SimOrder, _Hold

    if data.get("version") != VERSION:
        raise ValueError(f"state file version {data.get('version')!r} is not supported (expected {VERSION})")
    markets = {s: MarketRules(**_dec_fields(MarketRules, r)) for s, r in data["markets"].items()}
    if set(bars) != set(markets):
        raise ValueError(f"state file markets {sorted(markets)} differ from the data's {sorted(bars)}")
    for s, c in data["cursor"].items():
        if c > len(bars[s]) or bars[s][0].ts != data["first_ts"][s]:
            raise ValueError(f"state file does not match the bars of {s}: it closed {c} bars from {data['first_ts'][s]}")
    eng = cls(markets, bars, {c: Decimal(v) for c, v in data["totals"].items()}, start=0, ids=ids,
              max_volume_fraction=data.get("max_volume_fraction"), marks=marks)
    eng._cursor = {s: int(c) for s, c in data["cursor"].items()}
    for k, (cur, a) in data["holds"].items():
        eng._holds.set(k, _Hold(cur, Decimal(a)))
    for od in data["orders"]:
        o = SimOrder(**_dec_fields(SimOrder, od))
        eng._orders[o.id] = o
        if o.status not in FINAL:
            eng._active[o.id] = o
        if o.client_id:
            eng._client_ids[o.client_id] = ("order", o.id)
    for ld in data["lists"]:
        lst = SimList(**ld)
        eng._lists[lst.id] = lst
        if lst.client_id:
            eng._client_ids[lst.client_id] = ("list", lst.id)
    eng._fills = [Fill(**_dec_fields(Fill, f)) for f in data["fills"]]
    eng._counter = int(data["counter"])
    return eng


# ---------------------------------------------------------------- journal entries
def op_place(req) -> dict:
    return {"op": "place", "req": _obj(req)}


def op_place_list(kind: str, legs: list, client_id: str | None) -> dict:
    return {"op": "place_list", "kind": kind, "legs": [_obj(leg) for leg in legs], "client_id": client_id}


def op_cancel(order_id: str) -> dict:
    return {"op": "cancel", "id": order_id}


def op_cancel_list(list_id: str) -> dict:
    return {"op": "cancel_list", "id": list_id}


def op_step() -> dict:
    return {"op": "step"}


def apply(engine, entry: dict) -> None:
    """Repeat one journaled call on `engine`; ValueError if it no longer goes through (the journal
    does not belong to this state)."""
    from bracket_plugin.sim.engine import OrderRequest, Reject

    op = entry.get("op")
    try:
        if op == "place":
            engine.place(OrderRequest(**entry["req"]))
        elif op == "place_list":
            engine.place_list(entry["kind"], [OrderRequest(**leg) for leg in entry["legs"]], entry["client_id"])
        elif op == "cancel":
            engine.cancel(entry["id"])
        elif op == "cancel_list":
            engine.cancel_list(entry["id"])
        elif op == "step":
            if not engine.step():
                raise ValueError("journal steps past the last bar")
        else:
            raise ValueError(f"unknown journal entry {op!r}")
    except Reject as rej:
        raise ValueError(f"journal entry {entry} does not apply to this state: {rej.message}") from None
