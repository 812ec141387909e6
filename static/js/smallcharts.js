// The two 24 h charts beside the 1h panel: the panic index trend (as a percentage, with the calm /
// elevated / panic bands of its own trailing 30 days) and 24 h liquidations against open interest.

import { timeAxis } from "./axis.js";
import { formatPercent, formatTime, formatWan, formatYi } from "./format.js";
import { lonePoints, withGaps } from "./liqchart.js";
import { toHtml } from "./liqtooltip.js";
import { LANG, config, settings } from "./page.js";

const S = config.strings;
const RED = "#ef4444";

function tooltip(c, text) {
  return {
    trigger: "axis",
    renderMode: "html",
    className: "liq-tip",
    confine: true,
    transitionDuration: 0,
    backgroundColor: c.panel,
    borderColor: c.border,
    textStyle: { color: c.text, fontSize: 12 },
    formatter: (params) => {
      const p = Array.isArray(params) ? params[0] : params;
      return p ? toHtml(text(p)) : "";
    },
  };
}

function rowText(rows, gaps) {
  return (p) => {
    const row = rows[p.dataIndex];
    if (!row) return `{m|${formatTime(p.value[0] / 1000, settings.zone, "minute")}}\n${S.gap}`;
    return [
      `{m|${formatTime(row.timestamp, settings.zone, "minute")}}`,
      `${S.panic} ${formatPercent(row.panic_index)}`,
      `${S.h24} ${row.lower_bound ? "≥" : ""}${formatWan(row.hour_24_amount, LANG)}`,
      `${S.oi} ${formatYi(row.total_position, LANG)}`,
    ].join("\n");
  };
}

/** The panic index trend. ``band``: the /panic-band answer (p50, p90) or null. */
export function panicOption(view, c, band) {
  const { records, fromMs, toMs, widthPx } = view;
  const { data, rows, gaps } = withGaps(records, "panic_index", 60, fromMs, toMs);
  const areas = [];
  const lines = [];
  if (band && band.p50 !== null && band.p90 !== null) {
    // The 30-day bands behind the curve: below the median calm, up to the 90th percentile elevated, above it panic.
    areas.push([{ yAxis: band.p90, itemStyle: { color: c.panicShade } }, {}]); // up to the axis top (not the data's max)
    areas.push([{ yAxis: band.p50, itemStyle: { color: c.elevatedShade } }, { yAxis: band.p90 }]);
    lines.push(
      { yAxis: band.p50, label: { formatter: () => `${S.band_p50} ${formatPercent(band.p50)}` } },
      { yAxis: band.p90, label: { formatter: () => `${S.band_p90} ${formatPercent(band.p90)}` } },
    );
  }
  return {
    animation: false,
    grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
    tooltip: tooltip(c, rowText(rows, gaps)),
    xAxis: timeAxis(c, fromMs, toMs, widthPx, settings.zone),
    yAxis: {
      type: "value",
      scale: true,
      max: band && band.p90 !== null ? (e) => Math.max(e.max, band.p90 * 1.1) : undefined,
      axisLabel: { color: c.muted, fontSize: 11, formatter: (v) => formatPercent(v) },
      splitLine: { lineStyle: { color: c.grid } },
    },
    series: [
      {
        id: "panic",
        name: S.panic,
        type: "line",
        data,
        showSymbol: false,
        connectNulls: false,
        lineStyle: { color: RED, width: 2 },
        itemStyle: { color: RED },
        markArea: { silent: true, data: areas },
        markLine: {
          silent: true,
          symbol: "none",
          lineStyle: { type: "dotted", color: c.muted, width: 1 },
          label: { position: "insideStartTop", color: c.muted, fontSize: 10 },
          data: lines,
        },
      },
      { ...lone(data, RED), id: "lone" },
    ],
  };
}

function lone(data, colour) {
  return { id: `lone-${colour}`, type: "scatter", data: lonePoints(data), symbolSize: 6, itemStyle: { color: colour }, silent: true, tooltip: { show: false } };
}

export function oiOption(view, c) {
  const { records, fromMs, toMs, widthPx } = view;
  const h24 = withGaps(records, "hour_24_amount", 60, fromMs, toMs);
  const oi = withGaps(records, "total_position", 60, fromMs, toMs);
  const axis = (formatter) => ({ type: "value", scale: true, axisLabel: { color: c.muted, fontSize: 11, formatter } });
  return {
    animation: false,
    grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
    legend: { top: 0, data: [S.h24, S.oi], textStyle: { color: c.muted } },
    tooltip: tooltip(c, rowText(h24.rows, h24.gaps)),
    xAxis: timeAxis(c, fromMs, toMs, widthPx, settings.zone),
    yAxis: [
      { ...axis((v) => formatWan(v, LANG, { compact: true })), splitLine: { lineStyle: { color: c.grid } } },
      { ...axis((v) => formatYi(v, LANG, { compact: true })), splitLine: { show: false } },
    ],
    series: [
      { id: "h24", name: S.h24, type: "line", data: h24.data, showSymbol: false, connectNulls: false, lineStyle: { color: "#3b82f6", width: 2 }, itemStyle: { color: "#3b82f6" } },
      { id: "oi", name: S.oi, type: "line", yAxisIndex: 1, data: oi.data, showSymbol: false, connectNulls: false, lineStyle: { color: "#8b5cf6", width: 2 }, itemStyle: { color: "#8b5cf6" } },
      lone(h24.data, "#3b82f6"),
      { ...lone(oi.data, "#8b5cf6"), yAxisIndex: 1 },
    ],
  };
}
