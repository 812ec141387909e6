// The /panic dashboard's conductor: loads the data (data.js), draws the cards (cards.js), the 1h panel
// (liqchart.js) and the 24 h charts (smallcharts.js), refreshes a few seconds after each minute's
// collection, and tells the other panels (depth, Fear & Greed) through "liqsite:*" events. Config and
// translated strings come from the page's json_script block; no inline script or style anywhere (the
// page runs under a strict Content-Security-Policy).

import * as echarts from "../vendor/echarts/6.1.0/echarts.esm.min.js";
import { tickOption } from "./axis.js";
import { isStale, renderAge, renderCards, renderChartEmpty, renderOverlay, renderStateNote } from "./cards.js";
import { BarsCache, BucketCache, DayCache, getPanicBand, getStatus, stepOf } from "./data.js";
import { liqOption } from "./liqchart.js";
import { $, config, emit, isDark, load, param, save, serverNowMs, setParams, settings, themeColors } from "./page.js";
import { setupShare, updateExports } from "./share.js";
import { oiOption, panicOption } from "./smallcharts.js";

const S = config.strings;
const DAY_MS = 86400e3;

const state = {
  range: param("range", Object.keys(config.ranges)) || (config.ranges[load("liqsite-range")] ? load("liqsite-range") : config.defaultRange),
  day: new DayCache(),
  buckets: {}, // range key -> BucketCache (3d/7d/30d)
  bars: {}, // range key -> BarsCache
  band: null,
  run: null,
  timer: null,
  token: 0,
};
settings.range = state.range;
settings.price = (param("price", ["btc", "off"]) || load("liqsite-price")) === "btc";

const charts = {};

function chartFor(id) {
  if (!charts[id]) charts[id] = echarts.init($(id), null, { renderer: "canvas" });
  return charts[id];
}

function phone() {
  return window.innerWidth < 600;
}

/** Where the axes end: the end of the current minute, so its record (collected a few seconds into it)
 * and its bar are drawn, not clipped. */
function axisEndMs() {
  return (Math.floor(serverNowMs() / 60000) + 1) * 60000;
}

function age() {
  const newest = state.day.newest;
  return newest ? serverNowMs() / 1000 - newest.timestamp : null;
}

// -- loading -------------------------------------------------------------------------------------------

function spec(key = state.range) {
  return config.ranges[key];
}

function barsFor(key) {
  if (!config.panels.depth) return null;
  const s = spec(key);
  if (!state.bars[key]) state.bars[key] = new BarsCache(s.seconds, s.bars);
  return state.bars[key];
}

/** The chosen range's records (and bars). False when a later range click overtook this load. */
async function loadRange() {
  const token = ++state.token;
  const key = state.range;
  const s = spec(key);
  let records;
  if (s.interval === "1m") {
    records = state.day.records;
  } else {
    if (!state.buckets[key]) state.buckets[key] = new BucketCache(s.seconds, s.interval);
    await state.buckets[key].refresh();
    records = state.buckets[key].records;
  }
  const bars = barsFor(key);
  if (bars) await bars.refresh().catch(() => (bars.available = false)); // the curve does not wait on the bars
  if (token !== state.token) return false;
  state.shown = { key, records }; // drawn with its own range, whatever is clicked meanwhile
  return true;
}

async function loadAll() {
  await state.day.refresh();
  const latest = state.day.newest;
  // Why there is nothing, or nothing new: only asked when it matters (and never fatal to what loaded).
  state.run = !latest || isStale(age()) ? ((await getStatus().catch(() => null)) || {}).last_run || null : null;
  state.band = latest ? await getPanicBand().catch(() => null) : null;
  const drawn = await loadRange();
  renderTop();
  if (drawn) renderLiq();
  emit("refresh", { latest });
  return drawn;
}

async function refresh() {
  const panel = $("liq-panel");
  try {
    // A range click that overtook this load owns the panel's state (it is loading its own range).
    if (await loadAll()) panel.dataset.state = state.day.newest ? "ready" : "empty";
  } catch (error) {
    panel.dataset.state = "error";
    renderOverlay("error", null, error);
  } finally {
    schedule();
  }
}

/** Next refresh 3 s after the next minute starts, when the collector has written. */
function schedule() {
  window.clearTimeout(state.timer);
  if (document.hidden) return;
  const intoMinute = serverNowMs() % 60000;
  state.timer = window.setTimeout(refresh, intoMinute < 3000 ? 3000 - intoMinute : 63000 - intoMinute);
}

// -- drawing -------------------------------------------------------------------------------------------

function colors() {
  return themeColors();
}

function renderTop() {
  const latest = state.day.newest;
  renderCards(latest, state.band);
  renderAge(age());
  renderStateNote(latest, age(), state.run);
  $("price-toggle").hidden = !(latest && latest.prices && latest.prices.BTC);
  const c = colors();
  const toMs = axisEndMs();
  const view = { records: state.day.records, fromMs: toMs - DAY_MS, toMs };
  const empty = state.day.records.length === 0;
  for (const [id, build] of [
    ["panic-chart", (v) => panicOption(v, c, state.band)],
    ["oi-chart", (v) => oiOption(v, c)],
  ]) {
    const chart = chartFor(id);
    chart.setOption(build({ ...view, widthPx: chart.getWidth() }), { notMerge: true });
    renderChartEmpty(id.replace("-chart", "-empty"), empty);
  }
}

function renderLiq() {
  if (!state.shown) return;
  const key = state.shown.key;
  const s = spec(key);
  const chart = chartFor("liq-chart");
  const toMs = axisEndMs();
  const fromMs = toMs - s.seconds * 1000;
  let zoom = { start: 0, end: 100 };
  const previous = chart.getOption();
  if (previous && previous.dataZoom && chart.__liqRange === key) {
    zoom = { start: previous.dataZoom[0].start, end: previous.dataZoom[0].end };
  }
  chart.__liqRange = key;
  chart.__span = [fromMs, toMs];
  // Only what the axis shows counts (max, min, average, points): not a bucket or minute before it.
  const records = state.shown.records.filter((r) => r.timestamp * 1000 >= fromMs);
  const view = { records, stepS: stepOf(s.interval), fromMs, toMs, bars: barsFor(key), widthPx: chart.getWidth(), phone: phone() };
  const { option, summary } = liqOption(view, colors(), $("liq-readout"));
  option.dataZoom = option.dataZoom.map((z) => ({ ...z, ...zoom }));
  chart.setOption(option, { notMerge: true });
  if (zoom.start !== 0 || zoom.end !== 100) retick(chart);
  const panel = $("liq-panel");
  panel.dataset.points = String(summary.points);
  panel.dataset.average = summary.average === null ? "" : String(summary.average);
  panel.dataset.max = summary.max === null ? "" : String(summary.max);
  panel.dataset.min = summary.min === null ? "" : String(summary.min);
  panel.dataset.gaps = String(summary.gaps);
  panel.dataset.newest = state.day.newest ? String(state.day.newest.timestamp) : "";
  updateExports(fromMs, toMs, s.interval, stepOf(s.interval));
  if (!state.day.newest) renderOverlay("empty", state.run, null);
  else if (summary.points === 0) renderOverlay("empty-range", null, null);
  else renderOverlay(null);
}

/** Ticks for the zoomed window: zoomed into an hour of a 30-day view, the axis shows hours. */
function retick(chart) {
  const option = chart.getOption();
  const [fromMs, toMs] = chart.__span;
  const z = option.dataZoom[0];
  const a = fromMs + ((toMs - fromMs) * z.start) / 100;
  const b = fromMs + ((toMs - fromMs) * z.end) / 100;
  const ticks = tickOption(a, b, chart.getWidth(), settings.zone);
  chart.setOption({ xAxis: option.xAxis.map(() => ticks) });
}

function renderAll() {
  renderTop();
  renderLiq();
}

// -- controls ------------------------------------------------------------------------------------------

async function selectRange(key) {
  state.range = key;
  settings.range = key;
  save("liqsite-range", key);
  setParams({ range: key === config.defaultRange ? null : key });
  for (const button of document.querySelectorAll(".range")) button.setAttribute("aria-pressed", String(button.dataset.range === key));
  const panel = $("liq-panel");
  panel.dataset.state = "loading";
  try {
    if (!(await loadRange())) return; // overtaken by a later click
    renderLiq();
    panel.dataset.state = state.day.newest ? "ready" : "empty";
  } catch (error) {
    panel.dataset.state = "error";
    renderOverlay("error", null, error);
  }
}

function renderZone() {
  const name = settings.zone === "beijing" ? S.zone_beijing : S.zone_local;
  const button = $("zone-toggle");
  button.textContent = phone() ? (settings.zone === "beijing" ? S.zone_beijing_short : S.zone_local_short) : name;
  button.title = name;
  button.setAttribute("aria-label", name);
  button.setAttribute("aria-pressed", String(settings.zone === "local"));
  $("zone-label").textContent = S.times_in.replace("%s", name);
}

function setupControls() {
  for (const button of document.querySelectorAll(".range")) {
    button.addEventListener("click", () => selectRange(button.dataset.range));
    button.setAttribute("aria-pressed", String(button.dataset.range === state.range));
  }
  $("zone-toggle").addEventListener("click", () => {
    settings.zone = settings.zone === "beijing" ? "local" : "beijing";
    save("liqsite-zone", settings.zone);
    setParams({ zone: settings.zone === "beijing" ? null : settings.zone });
    renderZone();
    renderAll();
    emit("zone", { zone: settings.zone });
  });
  $("theme-toggle").addEventListener("click", () => {
    const dark = !isDark();
    document.documentElement.setAttribute("data-theme", dark ? "dark" : "light");
    save("liqsite-theme", dark ? "dark" : "light");
    setParams({ theme: dark ? "dark" : "light" });
    renderAll();
    emit("theme", { dark });
  });
  const price = $("price-toggle");
  price.setAttribute("aria-pressed", String(settings.price));
  price.addEventListener("click", () => {
    settings.price = !settings.price;
    save("liqsite-price", settings.price ? "btc" : "off");
    setParams({ price: settings.price ? "btc" : "off" });
    price.setAttribute("aria-pressed", String(settings.price));
    renderLiq();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) window.clearTimeout(state.timer);
    else refresh();
  });
  let resizing = null;
  window.addEventListener("resize", () => {
    Object.values(charts).forEach((chart) => chart.resize());
    window.clearTimeout(resizing);
    resizing = window.setTimeout(() => {
      renderZone();
      renderAll();
    }, 150);
  });
  window.setInterval(() => {
    if (!document.hidden) renderAge(age());
  }, 1000);
  // The language links keep the rest of the view (range, zone, theme, filters).
  for (const link of document.querySelectorAll(".lang-switch a")) {
    link.addEventListener("click", () => {
      const url = new URL(window.location.href);
      url.searchParams.set("lang", link.hreflang === "en" ? "en" : "zh-hans");
      link.href = url.toString();
    });
  }
  renderZone();
  setupShare(() => charts["liq-chart"]);
}

/** Keyboard readout: arrow keys walk the curve's points (the tooltip and the aria-live readout follow). */
function setupKeys() {
  const element = $("liq-chart");
  let index = null;
  element.addEventListener("keydown", (event) => {
    const chart = charts["liq-chart"];
    const data = chart && chart.getOption().series[0].data;
    if (!data || !data.length) return;
    const points = data.map((p, i) => (p[1] === null ? -1 : i)).filter((i) => i >= 0);
    if (!points.length) return;
    let at = index === null ? points.length - 1 : points.findIndex((i) => i >= index);
    if (at < 0) at = points.length - 1;
    if (event.key === "ArrowLeft") at = Math.max(0, at - 1);
    else if (event.key === "ArrowRight") at = Math.min(points.length - 1, at + 1);
    else if (event.key === "Home") at = 0;
    else if (event.key === "End") at = points.length - 1;
    else return;
    event.preventDefault();
    index = points[at];
    chart.dispatchAction({ type: "showTip", seriesIndex: 0, dataIndex: index });
  });
  element.addEventListener("blur", () => {
    index = null;
    if (charts["liq-chart"]) charts["liq-chart"].dispatchAction({ type: "hideTip" });
  });
}

setupControls();
setupKeys();
chartFor("liq-chart").on("datazoom", () => retick(charts["liq-chart"]));
$("liq-panel").dataset.state = "loading";
refresh();
