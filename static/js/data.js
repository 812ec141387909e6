// What the page downloads, and how little: the first load reads the last 24 h of minute records once;
// every minute after that asks only for records newer than the newest it holds (one or two records, a
// few hundred bytes compressed), and reloads the whole day only when the store was rewritten (a repair,
// an import or the daily prune: the X-Liqsite-Revision header changes). Ranges up to 24 h are slices of
// that day; 3d/7d/30d read bucket maxima (agg=max, so no peak is hidden) on step-aligned URLs and then
// only their newest bucket; the long/short bars likewise. Requests that revalidate (cache: "no-cache")
// are cheap 304s when nothing changed.

import { config, getJSON, noteServerDate, serverNowMs } from "./page.js";

// What the charts draw of each record (the API's fields=): a keyless record is 1.7 KB of JSON with every
// venue's figures and the coverage; the series needs about a quarter of it. The newest record is read
// whole (the cards show its coverage).
const SERIES_FIELDS = [
  "hour_1_amount",
  "hour_1_long",
  "hour_1_short",
  "panic_index",
  "hour_24_amount",
  "total_position",
  "lower_bound",
  "prices",
  "by_exchange.hour_1",
].join(",");

const STEP_SECONDS = { "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400 };
const DAY = 86400;
const LATE_SECONDS = 600;

export function stepOf(interval) {
  return STEP_SECONDS[interval] || 60;
}

function nowSeconds() {
  return Math.floor(serverNowMs() / 1000);
}

function url(base, params) {
  return `${base}?${new URLSearchParams(Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])))}`;
}

/** Records newer than the newest of ``held`` appended to it (a record is never repeated, so a
 * refetch that overlaps, or a record dated after the server's clock, is harmless). */
function appendNewer(held, fresh) {
  const last = held.length ? held[held.length - 1].timestamp : -Infinity;
  return held.concat(fresh.filter((r) => r.timestamp > last));
}

/** The last 24 h of minute records, and the newest record even when it is older than that. */
export class DayCache {
  constructor() {
    this.records = [];
    this.revision = null;
    this.newest = null;
  }

  async refresh(again = true) {
    const now = nowSeconds();
    const held = this.records.length ? this.records[this.records.length - 1].timestamp : null;
    const incremental = held !== null && held >= now - DAY;
    // Minute-aligned: the URL, and so the browser's cached answer, holds for the minute.
    const start = incremental ? Math.min(held + 1, now) : Math.floor(now / 60) * 60 - DAY;
    // The day once, lean; then each minute's few new records whole.
    const params = incremental ? { start_time: start, limit: 1442 } : { start_time: start, limit: 1442, fields: SERIES_FIELDS };
    const { body, response } = await getJSON(url(config.urls.history, params), { cache: "no-cache" });
    noteServerDate(response);
    const revision = response.headers.get("X-Liqsite-Revision");
    if (incremental && revision !== this.revision && again) {
      this.records = []; // rewritten: what we hold may be gone or corrected
      return this.refresh(false);
    }
    this.revision = revision;
    const merged = incremental ? appendNewer(this.records, body.results) : body.results;
    const cut = Math.floor(nowSeconds() / 60) * 60 - DAY; // the 24 h axis's first minute
    const first = merged.findIndex((r) => r.timestamp >= cut);
    this.records = first < 0 ? [] : merged.slice(first);
    const last = this.records[this.records.length - 1];
    if (incremental && last) this.newest = last;
    else {
      this.newest = await this.newestWhole();
      // The lean copy of the newest record makes way for the whole one.
      if (last && this.newest && this.newest.timestamp === last.timestamp) this.records[this.records.length - 1] = this.newest;
    }
  }

  /** The newest record with every field (also when the last day holds none: a collector stopped long
   * ago), or null. */
  async newestWhole() {
    const { body } = await getJSON(url(config.urls.history, { limit: 1 }), { cache: "no-cache" });
    return body.results[body.results.length - 1] || null;
  }
}

/** A long range's buckets (each field its bucket maximum), kept up to date by re-reading the newest. */
export class BucketCache {
  constructor(seconds, interval) {
    this.seconds = seconds;
    this.interval = interval;
    this.step = stepOf(interval);
    this.records = [];
    this.revision = null;
  }

  async refresh(again = true) {
    const now = nowSeconds();
    const step = this.step;
    const held = this.records.length ? this.records[this.records.length - 1].timestamp : null;
    const incremental = held !== null && held >= now - this.seconds;
    const start = incremental ? Math.floor(Math.min(held, now) / step) * step : Math.floor((now - this.seconds) / step) * step;
    const params = { start_time: start, limit: Math.ceil((now - start) / step) + 2, interval: this.interval, agg: "max", fields: SERIES_FIELDS };
    const { body, response } = await getJSON(url(config.urls.history, params), { cache: "no-cache" });
    noteServerDate(response);
    const revision = response.headers.get("X-Liqsite-Revision");
    if (incremental && revision !== this.revision && again) {
      this.records = [];
      return this.refresh(false);
    }
    this.revision = revision;
    // The newest bucket was still filling: its new answer replaces it.
    const kept = incremental ? this.records.filter((r) => r.timestamp < start) : [];
    const cut = now - this.seconds - step;
    this.records = kept.concat(body.results).filter((r) => r.timestamp >= cut);
  }
}

/** Liquidations per step split long/short (GET /bars?by=side), the newest step re-read each refresh. */
export class BarsCache {
  constructor(seconds, step) {
    this.seconds = seconds;
    this.stepName = step;
    this.step = stepOf(step);
    this.long = new Map();
    this.short = new Map();
    this.until = null; // the newest step read, Unix seconds
  }

  async refresh() {
    const now = nowSeconds();
    const step = this.step;
    const first = Math.floor((now - this.seconds) / step) * step;
    // The newest steps again: the collector folds a minute's events after the page's refresh has read
    // it, and late rows from polled venues land in minutes already read (about ten minutes back).
    const settled = Math.floor((now - LATE_SECONDS) / step) * step;
    const start = this.until === null || this.until < first ? first : Math.max(first, Math.min(this.until, settled));
    const { body } = await getJSON(url(config.urls.bars, { start_time: start, end_time: now, step: this.stepName, by: "side" }), {
      cache: "no-cache",
    });
    if (body.available === false) {
      this.available = false;
      return;
    }
    this.available = true;
    for (const series of body.series || []) {
      const map = series.key === "long" ? this.long : series.key === "short" ? this.short : null;
      if (!map) continue;
      for (const [ms, usd] of series.values) map.set(ms, usd);
    }
    this.until = Math.floor(now / step) * step;
    for (const map of [this.long, this.short]) {
      for (const ms of map.keys()) if (ms < first * 1000) map.delete(ms);
    }
  }

  /** [[ms, usd|null], …] oldest first for ``key`` (long or short). */
  values(key) {
    const map = key === "long" ? this.long : this.short;
    return [...map.entries()].sort((a, b) => a[0] - b[0]);
  }
}

/** The panic index's place in its trailing 30 days (GET /panic-band), or null when unavailable. */
export async function getPanicBand() {
  if (!config.urls.panicBand) return null;
  const { body } = await getJSON(config.urls.panicBand, { cache: "no-cache" });
  return body;
}

/** The collector's and the listener's last words (GET /status): why there is no data, or stale data. */
export async function getStatus() {
  const { body } = await getJSON(config.urls.status, { cache: "no-cache" });
  return body;
}
