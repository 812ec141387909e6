// One formatter for money, shared by the cards, the axes and the tooltips.
// Chinese readers count in 万 (1e4) and 亿 (1e8): $397.14万, $1.36亿. In English the same amounts are
// $3.97M and $136M (1亿 = 100M), three significant digits. Test vectors: tests/fixtures/format-cases.json.

const DASH = "—";

function sign(value) {
  return value < 0 ? "-" : "";
}

function significant(x, digits) {
  // digits=3: 3.971 -> "3.97", 135.83 -> "136", 1234 -> "1234" (never exponent notation)
  return x >= 10 ** digits ? x.toFixed(0) : Number(x.toPrecision(digits)).toString();
}

function trimZeros(text) {
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

/**
 * Format a USD amount. lang: "zh-hans" (default) or "en". compact: fewer digits, for axis labels.
 */
export function formatUsd(usd, lang = "zh-hans", { compact = false } = {}) {
  if (usd === null || usd === undefined || !Number.isFinite(usd)) return DASH;
  const s = sign(usd);
  const a = Math.abs(usd);
  if (lang === "en") {
    const units = [
      [1e12, "T"],
      [1e9, "B"],
      [1e6, "M"],
      [1e3, "K"],
    ];
    // Axis ticks are close together: one more digit keeps neighbouring labels apart.
    const digits = compact ? 4 : 3;
    for (let i = 0; i < units.length; i++) {
      const [size, unit] = units[i];
      if (a < size) continue;
      const text = significant(a / size, digits);
      if (Number(text) >= 1000 && i > 0) {
        // Rounded up into the next unit (999,960 is $1M, not $1000K).
        const [bigger, biggerUnit] = units[i - 1];
        return `${s}$${significant(a / bigger, digits)}${biggerUnit}`;
      }
      return `${s}$${text}${unit}`;
    }
    if (Number(a.toFixed(2)) >= 1000) return `${s}$${significant(a / 1e3, digits)}K`;
    return `${s}$${compact ? Math.round(a) : trimZeros(a.toFixed(2))}`;
  }
  const fixed = (x) => (compact ? trimZeros(x.toFixed(2)) : x.toFixed(2));
  // Pick the unit after rounding, so 9999.9999万 is $1.00亿 and $9,999.6 is $1.00万.
  if (a >= 1e8 || Number((a / 1e4).toFixed(2)) >= 1e4) return `${s}$${fixed(a / 1e8)}亿`;
  if (a >= 1e4 || Math.round(a) >= 1e4) return `${s}$${fixed(a / 1e4)}万`;
  return `${s}$${Math.round(a).toLocaleString("en-US")}`;
}

/** An amount stored in 万 USD (hour_1_amount, hour_24_amount, …). */
export function formatWan(wan, lang, options) {
  return wan === null || wan === undefined ? DASH : formatUsd(wan * 1e4, lang, options);
}

/** An amount stored in 亿 USD (total_position). */
export function formatYi(yi, lang, options) {
  return yi === null || yi === undefined ? DASH : formatUsd(yi * 1e8, lang, options);
}

/** The panic index: four significant digits, as the earlier system showed it (0.0761). */
export function formatIndex(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  return value === 0 ? "0" : Number(value.toPrecision(4)).toString();
}

/**
 * Format a Unix time (seconds) in Beijing time or the browser's zone.
 * style: "full" (2026-01-17 01:17:31), "minute" (01-17 01:17), "time" (01:17).
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
  if (style === "minute") return `${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}

/** "45 s", "3 min", "2 h", "3 d" ago, in the page's language. */
export function formatAge(seconds, strings) {
  if (seconds < 60) return strings.ago_seconds.replace("%s", Math.max(0, Math.round(seconds)));
  if (seconds < 3600) return strings.ago_minutes.replace("%s", Math.floor(seconds / 60));
  if (seconds < 86400) return strings.ago_hours.replace("%s", Math.floor(seconds / 3600));
  return strings.ago_days.replace("%s", Math.floor(seconds / 86400));
}
