// One formatter for money, shared by the cards, the axes and the tooltips, with one precision rule in
// both languages: the amount in its unit with two decimals and thousands separators. Chinese readers
// count in 万 (1e4) and 亿 (1e8): $397.14万, $1,467.35万, $1.36亿; in English the same amounts are
// $3.97M, $14.67M and $136.00M (1亿 = 100M). Below the smallest unit: whole dollars ($9,999; $512).
// Axis labels (compact) drop trailing zeros ($4M, $1.5亿). Test vectors: tests/fixtures/format-cases.json
// (also checked against the Python twin, liquidation/formatting.py).

const DASH = "—";

/** "1234567.89" -> "1,234,567.89" */
function group(text) {
  const [whole, decimals] = text.split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return decimals === undefined ? grouped : `${grouped}.${decimals}`;
}

function trimZeros(text) {
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

function inUnit(x, compact) {
  const text = x.toFixed(2);
  return group(compact ? trimZeros(text) : text);
}

/**
 * Format a USD amount. lang: "zh-hans" (default) or "en". compact: no trailing zeros, for axis labels.
 */
export function formatUsd(usd, lang = "zh-hans", { compact = false } = {}) {
  if (usd === null || usd === undefined || !Number.isFinite(usd)) return DASH;
  const s = usd < 0 ? "-" : "";
  const a = Math.abs(usd);
  // Units from the largest; the unit is picked after rounding (999,999 is $1.00M, not $1000.00K).
  const units =
    lang === "en"
      ? [
          [1e12, "T"],
          [1e9, "B"],
          [1e6, "M"],
          [1e3, "K"],
        ]
      : [
          [1e8, "亿"],
          [1e4, "万"],
        ];
  for (let i = 0; i < units.length; i++) {
    const [size, unit] = units[i];
    const next = units[i + 1];
    const roundsUp = next && Number((a / next[0]).toFixed(2)) >= size / next[0];
    if (a >= size || roundsUp) return `${s}$${inUnit(a / size, compact)}${unit}`;
  }
  const whole = Math.round(a);
  if (whole >= units[units.length - 1][0]) {
    const [size, unit] = units[units.length - 1];
    return `${s}$${inUnit(a / size, compact)}${unit}`;
  }
  return `${s}$${group(String(whole))}`;
}

/** An amount stored in 万 USD (hour_1_amount, hour_24_amount, …). */
export function formatWan(wan, lang, options) {
  return wan === null || wan === undefined ? DASH : formatUsd(wan * 1e4, lang, options);
}

/** An amount stored in 亿 USD (total_position). */
export function formatYi(yi, lang, options) {
  return yi === null || yi === undefined ? DASH : formatUsd(yi * 1e8, lang, options);
}

/** The panic index as a percentage (24 h liquidations over open interest): 7.61%, 0.14%, 0.012%. */
export function formatPercent(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  const p = value * 100;
  if (p === 0) return "0%";
  return `${Math.abs(p) >= 0.1 ? p.toFixed(2) : Number(p.toPrecision(2)).toString()}%`;
}

/** The panic index: four significant digits, as the earlier system showed it (0.0761). */
export function formatIndex(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  return value === 0 ? "0" : Number(value.toPrecision(4)).toString();
}

/**
 * Format a Unix time (seconds) in Beijing time or the browser's zone.
 * style: "full" (2026-01-17 01:17:31), "minute" (01-17 01:17), "time" (01:17), "date" (01-17).
 */
export function formatTime(ts, zone = "beijing", style = "full") {
  const parts = {};
  const fmt = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone === "beijing" ? "Asia/Shanghai" : undefined,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  });
  for (const p of fmt.formatToParts(new Date(ts * 1000))) parts[p.type] = p.value;
  if (style === "time") return `${parts.hour}:${parts.minute}`;
  if (style === "date") return `${parts.month}-${parts.day}`;
  if (style === "minute") return `${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}

/** A duration in the page's language: "45 s", "12 min", "2 h 5 min", "3 d 4 h" (strings: dur_*). */
export function formatDuration(seconds, strings) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return strings.dur_seconds.replace("%s", s);
  const m = Math.round(s / 60);
  if (m < 60) return strings.dur_minutes.replace("%s", m);
  if (m < 1440) return strings.dur_hours_minutes.replace("%s", Math.floor(m / 60)).replace("%s", m % 60);
  return strings.dur_days_hours.replace("%s", Math.floor(m / 1440)).replace("%s", Math.floor((m % 1440) / 60));
}

/** "45 s", "3 min", "2 h", "3 d" ago, in the page's language. */
export function formatAge(seconds, strings) {
  if (seconds < 60) return strings.ago_seconds.replace("%s", Math.max(0, Math.round(seconds)));
  if (seconds < 3600) return strings.ago_minutes.replace("%s", Math.floor(seconds / 60));
  if (seconds < 86400) return strings.ago_hours.replace("%s", Math.floor(seconds / 3600));
  return strings.ago_days.replace("%s", Math.floor(seconds / 86400));
}
