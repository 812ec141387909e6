// The /panic dashboard: headline cards, the panic-index trend, the 1h liquidation panel and the
// 24h / open-interest chart. Reads the same public API users call; config and translated strings come
// from the page's json_script block. No inline script, no inline style attributes: the page runs under
// a strict Content-Security-Policy, so tooltips are drawn on the canvas (renderMode "richText") and
// mirrored as text in an aria-live readout.

import * as echarts from "../vendor/echarts/6.1.0/echarts.esm.min.js";
import { formatAge, formatIndex, formatTime, formatWan, formatYi } from "./format.js";

const config = JSON.parse(document.getElementById("panic-config").textContent);
const S = config.strings;
const LANG = config.lang;
const AMBER = "#f59e0b";
const $ = (id) => document.getElementById(id);

const state = {
  range: config.ranges[load("liqsite-range")] ? load("liqsite-range") : config.defaultRange,
  zone: load("liqsite-zone") === "local" ? "local" : "beijing",
  latest: null,
  fetchedAt: 0,
  day: [],
  rangeRecords: [],
  timer: null,
  clockOffsetMs: 0, // server time minus browser time, from the Date header
  rangeToken: 0,
};

function load(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

function save(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
}

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// -- data -------------------------------------------------------------------------------------------

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

/** The newest record with its age by the server's clock (the Date header), or null with no data.
 * Read as history?limit=1, which answers 200 with no results on an empty store (the latest endpoint's
 * 404 would put an error in the console of every visitor of a fresh install). */
async function getNewest() {
  const response = await fetch(`${config.historyUrl}?limit=1`, {
    headers: { Accept: "application/json" },
    credentials: "same-origin",
    cache: "no-cache", // revalidate (a cheap 304) so the Date header, and so the age, is current
  });
  if (!response.ok) throw new Error(`${config.historyUrl}: HTTP ${response.status}`);
  const body = await response.json();
  const record = body.results[body.results.length - 1];
  const serverNow = Date.parse(response.headers.get("Date") || "") || Date.now();
  state.clockOffsetMs = serverNow - Date.now();
  if (!record) return null;
  // Signed: a record dated after the server's clock (a clock that jumped) is a problem, not "fresh".
  return { ...record, age_seconds: serverNow / 1000 - record.timestamp };
}

function historyUrl(seconds, interval) {
  const step = stepOf(interval);
  // By the server's clock (a browser clock a day off would make every request a 400), on a minute
  // boundary so the URL, and the browser's cached answer, hold for the whole minute.
  const now = Math.floor((Date.now() + state.clockOffsetMs) / 60000) * 60;
  const params = new URLSearchParams({
    start_time: String(now - seconds),
    limit: String(Math.min(43200, Math.ceil(seconds / step) + 2)),
    interval,
  });
  return `${config.historyUrl}?${params}`;
}

function stepOf(interval) {
  return { "1m": 60, "5m": 300, "15m": 900, "1h": 3600 }[interval] || 60;
}

/** [ms, value] points for one field, with an explicit null wherever records are more than 1.5 steps
 * apart (90 s for minutes), so ECharts draws a gap instead of bridging missing minutes. `rows` is
 * aligned with the points (null for gap markers) for the tooltip. */
function withGaps(records, field, step) {
  const data = [];
  const rows = [];
  let previous = null;
  for (const record of records) {
    if (previous && record.timestamp - previous.timestamp > step * 1.5) {
      data.push([(previous.timestamp + step) * 1000, null]);
      rows.push(null);
    }
    data.push([record.timestamp * 1000, record[field]]);
    rows.push(record);
    previous = record;
  }
  return { data, rows };
}

// -- cards ------------------------------------------------------------------------------------------

const FUTURE_SLACK_SECONDS = 60;

// Venues by their proper names ("OKX", not "okx"), from the server's venue registry.
function venueTitle(name) {
  return (config.venueTitles && config.venueTitles[name]) || name;
}

function venueList(names) {
  return names.map(venueTitle).join(", ");
}

function ageSeconds() {
  if (!state.latest) return null;
  return state.latest.age_seconds + (performance.now() - state.fetchedAt) / 1000;
}

function renderCards() {
  const r = state.latest;
  $("card-h1").textContent = r ? formatWan(r.hour_1_amount, LANG) : "—";
  const hasSplit = r && r.hour_1_long !== undefined && r.hour_1_short !== undefined;
  $("card-h1-split").hidden = !hasSplit;
  if (hasSplit) {
    $("card-h1-long").textContent = formatWan(r.hour_1_long, LANG);
    $("card-h1-short").textContent = formatWan(r.hour_1_short, LANG);
  }
  $("card-h24").textContent = r ? formatWan(r.hour_24_amount, LANG) : "—";
  $("card-panic").textContent = r ? formatIndex(r.panic_index) : "—";
  $("card-oi").textContent = r ? formatYi(r.total_position, LANG) : "—";
  $("card-source").textContent = r && r.source ? S.source.replace("%s", r.source) : "";
  const coverage = r && r.coverage;
  const partial =
    !!r &&
    (r.lower_bound === true ||
      (!!coverage &&
        (coverage.hour_1_complete === false ||
          coverage.hour_24_complete === false ||
          (Array.isArray(coverage.missing) && coverage.missing.length > 0))));
  $("lower-bound-note").hidden = !partial;
  const detail = [];
  if (coverage && Array.isArray(coverage.venues)) {
    if (coverage.venues.length) detail.push(S.counted.replace("%s", venueList(coverage.venues)));
    if (coverage.missing && coverage.missing.length) detail.push(S.not_counted.replace("%s", venueList(coverage.missing)));
    const suspect = coverage.suspect && typeof coverage.suspect === "object" ? Object.keys(coverage.suspect) : [];
    if (suspect.length) detail.push(S.suspect.replace("%s", venueList(suspect)));
    detail.push(S.complete_since.replace("%s", coverage.hour_1_complete ? S.yes : S.no));
  }
  $("coverage-detail").textContent = detail.join(" ");
  tick();
}

function tick() {
  const age = ageSeconds();
  $("card-updated").textContent = age === null ? "—" : formatAge(age, S);
  // Stale when too old, and also when dated more than a minute after the server's clock.
  $("stale-badge").hidden = age === null || (age <= config.staleSeconds && age >= -FUTURE_SLACK_SECONDS);
}

// -- charts ----------------------------------------------------------------------------------------

const charts = {};

function chartFor(id) {
  if (!charts[id]) charts[id] = echarts.init($(id), null, { renderer: "canvas" });
  return charts[id];
}

function themeColors() {
  return { text: css("--text"), muted: css("--muted"), grid: css("--grid"), panel: css("--panel"), border: css("--border") };
}

function timeAxis(c, spanSeconds) {
  const style = spanSeconds > 2 * 86400 ? "minute" : "time";
  return {
    type: "time",
    axisLabel: { color: c.muted, hideOverlap: true, formatter: (ms) => formatTime(ms / 1000, state.zone, style) },
    axisLine: { lineStyle: { color: c.border } },
    splitLine: { show: false },
  };
}

function tooltipBase(c) {
  return {
    trigger: "axis",
    renderMode: "richText",
    confine: true,
    backgroundColor: c.panel,
    borderColor: c.border,
    textStyle: { color: c.text, fontSize: 12, lineHeight: 18 },
  };
}

function zoneName() {
  return state.zone === "beijing" ? S.zone_beijing : S.zone_local;
}

function describe(row, step) {
  const lines = [`${formatTime(row.timestamp, state.zone)} (${zoneName()})`];
  lines.push(`${S.h1}: ${formatWan(row.hour_1_amount, LANG)}`);
  if (row.hour_1_long !== undefined && row.hour_1_short !== undefined) {
    lines.push(`  ${S.longs} ${formatWan(row.hour_1_long, LANG)} · ${S.shorts} ${formatWan(row.hour_1_short, LANG)}`);
  }
  if (step > 60 && row.max_hour_1_amount !== undefined) {
    lines.push(`  ${S.max} ${formatWan(row.max_hour_1_amount, LANG)}`);
  }
  const split = Object.entries(row.by_exchange || {})
    .filter(([, v]) => v && v.hour_1 > 0)
    .sort((a, b) => b[1].hour_1 - a[1].hour_1);
  if (split.length) {
    lines.push(`  ${S.by_exchange}: ${split.map(([name, v]) => `${venueTitle(name)} ${formatWan(v.hour_1, LANG)}`).join(" · ")}`);
  }
  lines.push(`${S.panic}: ${formatIndex(row.panic_index)}`);
  lines.push(`${S.h24}: ${formatWan(row.hour_24_amount, LANG)}`);
  lines.push(`${S.oi}: ${formatYi(row.total_position, LANG)}`);
  return lines.join("\n");
}

function tooltipFormatter(rows, step, readout) {
  return (params) => {
    const p = Array.isArray(params) ? params[0] : params;
    const row = p ? rows[p.dataIndex] : null;
    const text = row ? describe(row, step) : `${formatTime(p.value[0] / 1000, state.zone)}\n${S.gap}`;
    if (readout) readout.textContent = text;
    return text;
  };
}

function renderLiqChart() {
  const spec = config.ranges[state.range];
  const step = stepOf(spec.interval);
  const records = state.rangeRecords;
  const chart = chartFor("liq-chart");
  const c = themeColors();
  // Keep the reader's zoom across the minute's refresh; a new range starts unzoomed.
  let zoom = { start: 0, end: 100 };
  const previous = chart.getOption();
  if (previous && previous.dataZoom && chart.__liqRange === state.range) {
    zoom = { start: previous.dataZoom[0].start, end: previous.dataZoom[0].end };
  }
  chart.__liqRange = state.range;
  const { data, rows } = withGaps(records, "hour_1_amount", step);
  const values = records.map((r) => r.hour_1_amount);
  const average = values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
  const marks = [];
  if (records.length) {
    // Buckets carry their peak in max_hour_1_amount: a spike inside a bucket still shows.
    const peak = (r) => (r.max_hour_1_amount !== undefined ? r.max_hour_1_amount : r.hour_1_amount);
    const hi = records.reduce((a, b) => (peak(b) > peak(a) ? b : a));
    const lo = records.reduce((a, b) => (b.hour_1_amount < a.hour_1_amount ? b : a));
    marks.push({ name: S.max, coord: [hi.timestamp * 1000, peak(hi)], value: peak(hi) });
    marks.push({ name: S.min, coord: [lo.timestamp * 1000, lo.hour_1_amount], value: lo.hour_1_amount, symbolRotate: 180, label: { offset: [0, 8] } });
  }
  chart.setOption(
    {
      animation: false,
      grid: { left: 8, right: 24, top: 36, bottom: 56, containLabel: true },
      tooltip: { ...tooltipBase(c), formatter: tooltipFormatter(rows, step, $("liq-readout")) },
      xAxis: timeAxis(c, spec.seconds),
      yAxis: {
        type: "value",
        axisLabel: { color: c.muted, formatter: (v) => formatWan(v, LANG, { compact: true }) },
        splitLine: { lineStyle: { color: c.grid } },
      },
      dataZoom: [
        { type: "inside", filterMode: "none", ...zoom },
        { type: "slider", height: 22, bottom: 8, filterMode: "none", textStyle: { color: c.muted }, borderColor: c.border, ...zoom },
      ],
      series: [
        {
          id: "h1",
          name: S.h1,
          type: "line",
          data,
          showSymbol: false,
          connectNulls: false,
          lineStyle: { color: AMBER, width: 2 },
          itemStyle: { color: AMBER },
          areaStyle: {
            color: new echarts.graphic.LinearGradient(0, 0, 0, 1, [
              { offset: 0, color: "rgba(245, 158, 11, 0.45)" },
              { offset: 1, color: "rgba(245, 158, 11, 0.03)" },
            ]),
          },
          markLine:
            average === null
              ? { data: [] }
              : {
                  silent: true,
                  symbol: "none",
                  lineStyle: { type: "dashed", color: "#9ca3af", width: 1.5 },
                  label: { color: c.muted, position: "insideEndTop", formatter: () => `${S.average} ${formatWan(average, LANG)}` },
                  data: [{ name: S.average, yAxis: average }],
                },
          markPoint: {
            symbol: "pin",
            symbolSize: 42,
            itemStyle: { color: AMBER },
            label: { color: "#1f2937", fontSize: 9, formatter: (p) => formatWan(p.value, LANG, { compact: true }) },
            data: marks,
          },
        },
      ],
    },
    { notMerge: true },
  );
  const panel = $("liq-panel");
  panel.dataset.points = String(records.length);
  panel.dataset.average = average === null ? "" : String(average);
  showEmpty(records.length === 0);
}

function showEmpty(isEmpty) {
  const box = $("liq-empty");
  box.hidden = !isEmpty;
  if (!isEmpty) return;
  if (!state.latest) {
    $("liq-empty-title").textContent = S.empty_title;
    const run = state.lastRun;
    // Say why, when the collector has said: "no exchange reachable", a bad key, an upstream error.
    $("liq-empty-hint").textContent =
      run && run.error_class
        ? S.collector_said
            .replace("%s", formatTime(run.time, state.zone))
            .replace("%s", `${run.source || "?"}: ${run.error_class}`)
        : S.empty_hint;
  } else {
    $("liq-empty-title").textContent = S.empty_range;
    $("liq-empty-hint").textContent = S.empty_range_hint;
  }
}

function renderPanicChart() {
  const c = themeColors();
  const { data, rows } = withGaps(state.day, "panic_index", 60);
  chartFor("panic-chart").setOption(
    {
      animation: false,
      grid: { left: 8, right: 24, top: 16, bottom: 8, containLabel: true },
      tooltip: { ...tooltipBase(c), formatter: tooltipFormatter(rows, 60, null) },
      xAxis: timeAxis(c, 86400),
      yAxis: { type: "value", scale: true, axisLabel: { color: c.muted, formatter: (v) => formatIndex(v) }, splitLine: { lineStyle: { color: c.grid } } },
      series: [{ name: S.panic, type: "line", data, showSymbol: false, connectNulls: false, lineStyle: { color: "#ef4444", width: 2 }, itemStyle: { color: "#ef4444" } }],
    },
    { notMerge: true },
  );
}

function renderOiChart() {
  const c = themeColors();
  const h24 = withGaps(state.day, "hour_24_amount", 60);
  const oi = withGaps(state.day, "total_position", 60);
  chartFor("oi-chart").setOption(
    {
      animation: false,
      grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
      legend: { top: 0, textStyle: { color: c.muted } },
      tooltip: { ...tooltipBase(c), formatter: tooltipFormatter(h24.rows, 60, null) },
      xAxis: timeAxis(c, 86400),
      yAxis: [
        { type: "value", scale: true, axisLabel: { color: c.muted, formatter: (v) => formatWan(v, LANG, { compact: true }) }, splitLine: { lineStyle: { color: c.grid } } },
        { type: "value", scale: true, axisLabel: { color: c.muted, formatter: (v) => formatYi(v, LANG, { compact: true }) }, splitLine: { show: false } },
      ],
      series: [
        { name: S.h24, type: "line", data: h24.data, showSymbol: false, connectNulls: false, lineStyle: { color: "#3b82f6", width: 2 }, itemStyle: { color: "#3b82f6" } },
        { name: S.oi, type: "line", yAxisIndex: 1, data: oi.data, showSymbol: false, connectNulls: false, lineStyle: { color: "#8b5cf6", width: 2 }, itemStyle: { color: "#8b5cf6" } },
      ],
    },
    { notMerge: true },
  );
}

function renderAll() {
  renderCards();
  renderPanicChart();
  renderLiqChart();
  renderOiChart();
}

// -- loading and refreshing --------------------------------------------------------------------------

/** Load the selected range's records. Returns false when a newer selection overtook this one
 * (its answer must not be drawn under the newer range's button). */
async function loadRange() {
  const token = ++state.rangeToken;
  const key = state.range;
  const spec = config.ranges[key];
  let records = state.day;
  if (key !== "24h") {
    records = (await getJSON(historyUrl(spec.seconds, spec.interval))).results;
  }
  if (token !== state.rangeToken) return false;
  state.rangeRecords = records;
  return true;
}

async function refresh() {
  const panel = $("liq-panel");
  try {
    await loadAll(panel);
  } finally {
    schedule();
  }
}

async function loadAll(panel) {
  try {
    const [latest, day] = await Promise.all([getNewest(), getJSON(historyUrl(86400, "1m"))]);
    state.latest = latest;
    state.fetchedAt = performance.now();
    state.day = day.results;
    state.lastRun = latest ? null : (await getJSON(config.statusUrl)).last_run;
    if (await loadRange()) {
      renderAll();
      panel.dataset.state = state.latest ? "ready" : "empty";
    } else {
      // A range click took over the panel (it draws it); the rest is ours to draw.
      renderCards();
      renderPanicChart();
      renderOiChart();
    }
  } catch (error) {
    panel.dataset.state = "error";
    $("liq-empty").hidden = false;
    $("liq-empty-title").textContent = S.load_error;
    $("liq-empty-hint").textContent = String(error.message || error);
  }
}

/** Next refresh a few seconds after the next minute starts, when the collector has written. */
function schedule() {
  window.clearTimeout(state.timer);
  if (document.hidden) return;
  const intoMinute = (Date.now() + state.clockOffsetMs) % 60000;
  // 3 s after the minute starts: this minute's, if that moment is still ahead, else the next one's.
  const ms = intoMinute < 3000 ? 3000 - intoMinute : 63000 - intoMinute;
  state.timer = window.setTimeout(refresh, ms);
}

async function selectRange(key) {
  state.range = key;
  save("liqsite-range", key);
  for (const button of document.querySelectorAll(".range")) {
    button.setAttribute("aria-pressed", String(button.dataset.range === key));
  }
  const panel = $("liq-panel");
  panel.dataset.state = "loading";
  try {
    if (!(await loadRange())) return; // overtaken by a later click
    renderLiqChart();
    panel.dataset.state = state.latest ? "ready" : "empty";
  } catch (error) {
    panel.dataset.state = "error";
  }
}

function renderZone() {
  const button = $("zone-toggle");
  button.textContent = zoneName();
  button.setAttribute("aria-pressed", String(state.zone === "local"));
  $("zone-label").textContent = S.times_in.replace("%s", zoneName());
}

function setupControls() {
  for (const button of document.querySelectorAll(".range")) {
    button.addEventListener("click", () => selectRange(button.dataset.range));
    button.setAttribute("aria-pressed", String(button.dataset.range === state.range));
  }
  $("zone-toggle").addEventListener("click", () => {
    state.zone = state.zone === "beijing" ? "local" : "beijing";
    save("liqsite-zone", state.zone);
    renderZone();
    renderAll();
  });
  $("theme-toggle").addEventListener("click", () => {
    const dark = document.documentElement.getAttribute("data-theme") !== "dark";
    document.documentElement.setAttribute("data-theme", dark ? "dark" : "light");
    save("liqsite-theme", dark ? "dark" : "light");
    renderAll();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) window.clearTimeout(state.timer);
    else refresh();
  });
  window.addEventListener("resize", () => Object.values(charts).forEach((chart) => chart.resize()));
  window.setInterval(() => {
    if (!document.hidden) tick();
  }, 1000);
  renderZone();
}

setupControls();
$("liq-panel").dataset.state = "loading";
refresh();
