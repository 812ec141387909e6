// The 1h chart's tooltip and its screen-reader readout: compact (the 1h amount emphasised, long/short with
// colour keys, venues by their proper names, a gap's duration), placed beside the hovered point and never
// on it; the readout has every field in full. Tooltips are HTML styled by classes (panic.css: .tip-*):
// ECharts positions its box through the CSSOM, which the strict CSP allows; no style attribute is written.
// Lines are built as "{class|text}" markup, then escaped into HTML or flattened for the readout.

import { formatDuration, formatPercent, formatTime, formatUsd, formatWan, formatYi } from "./format.js";
import { LANG, config, settings, venueTitle } from "./page.js";

const S = config.strings;
const AMBER = "#f59e0b";
const PRICE = "#3b82f6";

function gapFor(gaps, ms) {
  return gaps.find(([a, b]) => ms >= a && ms <= b);
}

const ge = (r) => (r && r.lower_bound ? "≥" : "");


/** The full text of one record for the screen-reader readout (and the tests). */
export function describe(row) {
  const zone = settings.zone === "beijing" ? S.zone_beijing : S.zone_local;
  const lines = [`${formatTime(row.timestamp, settings.zone)} (${zone})`];
  lines.push(`${S.h1}: ${ge(row)}${formatWan(row.hour_1_amount, LANG)}`);
  if (row.hour_1_long !== undefined && row.hour_1_short !== undefined) {
    lines.push(`  ${S.longs} ${formatWan(row.hour_1_long, LANG)} · ${S.shorts} ${formatWan(row.hour_1_short, LANG)}`);
  }
  const split = venues(row);
  if (split.length) lines.push(`  ${S.by_exchange}: ${split.map(([n, v]) => `${venueTitle(n)} ${formatWan(v.hour_1, LANG)}`).join(" · ")}`);
  lines.push(`${S.panic}: ${formatPercent(row.panic_index)}`);
  lines.push(`${S.h24}: ${ge(row)}${formatWan(row.hour_24_amount, LANG)}`);
  lines.push(`${S.oi}: ${formatYi(row.total_position, LANG)}`);
  if (row.prices && row.prices.BTC) lines.push(`BTC: ${formatPrice(row.prices.BTC)}`);
  return lines.join("\n");
}

function venues(row) {
  return Object.entries(row.by_exchange || {})
    .filter(([, v]) => v && v.hour_1 > 0)
    .sort((a, b) => b[1].hour_1 - a[1].hour_1);
}

function formatPrice(usd) {
  return `$${Number(usd).toLocaleString("en-US", { maximumFractionDigits: usd >= 1000 ? 0 : 2 })}`;
}

/** The canvas tooltip: compact, the amount emphasised, long/short with colour keys, venues by name. */
function compact(row, stepS) {
  const when = formatTime(row.timestamp, settings.zone, "minute");
  const lines = [`{t|${when}}${stepS > 60 ? `  {m|${S.bucket_max}}` : ""}`];
  lines.push(`{h|${ge(row)}${formatWan(row.hour_1_amount, LANG)}}  {m|${S.h1}}`);
  // A bucket's figures are each its own maximum, from different minutes: a long/short or venue split
  // would not add up to the headline, so buckets show their peaks only.
  if (stepS === 60 && row.hour_1_long !== undefined && row.hour_1_short !== undefined) {
    lines.push(`{lk|■} ${S.longs} ${formatWan(row.hour_1_long, LANG)}   {sk|■} ${S.shorts} ${formatWan(row.hour_1_short, LANG)}`);
  }
  const split = stepS === 60 ? venues(row).slice(0, 3) : [];
  if (split.length) lines.push(`{m|${split.map(([n, v]) => `${venueTitle(n)} ${formatWan(v.hour_1, LANG, { compact: true })}`).join(" · ")}}`);
  lines.push(`{m|${S.panic}} ${formatPercent(row.panic_index)}   {m|24h} ${ge(row)}${formatWan(row.hour_24_amount, LANG, { compact: true })}`);
  if (settings.price && row.prices && row.prices.BTC) lines.push(`{pk|■} BTC ${formatPrice(row.prices.BTC)}`);
  return lines.join("\n");
}

function gapText(gap) {
  const seconds = gap[2];
  const from = formatTime(gap[0] / 1000, settings.zone, "minute");
  const to = formatTime(gap[1] / 1000, settings.zone, "minute");
  return `{t|${from} – ${to}}\n{g|${S.gap_for.replace("%s", formatDuration(seconds, S))}}`;
}

/** Beside the hovered point, never on it: left of it in the right half, right of it in the left half,
 * above it when there is room; always inside the chart (which is inside the viewport). */
export function place(point, params, dom, rect, size) {
  const [x, y] = point;
  const [w, h] = size.contentSize;
  const [cw, ch] = size.viewSize;
  let left = x > cw / 2 ? x - w - 18 : x + 18;
  if (left < 4 || left + w > cw - 4) left = Math.min(Math.max(4, x - w / 2), cw - w - 4);
  const sideways = left + w < x - 8 || left > x + 8;
  let top = sideways ? Math.min(Math.max(4, y - h / 2), ch - h - 4) : y - h - 18;
  if (!sideways && top < 4) top = Math.min(y + 18, ch - h - 4);
  return [left, top];
}

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** "{h|$1.2亿}  {m|1h}" lines -> HTML with classes (text escaped). */
export function toHtml(markup) {
  return markup
    .split("\n")
    .map((line) => {
      const safe = line.replace(/[&<>"']/g, (c) => ESCAPES[c]);
      return `<div class="tip-line">${safe.replace(/\{(\w+)\|([^}]*)\}/g, '<span class="tip-$1">$2</span>')}</div>`;
    })
    .join("");
}

/** The same lines as plain text (the screen-reader readout). */
export function plain(markup) {
  return markup.replace(/\{\w+\|([^}]*)\}/g, "$1");
}

export function tooltipFormatter(rows, gaps, stepS, bars, readout) {
  return (params) => {
    const list = Array.isArray(params) ? params : [params];
    const curve = list.find((p) => p.seriesId === "h1" && p.value[1] !== null);
    const hole = list.find((p) => p.seriesId === "gaps" && p.value[1] !== null);
    if (curve && rows[curve.dataIndex]) {
      const row = rows[curve.dataIndex];
      if (readout) readout.textContent = describe(row);
      return toHtml(compact(row, stepS));
    }
    if (hole) {
      const gap = gapFor(gaps, hole.value[0]);
      const text = gap ? gapText(gap) : `{g|${S.gap}}`;
      if (readout) readout.textContent = plain(text);
      return toHtml(text);
    }
    const barParams = list.filter((p) => String(p.seriesId).startsWith("bars-"));
    if (!barParams.length) return "";
    const ms = barParams[0].value[0];
    const lines = [`{t|${formatTime(ms / 1000, settings.zone, "minute")} · ${bars.stepName}}`];
    for (const p of barParams) {
      const key = p.seriesId === "bars-long" ? "lk" : "sk";
      lines.push(`{${key}|■} ${p.seriesName} ${p.value[1] === null ? S.no_record : formatUsd(p.value[1], LANG)}`);
    }
    if (readout) readout.textContent = plain(lines.join("\n"));
    return toHtml(lines.join("\n"));
  };
}
