"""Price series from public, keyless HTTP endpoints (Binance klines, CoinGecko market charts).

The responses go through the same parsers as files (price_files), so a fetched series and an
imported file of the same market are the same table. Base URLs come from arguments or the
environment (BACKTEST_BINANCE_URL, BACKTEST_COINGECKO_URL), which is how tests aim at 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

from backtest.errors import InputError
from backtest.ingest.price_files import parse_price_text
from backtest.ingest.price_series import PriceSeries

BINANCE_URL = "https://api.binance.com"
COINGECKO_URL = "https://api.coingecko.com"
BINANCE_LIMIT = 1000                       # the most /api/v3/klines returns per request
COINGECKO_CHUNK_DAYS = 90                  # market_chart/range is hourly up to 90 days, daily beyond
INTERVAL_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000,
               "4h": 14_400_000, "1d": 86_400_000}
# CoinGecko coin ids for the assets the crash library uses (api.coingecko.com/api/v3/coins/list).
COINGECKO_IDS = {"ETH": "ethereum", "WETH": "weth", "BTC": "bitcoin", "WBTC": "wrapped-bitcoin",
                 "stETH": "staked-ether", "wstETH": "wrapped-steth", "USDC": "usd-coin", "USDT": "tether",
                 "DAI": "dai", "CRV": "curve-dao-token", "LINK": "chainlink", "AAVE": "aave", "MKR": "maker",
                 "UST": "terrausd", "LUNA": "terra-luna"}
RETRY_STATUS = (418, 429, 500, 502, 503, 504)


def base_url(source: str, given: str | None = None) -> str:
    env = {"binance": "BACKTEST_BINANCE_URL", "coingecko": "BACKTEST_COINGECKO_URL"}[source]
    default = {"binance": BINANCE_URL, "coingecko": COINGECKO_URL}[source]
    return (given or os.environ.get(env) or default).rstrip("/")


def get_json(url: str, params: dict, *, headers: dict | None = None, retries: int = 4, timeout: float = 30.0,
             sleep=time.sleep):
    """GET and decode JSON; rate limits and server errors are retried with backoff, others are fatal."""
    full = f"{url}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(full, headers={"User-Agent": "backtest-fetch-prices", **(headers or {})})
    for attempt in range(retries + 1):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            body = exc.read()[:300].decode("utf-8", "replace")
            if exc.code not in RETRY_STATUS or attempt == retries:
                raise InputError(f"HTTP {exc.code} from the price server: {body.strip() or exc.reason}",
                                 file=full) from None
            wait = float(exc.headers.get("Retry-After") or 2 ** attempt)
            sleep(min(wait, 60.0))
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            if attempt == retries:
                raise InputError(f"cannot reach the price server ({getattr(exc, 'reason', exc)})", file=full) from None
            sleep(min(2 ** attempt, 60.0))
        except json.JSONDecodeError as exc:
            raise InputError(f"the price server did not answer JSON ({exc.msg})", file=full) from None


def _ms(t: datetime) -> int:
    return int(t.astimezone(timezone.utc).timestamp() * 1000)


def binance_klines(symbol: str, interval: str, start: datetime, end: datetime, *, url: str | None = None,
                   now_ms: int | None = None, **http) -> list[list]:
    """Every kline opening in [start, end), paging by startTime (binance-spot-api-docs rest-api.md)."""
    if interval not in INTERVAL_MS:
        raise InputError(f"unknown interval {interval!r} (one of {', '.join(INTERVAL_MS)})")
    endpoint = f"{base_url('binance', url)}/api/v3/klines"
    cursor, stop, rows = _ms(start), _ms(end), []
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    while cursor < stop:
        page = get_json(endpoint, {"symbol": symbol, "interval": interval, "startTime": cursor,
                                   "endTime": stop - 1, "limit": BINANCE_LIMIT}, **http)
        if not isinstance(page, list):
            raise InputError(f"unexpected klines answer: {str(page)[:200]}", file=endpoint)
        if not page:
            break
        rows.extend(k for k in page if int(k[0]) < stop and int(k[6]) < now_ms)   # closed bars only
        cursor = int(page[-1][0]) + INTERVAL_MS[interval]
        if len(page) < BINANCE_LIMIT:
            break
    return rows


def coingecko_prices(coin_id: str, start: datetime, end: datetime, *, url: str | None = None,
                     api_key: str | None = None, **http) -> list[list]:
    """[ms, usd] points, asked for in 90-day windows so CoinGecko keeps hourly granularity."""
    endpoint = f"{base_url('coingecko', url)}/api/v3/coins/{urllib.parse.quote(coin_id)}/market_chart/range"
    key = api_key or os.environ.get("COINGECKO_API_KEY")
    headers = {"x-cg-demo-api-key": key} if key else None
    lo, hi, chunk, points = int(start.timestamp()), int(end.timestamp()), COINGECKO_CHUNK_DAYS * 86400, []
    while lo < hi:
        top = min(lo + chunk, hi)
        answer = get_json(endpoint, {"vs_currency": "usd", "from": lo, "to": top}, headers=headers, **http)
        if not isinstance(answer, dict) or "prices" not in answer:
            raise InputError(f"unexpected market_chart answer: {str(answer)[:200]}", file=endpoint)
        points.extend(p for p in answer["prices"] if lo * 1000 <= p[0] < top * 1000)
        lo = top
    return points


def fetch_series(asset: str, source: str, start: datetime, end: datetime, *, interval: str = "1h",
                 symbol: str | None = None, coin_id: str | None = None, url: str | None = None,
                 **http) -> PriceSeries:
    if end <= start:
        raise InputError("--to must be after --from")
    if source == "binance":
        symbol = (symbol or f"{asset.upper()}USDT").upper()
        rows = binance_klines(symbol, interval, start, end, url=url, **http)
        fmt, body, name = "binance", rows, f"binance_{symbol}_{interval}.json"
    elif source == "coingecko":
        coin_id = coin_id or COINGECKO_IDS.get(asset) or asset.lower()
        rows = coingecko_prices(coin_id, start, end, url=url, **http)
        fmt, body, name = "coingecko", {"prices": rows}, f"{coin_id}-usd.json"
    else:
        raise InputError(f"unknown source {source!r} (binance or coingecko)")
    if not rows:
        raise InputError(f"{source} returned no prices for {asset} between {start:%Y-%m-%d %H:%M} and "
                         f"{end:%Y-%m-%d %H:%M} UTC (wrong symbol, or before the market existed?)")
    return parse_price_text(json.dumps(body), name, fmt, asset=asset)
