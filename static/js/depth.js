// The /panic page's depth panels: the summary sentence above the 1h panel (#depth-summary), the
// by-exchange and top-coins tables (#depth-breakdown) and the live tape (#depth-tape, depth-tape.js).
// One summary request per window feeds the sentence and both tables; the window (query param "window",
// 1h|4h|12h|24h, default 24h) is shared by the tabs of both panels. Each minute's "refresh" event reloads
// the summary and polls the tape. With config.panels.depth false nothing is requested: each panel says
// it is not available on this source. Errors become a short localized sentence in the panel, never a
// console message. Strings: config.depthStrings (liquidation/views/page_depth.py).

import { $, LANG, config, getJSON, on, param, setParams, settings, venueTitle } from "./page.js";
import { formatUsd } from "./format.js";
import { initTape, refreshTape, setCoin, setCoinOptions, setPanel, setZone, unavailable } from "./depth-tape.js";

const S = config.depthStrings;
const WINDOWS = ["1h", "4h", "12h", "24h"];
const DEFAULT_WINDOW = "24h";
const PANELS = ["depth-summary", "depth-breakdown"];

const state = {
  window: param("window", WINDOWS) || DEFAULT_WINDOW,
  seq: 0,
  off: !(config.panels && config.panels.depth),
};

// -- small DOM helpers -------------------------------------------------------------------------------

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** ``template`` with its ``{name}`` placeholders replaced by ``parts`` (text or elements), as nodes. */
function place(template, parts) {
  const nodes = [];
  for (const piece of template.split(/(\{\w+\})/)) {
    const name = /^\{(\w+)\}$/.exec(piece);
    if (name && name[1] in parts) nodes.push(parts[name[1]]);
    else if (piece) nodes.push(document.createTextNode(piece));
  }
  return nodes;
}

const count = (n) => Number(n).toLocaleString("en-US");
const usd = (value) => formatUsd(value, LANG);
// Every depth figure comes from the exchanges' public feeds: a lower bound, marked "≥".
const atLeast = (text) => `≥${text}`;

function percent(value) {
  const rounded = Number(value.toFixed(1));
  return `${rounded > 0 ? "+" : ""}${rounded.toFixed(1)}%`;
}

// -- the summary sentence ------------------------------------------------------------------------------

function sentenceParts(body) {
  const w = body.window;
  const lead = S[`lead_${w}`];
  if (!body.count) return place(S.none, { lead });
  const nodes = place(S.sentence, {
    lead,
    count: el("b", atLeast(count(body.count)), "depth-figure depth-count"),
    total: el("b", atLeast(usd(body.total_usd)), "depth-figure depth-total"),
    long: el("b", usd(body.long_usd), "long depth-long"),
    short: el("b", usd(body.short_usd), "short depth-short"),
  });
  const gap = LANG === "en" ? " " : "";
  if (body.largest) {
    nodes.push(document.createTextNode(gap));
    nodes.push(
      ...place(S.largest, {
        venue: el("b", venueTitle(body.largest.exchange), "depth-largest-venue"),
        symbol: el("b", body.largest.symbol, "depth-largest-symbol"),
        usd: el("b", usd(body.largest.usd), "depth-figure depth-largest-usd"),
      }),
    );
  }
  nodes.push(document.createTextNode(gap));
  const previous = S[`prev_${w}`];
  if (body.change_pct === null || body.change_pct === undefined) {
    nodes.push(...place(S.no_previous, { previous }));
  } else {
    const up = Number(body.change_pct.toFixed(1));
    const change = el("b", percent(body.change_pct), `depth-change ${up > 0 ? "up" : up < 0 ? "down" : "flat"}`);
    nodes.push(...place(S.change, { change, previous }));
  }
  return nodes;
}

function renderSummary(body) {
  const sentence = $("depth-sentence");
  sentence.replaceChildren(...sentenceParts(body));
  sentence.hidden = false;
  const note = $("depth-note");
  const coverage = body.coverage || {};
  let text = S.lower_bound;
  if (coverage.expected && !coverage.complete) {
    const gap = S.coverage_gap
      .replace("{minutes}", count(coverage.minutes))
      .replace("{expected}", count(coverage.expected));
    text = `${text}${LANG === "en" ? " " : ""}${gap}`;
  }
  note.textContent = text;
  note.hidden = false;
  setPanel("depth-summary", body.count ? "ready" : "empty");
}

// -- the tables ------------------------------------------------------------------------------------------

function share(value) {
  const td = el("td", null, "num depth-share");
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = value;
  bar.setAttribute("aria-hidden", "true");
  td.append(bar, el("span", `${(value * 100).toFixed(1)}%`));
  return td;
}

function exchangeRow(row) {
  const tr = el("tr");
  tr.dataset.exchange = row.exchange;
  tr.append(
    el("th", venueTitle(row.exchange)),
    el("td", usd(row.total_usd), "num depth-total"),
    el("td", usd(row.long_usd), "num long"),
    el("td", usd(row.short_usd), "num short"),
    share(row.share),
    el("td", count(row.count), "num depth-orders"),
  );
  tr.firstChild.scope = "row";
  return tr;
}

function coinRow(row, index) {
  const tr = el("tr");
  tr.dataset.coin = row.coin;
  const button = el("button", row.coin, "depth-coin");
  button.type = "button";
  button.title = S.coin_button.replace("{coin}", row.coin);
  button.addEventListener("click", () => {
    setCoin(row.coin);
    $("depth-tape").scrollIntoView({ block: "start" });
  });
  const name = el("th");
  name.scope = "row";
  name.append(button);
  tr.append(
    el("td", String(index + 1), "num depth-rank"),
    name,
    el("td", usd(row.total_usd), "num depth-total"),
    el("td", usd(row.long_usd), "num long"),
    el("td", usd(row.short_usd), "num short"),
    el("td", count(row.count), "num depth-orders"),
  );
  return tr;
}

function renderBreakdown(body) {
  $("depth-breakdown-window").textContent = `· ${S[`lead_${body.window}`]}`;
  $("depth-exchanges-body").replaceChildren(...body.by_exchange.map(exchangeRow));
  $("depth-coins-body").replaceChildren(...body.by_coin.map(coinRow));
  const empty = body.by_exchange.length === 0;
  $("depth-breakdown-body").hidden = empty;
  setPanel("depth-breakdown", empty ? "empty" : "ready", empty ? S.empty_window : "");
}

// -- loading -----------------------------------------------------------------------------------------------

function hideData() {
  $("depth-sentence").hidden = true;
  $("depth-note").hidden = true;
  $("depth-breakdown-body").hidden = true;
}

function off() {
  state.off = true;
  state.seq++;
  hideData();
  for (const id of PANELS) setPanel(id, "unavailable", S.unavailable);
  unavailable();
}

/** The summary of the current window, into the sentence and both tables (``quiet``: the minute's refresh,
 * which keeps what is shown until the answer arrives). */
async function loadSummary(quiet = false) {
  if (state.off) return;
  const seq = ++state.seq;
  if (!quiet) {
    hideData();
    for (const id of PANELS) setPanel(id, "loading", S.loading);
  }
  try {
    const q = new URLSearchParams({ window: state.window });
    const { body } = await getJSON(`${config.urls.summary}?${q}`, { cache: "no-cache" });
    if (seq !== state.seq) return;
    if (body.available === false) return off();
    renderSummary(body);
    renderBreakdown(body);
    setCoinOptions(body.by_coin);
  } catch {
    if (seq !== state.seq) return;
    hideData();
    for (const id of PANELS) setPanel(id, "error", S.load_error);
  }
}

function pressWindow() {
  for (const b of document.querySelectorAll(".depth-window")) {
    b.setAttribute("aria-pressed", String(b.dataset.window === state.window));
  }
}

function start() {
  pressWindow();
  if (state.off) {
    off();
    return;
  }
  for (const b of document.querySelectorAll(".depth-window")) {
    b.addEventListener("click", () => {
      if (state.off || b.dataset.window === state.window) return;
      state.window = b.dataset.window;
      setParams({ window: state.window === DEFAULT_WINDOW ? null : state.window });
      pressWindow();
      loadSummary();
    });
  }
  on("refresh", () => {
    loadSummary(true);
    refreshTape();
  });
  on("zone", (detail) => setZone((detail && detail.zone) || settings.zone));
  initTape();
  loadSummary();
}

start();
