// The Fear & Greed panel of /panic: the Crypto Fear & Greed Index (alternative.me), one value per UTC day,
// as a line over coloured bands, with the latest value and its label in the panel's header.
//
// Contract with the page: config.panels.fearGreed false means the server has nothing to show, so the panel
// shows its empty note and makes no request. Otherwise GET config.urls.fearGreed?days=N (30, 90, 365, or
// 3650 for "all": the API's most) for the range in the query string's "fg" (30d, 90d, 1y, all; default
// 90d, which the URL leaves out). The data is daily: it is fetched again at most once an hour, on the
// page's "refresh" event. Re-drawn on "theme", and on "zone" for the time of the last fetch. #fg-panel
// carries data-state (loading, ready, off, empty, error), data-range, data-points (days drawn) and
// data-last (the newest value drawn). No inline style anywhere: the tooltip is drawn by ECharts on the
// canvas (renderMode "richText"), colours come from CSS custom properties (css/feargreed.css).

import * as echarts from "../vendor/echarts/6.1.0/echarts.esm.min.js";
import { formatTime } from "./format.js";
import { $, config, css, fill, getJSON, on, param, setParams, settings, themeColors } from "./page.js";

const S = config.fearGreedStrings;
const HOUR_MS = 3600e3;
const RETRY_MS = 300e3;
const DAY_MS = 86400e3;
const RANGES = { "30d": 30, "90d": 90, "1y": 365, all: 3650 };
const DEFAULT_RANGE = "90d";

// The five labels and the values they cover. alternative.me does not state its boundaries on the API page
// (tests/fixtures/feargreed/README.md): these colour the chart's background and line only; every day's
// label shown is the one alternative.me gave it.
const BANDS = [
  { key: "extreme_fear", from: 0, to: 25 },
  { key: "fear", from: 25, to: 47 },
  { key: "neutral", from: 47, to: 55 },
  { key: "greed", from: 55, to: 75 },
  { key: "extreme_greed", from: 75, to: 100 },
];
const LABEL_KEYS = {
  "extreme fear": "extreme_fear",
  fear: "fear",
  neutral: "neutral",
  greed: "greed",
  "extreme greed": "extreme_greed",
};

const panel = $("fg-panel");
// The template's own "no data yet" note (an error replaces it for a while).
const NO_DATA = { title: $("fg-empty-title").textContent, hint: $("fg-empty-hint").textContent };
const state = {
  range: param("fg", Object.keys(RANGES)) || DEFAULT_RANGE,
  answers: {}, // range -> {body, at}
  shown: null, // the answer drawn
  shownRange: null,
  requestedAt: 0, // when the last request was sent
  failed: false, // whether it failed
  inFlight: 0,
  token: 0,
  chart: null,
  rows: [], // parallel to the series' data: a day, or null for a missing day
  cursor: -1,
};

function bandOfValue(value) {
  return (BANDS.find((b) => value < b.to) || BANDS[BANDS.length - 1]).key;
}

/** The band key of a day: alternative.me's label when it is one of the five, else from the value. */
function bandOf(day) {
  return LABEL_KEYS[String(day.classification).toLowerCase()] || bandOfValue(day.value);
}

/** The day's label in the page's language (alternative.me's own when it is not one of the five). */
function labelOf(day) {
  const key = LABEL_KEYS[String(day.classification).toLowerCase()];
  return key ? S[key] : day.classification;
}

/** A UTC calendar day "YYYY-MM-DD" placed at the browser's midnight of that date, so the time axis's
 * day ticks and labels fall on the right dates in every time zone. */
function dayX(date) {
  const [y, m, d] = date.split("-").map(Number);
  return new Date(y, m - 1, d).getTime();
}

function dayNumber(date) {
  const [y, m, d] = date.split("-").map(Number);
  return Date.UTC(y, m - 1, d) / DAY_MS;
}

/** Series data with a null after each run of missing days (the line breaks there, never bridges). */
function seriesData(results) {
  const data = [];
  const rows = [];
  let previous = null;
  for (const day of results) {
    const n = dayNumber(day.date);
    if (previous !== null && n - previous > 1) {
      const missing = new Date(Date.UTC(1970, 0, 1) + (previous + 1) * DAY_MS).toISOString().slice(0, 10);
      data.push([dayX(missing), null]);
      rows.push(null);
    }
    data.push([dayX(day.date), day.value]);
    rows.push(day);
    previous = n;
  }
  return { data, rows };
}

function colours() {
  const c = themeColors();
  for (const b of BANDS) {
    const name = b.key.replace("_", "-");
    c[b.key] = css(`--fg-${name}`);
    c[`${b.key}_shade`] = css(`--fg-${name}-shade`);
  }
  return c;
}

function tipText(row) {
  return `{m|${row.date}}\n{${bandOf(row)}|${row.value}  ${labelOf(row)}}`;
}

/** The screen-reader line for the day under the pointer (or the keyboard's cursor); only a change is announced. */
function readout(row) {
  const text = row ? fill(S.readout, row.date, row.value, labelOf(row)) : "";
  const target = $("fg-readout");
  if (target.textContent !== text) target.textContent = text;
}

function option(c, data) {
  const rich = { m: { color: c.muted, fontSize: 11 } };
  for (const b of BANDS) rich[b.key] = { color: c[b.key], fontSize: 13, fontWeight: "bold" };
  const few = data.length <= 120;
  return {
    animation: false,
    grid: { left: 8, right: 22, top: 12, bottom: 8, containLabel: true },
    tooltip: {
      trigger: "axis",
      renderMode: "richText",
      confine: true,
      backgroundColor: c.panel,
      borderColor: c.border,
      textStyle: { color: c.text, fontSize: 12, lineHeight: 18, rich },
      axisPointer: { type: "line", lineStyle: { color: c.muted } },
      formatter: (params) => {
        const p = Array.isArray(params) ? params[0] : params;
        const row = p ? state.rows[p.dataIndex] : null;
        if (p) state.cursor = p.dataIndex;
        readout(row);
        return row ? tipText(row) : "";
      },
    },
    xAxis: {
      type: "time",
      minInterval: DAY_MS,
      axisLine: { lineStyle: { color: c.border } },
      axisTick: { lineStyle: { color: c.border } },
      axisLabel: {
        color: c.muted,
        fontSize: 11,
        hideOverlap: true,
        formatter: {
          year: "{yyyy}",
          month: "{yyyy}-{MM}",
          day: "{MM}-{dd}",
          hour: "{MM}-{dd}",
          minute: "",
          second: "",
          millisecond: "",
        },
      },
      splitLine: { show: false },
    },
    yAxis: {
      type: "value",
      min: 0,
      max: 100,
      interval: 25,
      axisLabel: { color: c.muted, fontSize: 11 },
      splitLine: { lineStyle: { color: c.grid } },
    },
    visualMap: {
      show: false,
      type: "piecewise",
      dimension: 1,
      seriesIndex: 0,
      // Each band from its lower edge up to (not including) the next one's; the last one includes 100.
      pieces: BANDS.map((b, i) => {
        const top = i === BANDS.length - 1 ? { lte: b.to } : { lt: b.to };
        return { gte: b.from, ...top, color: c[b.key] };
      }),
      outOfRange: { color: c.muted },
    },
    series: [
      {
        id: "fear-greed",
        name: S.index,
        type: "line",
        data,
        showSymbol: few,
        symbolSize: 4,
        connectNulls: false,
        lineStyle: { width: 2 },
        markArea: {
          silent: true,
          data: BANDS.map((b) => [{ yAxis: b.from, itemStyle: { color: c[`${b.key}_shade`] } }, { yAxis: b.to }]),
        },
      },
    ],
  };
}

// -- rendering -------------------------------------------------------------------------------------------

function showEmpty(stateName, title, hint) {
  panel.dataset.state = stateName;
  $("fg-empty").hidden = false;
  if (title !== undefined) $("fg-empty-title").textContent = title;
  if (hint !== undefined) $("fg-empty-hint").textContent = hint;
}

function renderHeadline(latest) {
  const now = $("fg-now");
  if (!latest) {
    now.hidden = true;
    return;
  }
  now.hidden = false;
  now.dataset.band = bandOf(latest);
  $("fg-now-value").textContent = String(latest.value);
  $("fg-now-label").textContent = labelOf(latest);
  $("fg-now-date").textContent = latest.date;
}

function renderUpdated() {
  const body = state.shown;
  const when = body && body.updated ? formatTime(body.updated, settings.zone, "minute") : null;
  $("fg-updated").textContent = when ? fill(S.updated, when) : "";
}

function render() {
  const body = state.shown;
  if (!body) return;
  const results = body.results;
  const latest = results.length ? results[results.length - 1] : null;
  renderHeadline(latest);
  renderUpdated();
  panel.dataset.range = state.range;
  panel.dataset.points = String(results.length);
  panel.dataset.last = latest ? String(latest.value) : "";
  if (!results.length) {
    state.rows = [];
    if (state.chart) state.chart.clear();
    showEmpty("ready", S.empty_range, "");
    return;
  }
  $("fg-empty").hidden = true;
  const { data, rows } = seriesData(results);
  state.rows = rows;
  state.cursor = -1;
  if (!state.chart) state.chart = echarts.init($("fg-chart"), null, { renderer: "canvas" });
  state.chart.setOption(option(colours(), data), { notMerge: true });
  const label = fill(S.chart_label, results[0].date, latest.date, latest.value, labelOf(latest));
  $("fg-chart").setAttribute("aria-label", label);
  panel.dataset.state = "ready";
}

function renderButtons() {
  for (const button of panel.querySelectorAll(".fg-range")) {
    button.setAttribute("aria-pressed", String(button.dataset.fg === state.range));
  }
}

// -- loading ---------------------------------------------------------------------------------------------

async function load(range, { force = false } = {}) {
  const cached = state.answers[range];
  if (cached && !force && Date.now() - cached.at < HOUR_MS) {
    state.shown = cached.body;
    state.shownRange = range;
    render();
    return;
  }
  const token = ++state.token;
  if (!state.shown) panel.dataset.state = "loading";
  state.requestedAt = Date.now();
  state.inFlight += 1;
  try {
    const { body } = await getJSON(`${config.urls.fearGreed}?days=${RANGES[range]}`);
    if (token !== state.token) return;
    if (!body.available) {
      state.answers = {};
      state.shown = null;
      renderHeadline(null);
      showEmpty("empty", NO_DATA.title, NO_DATA.hint);
      return;
    }
    state.answers[range] = { body, at: Date.now() };
    state.failed = false;
    state.shown = body;
    state.shownRange = range;
    render();
  } catch (error) {
    if (token !== state.token) return;
    state.failed = true;
    // A drawn chart stays; only a panel with nothing to show says it failed.
    if (!state.shown || state.shownRange !== range) showEmpty("error", S.load_error, "");
    else panel.dataset.state = "ready";
  } finally {
    state.inFlight -= 1;
  }
}

function selectRange(range) {
  if (!RANGES[range] || range === state.range) return;
  state.range = range;
  setParams({ fg: range === DEFAULT_RANGE ? null : range });
  renderButtons();
  load(range);
}

/** The page's minute refresh: the daily index is asked for again an hour after the last request (five
 * minutes after a failed one), never while a request is on its way. */
function refreshHourly() {
  const wait = state.failed ? RETRY_MS : HOUR_MS;
  if (state.inFlight || Date.now() - state.requestedAt < wait) return;
  state.answers = {};
  load(state.range, { force: true });
}

/** Arrow keys move along the days (the tooltip and the screen-reader readout follow), Escape hides it. */
function onKey(event) {
  if (!state.chart || !state.rows.length) return;
  const last = state.rows.length - 1;
  const moves = { ArrowLeft: -1, ArrowRight: 1, Home: -Infinity, End: Infinity };
  if (event.key === "Escape") {
    state.chart.dispatchAction({ type: "hideTip" });
    return;
  }
  if (!(event.key in moves)) return;
  event.preventDefault();
  let i = state.cursor < 0 ? last : state.cursor + moves[event.key];
  i = Math.max(0, Math.min(last, Number.isFinite(i) ? i : moves[event.key] < 0 ? 0 : last));
  if (state.rows[i] === null) i = Math.max(0, Math.min(last, i + (moves[event.key] < 0 ? -1 : 1)));
  state.cursor = i;
  state.chart.dispatchAction({ type: "showTip", seriesIndex: 0, dataIndex: i });
  readout(state.rows[i]);
}

function start() {
  renderButtons();
  if (!config.panels.fearGreed) {
    showEmpty("off");
    return;
  }
  for (const button of panel.querySelectorAll(".fg-range")) {
    button.addEventListener("click", () => selectRange(button.dataset.fg));
  }
  $("fg-chart").addEventListener("keydown", onKey);
  $("fg-chart").addEventListener("mouseleave", () => readout(null));
  new ResizeObserver(() => state.chart && state.chart.resize()).observe($("fg-chart"));
  on("theme", () => render());
  on("zone", () => renderUpdated());
  on("refresh", () => refreshHourly());
  load(state.range);
}

start();
