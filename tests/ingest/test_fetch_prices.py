"""fetch-prices against a local server that answers like Binance and CoinGecko, from real files.

Never the internet: the server listens on 127.0.0.1 and serves the real ETHUSDT 1h klines
(misrori) and CoinGecko WETH prices (bhemen) in the APIs' own response shapes.
"""

from __future__ import annotations

import argparse
import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest

from backtest.commands import fetch_prices, import_prices
from backtest.errors import InputError
from backtest.ingest.fetch_prices import fetch_series
from backtest.ingest.price_files import read_price_file
from backtest.lake.io import table_files

HOUR_MS = 3_600_000


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


class Market:
    """What the fake exchange knows, built from the real files, and what it was asked."""

    def __init__(self, real):
        k = pd.read_csv(real / "binance_1h_misrori" / "ETHUSDT_1h.csv", dtype=str)
        opens = pd.to_datetime(k["date"], utc=True).dt.as_unit("ms").astype("int64")
        self.klines = [[int(t), o, h, lo, c, v, int(t) + HOUR_MS - 1, "0", 1, "0", "0", "0"]
                       for t, o, h, lo, c, v in zip(opens, k.open, k.high, k.low, k.close, k.volume)]
        g = pd.read_csv(real / "coingecko_hourly_bhemen_aave_data" / "usd_prices" / "WETH_usd.csv")
        self.chart = [[int(t), float(p)] for t, p in zip(g.timestamp, g.USD_price)]
        self.requests: list[str] = []
        self.throttle_next = 0          # answer this many requests with 429 first


def make_handler(market: Market):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, status, body, headers=()):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            market.requests.append(self.path)
            if market.throttle_next:
                market.throttle_next -= 1
                return self.reply(429, {"code": -1003, "msg": "Too many requests"}, [("Retry-After", "0")])
            if url.path == "/api/v3/klines":
                if q.get("symbol") != "ETHUSDT":
                    return self.reply(400, {"code": -1121, "msg": "Invalid symbol."})
                lo, hi, limit = int(q["startTime"]), int(q["endTime"]), min(int(q.get("limit", 500)), 1000)
                return self.reply(200, [k for k in market.klines if lo <= k[0] <= hi][:limit])
            if url.path == "/api/v3/coins/weth/market_chart/range":
                lo, hi = int(q["from"]) * 1000, int(q["to"]) * 1000
                points = [p for p in market.chart if lo <= p[0] <= hi]
                if hi - lo > 90 * 86_400_000:          # CoinGecko: daily points beyond 90 days
                    points = points[::24]
                return self.reply(200, {"prices": points, "market_caps": [], "total_volumes": []})
            return self.reply(404, {"error": "not found"})
    return Handler


@pytest.fixture
def server(real):
    market = Market(real)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(market))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    market.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield market
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def window(series, start, end):
    w = (series.timestamp > np.datetime64(start)) & (series.timestamp <= np.datetime64(end))
    return series.timestamp[w], series.price[w]


def test_binance_fetch_pages_by_start_time_and_matches_the_file(server, real):
    # 2021-05-01 .. 2021-07-01 is 61 days = 1,464 hourly bars: one full page of 1,000, then the rest.
    s = fetch_series("ETH", "binance", utc("2021-05-01"), utc("2021-07-01"), url=server.url)
    assert len(server.requests) == 2
    assert "startTime=1619827200000" in server.requests[0]                  # 2021-05-01 00:00 UTC
    assert "startTime=1623427200000" in server.requests[1]                  # + 1,000 hours
    t, p = window(read_price_file(real / "binance_1h_misrori" / "ETHUSDT_1h.csv"), "2021-05-01", "2021-07-01")
    assert s.source == "binance:ETHUSDT:1h:close"
    assert np.array_equal(s.timestamp, t) and np.array_equal(s.price, p)


def test_rate_limits_are_waited_out(server):
    server.throttle_next = 2
    waits = []
    s = fetch_series("ETH", "binance", utc("2021-05-19"), utc("2021-05-20"), url=server.url, sleep=waits.append)
    assert waits == [0.0, 0.0] and len(server.requests) == 3               # Retry-After: 0, twice
    assert len(s.price) == 24 and s.low.min() == 1888.0                    # MANIFEST: 19 May 2021 low


def test_a_server_error_that_persists_is_reported_not_retried_forever(server):
    server.throttle_next = 99
    with pytest.raises(InputError, match="HTTP 429"):
        fetch_series("ETH", "binance", utc("2021-05-19"), utc("2021-05-20"), url=server.url,
                     retries=2, sleep=lambda s: None)
    assert len(server.requests) == 3


def test_an_unknown_symbol_says_what_the_server_said(server):
    with pytest.raises(InputError, match="HTTP 400.*Invalid symbol"):
        fetch_series("XYZ", "binance", utc("2021-05-19"), utc("2021-05-20"), url=server.url)


def test_coingecko_is_asked_in_90_day_windows_to_stay_hourly(server, real):
    s = fetch_series("WETH", "coingecko", utc("2021-06-01"), utc("2021-10-01"), url=server.url)
    assert len(server.requests) == 2                                        # 122 days = 90 + 32
    f = read_price_file(real / "coingecko_hourly_bhemen_aave_data" / "usd_prices" / "WETH_usd.csv")
    w = (f.timestamp >= np.datetime64("2021-06-01")) & (f.timestamp < np.datetime64("2021-10-01"))
    assert np.array_equal(s.timestamp, f.timestamp[w]) and np.array_equal(s.price, f.price[w])
    assert s.source == "coingecko:weth:usd"


def test_fetched_and_imported_series_give_the_same_lake_file(server, real, tmp_path, monkeypatch):
    # The file's bars opening 2021-05-18 00:00 .. 2021-05-20 23:00 are the server's answer for
    # [2021-05-18, 2021-05-21); cut the real file to that window so both spans agree.
    k = pd.read_csv(real / "binance_1h_misrori" / "ETHUSDT_1h.csv", dtype=str)
    cut = k[(k.date >= "2021-05-18") & (k.date < "2021-05-21")]
    src = tmp_path / "ETHUSDT_1h.csv"
    cut.to_csv(src, index=False)
    monkeypatch.setenv("BACKTEST_BINANCE_URL", server.url)
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    fetch_prices.register(sub)
    import_prices.register(sub)
    for argv in (["fetch-prices", "ETH", "--from", "2021-05-18", "--to", "2021-05-21", "--lake", str(tmp_path / "a")],
                 ["import-prices", str(src), "--lake", str(tmp_path / "b")]):
        args = parser.parse_args(argv)
        assert args.func(args) == 0
    a, b = table_files(tmp_path / "a", "prices"), table_files(tmp_path / "b", "prices")
    assert [f.name for f in a] == [f.name for f in b] == [
        "eth__binance-ethusdt-1h-close__20210518T0100-20210521T0000.parquet"]
    assert a[0].read_bytes() == b[0].read_bytes()
