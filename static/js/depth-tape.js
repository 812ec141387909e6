// The live tape of the /panic page's depth panels: the newest liquidations, newest first, filtered by a
// minimum size (query param "min") and a coin ("coin"). The first load asks for the newest CAP rows; each
// minute's refresh asks only for what is newer than the newest row seen ("after"), prepends it and keeps
// CAP rows. depth.js owns the panel states and the summary; this module owns #depth-tape's table.

import { $, LANG, config, getJSON, param, setParams, settings, venueTitle } from "./page.js";
import { formatTime, formatUsd } from "./format.js";

const S = config.depthStrings;
const CAP = 100;
const MINS = ["10000", "100000", "1000000"];
const COIN = /^[A-Za-z0-9]{1,24}$/;

const tape = {
  rows: [],
  min: param("min", MINS) || "",
  coin: param("coin", (v) => COIN.test(v)) || "",
  zone: settings.zone,
  seq: 0,
  off: false, // unavailable: no request is ever made
  fresh: new Set(), // keys of the rows the last poll brought, highlighted once
};

/** Show ``state`` (loading, ready, empty, unavailable, error) on a depth section, with its sentence. */
export function setPanel(id, state, message = "") {
  const section = $(id);
  section.dataset.state = state;
  const text = $(`${id}-state`);
  text.textContent = message;
  text.hidden = !message;
  for (const controls of section.querySelectorAll(".depth-controls")) controls.hidden = state === "unavailable";
}

function key(row) {
  return `${row.ts_ms}|${row.exchange}|${row.symbol}|${row.side}|${row.usd}`;
}

function formatPrice(price) {
  return Number.isFinite(price) ? price.toLocaleString("en-US", { maximumSignificantDigits: 6 }) : "—";
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** "MM-DD HH:MM:SS" in the page's zone; the date is a span a phone leaves out. */
function timeCell(tsMs) {
  const text = formatTime(tsMs / 1000, tape.zone, "full");
  const td = cell("", "depth-time");
  const date = document.createElement("span");
  date.className = "depth-date";
  date.textContent = `${text.slice(5, 10)} `;
  td.append(date, text.slice(11));
  return td;
}

function rowElement(row) {
  const tr = document.createElement("tr");
  tr.dataset.ts = String(row.ts_ms);
  tr.dataset.usd = String(row.usd);
  tr.dataset.coin = row.coin;
  tr.dataset.side = row.side;
  if (tape.fresh.has(key(row))) tr.className = "depth-new";
  const side = document.createElement("span");
  side.className = row.side === "long" ? "side-long" : "side-short";
  side.textContent = row.side === "long" ? S.long : S.short;
  const sideCell = cell("");
  sideCell.append(side);
  tr.append(
    timeCell(row.ts_ms),
    cell(venueTitle(row.exchange)),
    cell(row.symbol, "depth-symbol"),
    sideCell,
    cell(formatPrice(row.price), "num depth-price"),
    cell(formatUsd(row.usd, LANG), "num"),
  );
  return tr;
}

function render() {
  const zone = tape.zone === "local" ? S.zone_local : S.zone_beijing;
  $("depth-tape-zone").textContent = S.times_in.replace("{zone}", zone);
  $("depth-tape-body").replaceChildren(...tape.rows.map(rowElement));
  $("depth-tape-body-wrap").hidden = tape.rows.length === 0;
  setPanel("depth-tape", tape.rows.length ? "ready" : "empty", tape.rows.length ? "" : S.empty_tape);
}

function url({ after, before, limit = CAP } = {}) {
  const q = new URLSearchParams({ limit: String(limit) });
  if (tape.min) q.set("min_usd", tape.min);
  if (tape.coin) q.set("coin", tape.coin);
  if (before) q.set("before", String(before));
  if (after) q.set("after", String(after));
  return `${config.urls.tape}?${q}`;
}

/** The newest CAP rows. The API reads two day files per request, starting from the day of its upper
 * bound (now + a day when no "before" is given, so often tomorrow's empty file): a short first page
 * continues once from its next_before (the browser's clock is not trusted for a "before" of its own). */
async function newest() {
  const { body } = await getJSON(url(), { cache: "no-cache" });
  if (body.available === false || body.results.length >= CAP || !body.next_before) return body;
  const rest = url({ before: body.next_before, limit: CAP - body.results.length });
  const more = await getJSON(rest, { cache: "no-cache" });
  return { ...body, results: body.results.concat(more.body.results || []) };
}

/** The newest CAP rows under the current filters (``quiet``: keep what is shown until the answer). */
async function load(quiet = false) {
  const seq = ++tape.seq;
  if (!quiet) {
    $("depth-tape-body-wrap").hidden = true;
    setPanel("depth-tape", "loading", S.loading);
  }
  try {
    const body = await newest();
    if (seq !== tape.seq) return;
    if (body.available === false) return unavailable();
    tape.fresh = new Set();
    tape.rows = body.results.slice(0, CAP);
    render();
  } catch {
    if (seq === tape.seq) fail();
  }
}

/** What is newer than the newest row, prepended; the oldest rows fall off past CAP. */
async function poll() {
  if (tape.off) return;
  if (!tape.rows.length) return load(true);
  const seq = ++tape.seq;
  const latest = tape.rows[0].ts_ms;
  try {
    const { body } = await getJSON(url({ after: latest }), { cache: "no-cache" });
    if (seq !== tape.seq) return;
    if (body.available === false) return unavailable();
    const seen = new Set(tape.rows.map(key));
    const added = body.results.filter((r) => r.ts_ms > latest && !seen.has(key(r)));
    tape.fresh = new Set(added.map(key));
    tape.rows = added.concat(tape.rows).slice(0, CAP);
    render();
  } catch {
    if (seq === tape.seq) fail();
  }
}

function fail() {
  tape.rows = [];
  $("depth-tape-body").replaceChildren();
  $("depth-tape-body-wrap").hidden = true;
  setPanel("depth-tape", "error", S.load_error);
}

export function unavailable() {
  tape.off = true;
  tape.seq++;
  $("depth-tape-body-wrap").hidden = true;
  setPanel("depth-tape", "unavailable", S.unavailable);
}

function pressMin() {
  for (const b of document.querySelectorAll(".depth-min")) {
    b.setAttribute("aria-pressed", String(b.dataset.min === tape.min));
  }
}

function ensureOption(select, coin) {
  if (coin && ![...select.options].some((o) => o.value === coin)) select.append(new Option(coin, coin));
}

/** The coin filter's choices: every coin of the summary's top list, and the one selected. */
export function setCoinOptions(byCoin) {
  const select = $("depth-tape-coin");
  select.replaceChildren(new Option(S.all_coins, ""), ...byCoin.map((c) => new Option(c.coin, c.coin)));
  ensureOption(select, tape.coin);
  select.value = tape.coin;
}

/** Show only ``coin`` ("" for all) and reload the tape. */
export function setCoin(coin) {
  if (tape.off) return;
  tape.coin = coin;
  const select = $("depth-tape-coin");
  ensureOption(select, coin);
  select.value = coin;
  setParams({ coin: coin || null });
  load();
}

export function setZone(zone) {
  tape.zone = zone === "local" ? "local" : "beijing";
  if (!tape.off && tape.rows.length) render();
}

export function initTape() {
  pressMin();
  const select = $("depth-tape-coin");
  ensureOption(select, tape.coin);
  select.value = tape.coin;
  if (tape.off) return;
  for (const b of document.querySelectorAll(".depth-min")) {
    b.addEventListener("click", () => {
      if (tape.off || b.dataset.min === tape.min) return;
      tape.min = b.dataset.min;
      setParams({ min: tape.min || null });
      pressMin();
      load();
    });
  }
  select.addEventListener("change", () => setCoin(select.value));
  load();
}

export { poll as refreshTape };
