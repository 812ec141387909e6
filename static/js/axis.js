// Time axes in the reader's chosen zone, whatever the browser's own: ECharts places time ticks at the
// browser's local midnights and hours, so a 30-day view in New York would tick at New York midnights
// under Beijing labels. Ticks are computed here instead (axisLabel/axisTick customValues): on whole
// steps of the chosen zone's clock, days on its midnights, with the date shown wherever a tick sits on a
// midnight (a 24 h view crossing midnight says which day each side is).

import { formatTime } from "./format.js";

const MINUTE = 60e3;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
// Every step up to a day divides a day, so a view crossing midnight always has a tick on it.
const STEPS = [MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY];

/** The zone's offset from UTC at ``ms``, in milliseconds (Beijing has no daylight saving time). */
export function zoneOffsetMs(ms, zone) {
  return zone === "beijing" ? 8 * HOUR : -new Date(ms).getTimezoneOffset() * MINUTE;
}

/** Whether ``ms`` is a midnight on the zone's clock. */
export function isMidnight(ms, zone) {
  return (ms + zoneOffsetMs(ms, zone)) % DAY === 0;
}

/** Tick times in [minMs, maxMs] for an axis ``widthPx`` wide: about one per 90 px, on the zone's
 * whole steps. */
export function tickValues(minMs, maxMs, widthPx, zone) {
  const target = Math.max(2, Math.floor(widthPx / 90));
  const span = Math.max(MINUTE, maxMs - minMs);
  const step = STEPS.find((s) => span / s <= target) || STEPS[STEPS.length - 1];
  const out = [];
  const offset = zoneOffsetMs(minMs, zone);
  let t = Math.ceil((minMs + offset) / step) * step - offset;
  while (t <= maxMs && out.length < 400) {
    // A local zone's offset can change inside the range (daylight saving time): stay on its hours and midnights.
    const aligned = step >= HOUR ? t - (zoneOffsetMs(t, zone) - offset) : t;
    if (aligned >= minMs) out.push(aligned);
    t += step;
  }
  return { values: out, step };
}

/** An axis label: the date ("12-01") on a midnight or for steps of a day and more, else the time. */
export function tickLabel(ms, step, zone) {
  if (step >= DAY || isMidnight(ms, zone)) return `{date|${formatTime(ms / 1000, zone, "date")}}`;
  return formatTime(ms / 1000, zone, "time");
}

/** The xAxis option for a time axis over [minMs, maxMs] drawn ``widthPx`` wide. */
export function timeAxis(c, minMs, maxMs, widthPx, zone, extra = {}) {
  const { values, step } = tickValues(minMs, maxMs, widthPx, zone);
  return {
    type: "time",
    min: minMs,
    max: maxMs,
    axisLabel: {
      color: c.muted,
      customValues: values,
      hideOverlap: true,
      formatter: (ms) => tickLabel(ms, step, zone),
      rich: { date: { color: c.text, fontWeight: "bold" } },
    },
    axisTick: { customValues: values, lineStyle: { color: c.border } },
    axisLine: { lineStyle: { color: c.border } },
    splitLine: { show: false },
    ...extra,
  };
}

/** The tick part of a time axis for a zoomed window [minMs, maxMs] (merged into the axis on zoom). */
export function tickOption(minMs, maxMs, widthPx, zone) {
  const { values, step } = tickValues(minMs, maxMs, widthPx, zone);
  return {
    axisLabel: { customValues: values, formatter: (ms) => tickLabel(ms, step, zone) },
    axisTick: { customValues: values },
  };
}
