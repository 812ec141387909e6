// The 1h liquidation chart: the amber curve of the trailing hour's liquidations with its average, its
// max and min labels and its gaps, the long/short bars per step underneath on the same time axis and
// zoom, and optionally the BTC price. Drawn on a canvas; the tooltip (liqtooltip.js) is HTML styled by
// classes only, and read out as text for screen readers.

import * as echarts from "../vendor/echarts/6.1.0/echarts.esm.min.js";
import { timeAxis } from "./axis.js";
import { formatUsd, formatWan } from "./format.js";
import { place, tooltipFormatter } from "./liqtooltip.js";
import { LANG, config, settings } from "./page.js";

const S = config.strings;
const AMBER = "#f59e0b";
const PRICE = "#3b82f6"; // the BTC price line (also its colour key in the tooltip)

/** Points for ``field`` with nulls wherever steps are missing (one per missing step, so hovering
 * anywhere in a gap finds it), and the gaps as [fromMs, toMs, seconds]. Steps are counted as the server
 * counts minutes (floor(timestamp / step)), not by distance: a record collected late in its minute is
 * still that minute's. The range's first step and the steps after the newest record count (a stopped
 * collector); the current step does not (its collection may not have run yet). */
export function withGaps(records, field, stepS, fromMs, toMs) {
  const step = stepS * 1000;
  const data = [];
  const rows = [];
  const gaps = [];
  const hole = (first, last) => {
    // Missing step indices first..last inclusive.
    if (last < first) return;
    gaps.push([first * step, last * step, (last - first + 1) * stepS]);
    const stride = Math.max(1, Math.ceil((last - first + 1) / 400));
    for (let i = first; i <= last; i += stride) {
      data.push([i * step, null]);
      rows.push(null);
    }
  };
  let next = Math.ceil(fromMs / step); // the first step index not yet accounted for
  let drawn = -Infinity; // the step after the last one drawn
  for (const record of records) {
    const index = Math.floor(record.timestamp / stepS);
    if (record.timestamp * 1000 < fromMs || index < drawn) continue; // before the axis, or a step drawn already
    hole(next, index - 1);
    drawn = index + 1;
    data.push([record.timestamp * 1000, record[field] ?? null]);
    rows.push(record);
    next = index + 1;
  }
  if (records.length) hole(next, Math.floor((toMs - 1) / step) - 1);
  return { data, rows, gaps };
}

/** Points with no neighbour on either side: a line cannot show them, so they are drawn as dots. */
export function lonePoints(data) {
  return data.filter((p, i) => p[1] !== null && (i === 0 || data[i - 1][1] === null) && (i === data.length - 1 || data[i + 1][1] === null));
}

function niceCeil(value) {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const steps = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10];
  return steps.map((s) => s * magnitude).find((v) => v >= value);
}

function pin(label, ms, value, spanFrom, spanTo, look) {
  const x = (ms - spanFrom) / Math.max(1, spanTo - spanFrom);
  return {
    name: label,
    coord: [ms, value],
    value,
    symbol: "circle",
    symbolSize: 7,
    itemStyle: { color: look.dot, borderColor: "#ffffff", borderWidth: 1 },
    label: {
      show: true,
      position: "top",
      distance: 6,
      align: x > 0.85 ? "right" : x < 0.15 ? "left" : "center",
      formatter: () => `${label} ${formatWan(value, LANG)}`,
      fontSize: 12,
      fontWeight: "bold",
      color: look.text,
      backgroundColor: look.background,
      borderColor: look.border,
      borderWidth: 1,
      borderRadius: 4,
      padding: [3, 6],
    },
  };
}

/**
 * The chart's option. view: {records, stepS, fromMs, toMs, bars (BarsCache or null), widthPx, phone}.
 * Returns {option, summary} where summary carries what the page and the tests read (points, average,
 * max, min).
 */
export function liqOption(view, c, readout) {
  const { records, stepS, fromMs, toMs, bars, phone } = view;
  const { data, rows, gaps } = withGaps(records, "hour_1_amount", stepS, fromMs, toMs);
  const values = records.map((r) => r.hour_1_amount).filter((v) => typeof v === "number");
  const average = values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
  const marks = [];
  let hi = null;
  let lo = null;
  if (values.length) {
    hi = records.reduce((a, b) => (b.hour_1_amount > a.hour_1_amount ? b : a));
    lo = records.reduce((a, b) => (b.hour_1_amount < a.hour_1_amount ? b : a));
    marks.push(pin(S.max, hi.timestamp * 1000, hi.hour_1_amount, fromMs, toMs, { dot: AMBER, text: "#1f2937", background: AMBER, border: AMBER }));
    if (lo.hour_1_amount !== hi.hour_1_amount) {
      marks.push(pin(S.min, lo.timestamp * 1000, lo.hour_1_amount, fromMs, toMs, { dot: c.muted, text: c.text, background: c.panel, border: c.border }));
    }
  }
  const hasBars = !!(bars && bars.available);
  const barsHeight = phone ? 52 : 72;
  const sliderHeight = phone ? 18 : 22;
  const bottomOfCurve = hasBars ? barsHeight + sliderHeight + 44 : sliderHeight + 36;
  const showPrice = !!settings.price;
  const grid = [{ left: 8, right: showPrice ? 8 : 16, top: 12, bottom: bottomOfCurve, containLabel: true }];
  const axisExtra = { axisPointer: { label: { show: false } } };
  const xAxis = [timeAxis(c, fromMs, toMs, view.widthPx, settings.zone, hasBars ? { ...axisExtra, axisLabel: { show: false } } : axisExtra)];
  if (hasBars) xAxis[0].axisLabel = { show: false };
  const amountLabel = { color: c.muted, fontSize: phone ? 10 : 12, formatter: (v) => formatWan(v, LANG, { compact: true }) };
  const yAxis = [
    {
      type: "value",
      min: 0,
      // Above the true maximum, with room for its label: the max label is always inside the plot.
      max: (extent) => niceCeil(extent.max * 1.2),
      axisLabel: amountLabel,
      splitLine: { lineStyle: { color: c.grid } },
    },
  ];
  const series = [
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
              lineStyle: { type: "dashed", color: c.muted, width: 1.5 },
              // At the oldest end, on a plate: the newest data (the right end) is what a trader reads.
              label: {
                position: "insideStartTop",
                color: c.text,
                backgroundColor: c.panel,
                borderRadius: 3,
                padding: [2, 4],
                opacity: 0.9,
                formatter: () => `${stepS > 60 ? S.average_of_peaks : S.average} ${formatWan(average, LANG)}`,
              },
              data: [{ name: S.average, yAxis: average }],
            },
      markPoint: { data: marks, animation: false },
      markArea: {
        silent: true,
        itemStyle: { color: c.gapShade },
        data: gaps.map(([a, b]) => [{ xAxis: a - stepS * 500 }, { xAxis: b + stepS * 500 }]),
      },
    },
    {
      // Invisible, on the missing steps only: hovering a gap finds it, and the tooltip says how long it was
      // (the curve's own nulls are left out of an axis tooltip).
      id: "gaps",
      name: S.gap,
      type: "line",
      data: data.map(([ms, v]) => [ms, v === null ? 0 : null]),
      showSymbol: false,
      connectNulls: false,
      lineStyle: { opacity: 0 },
      itemStyle: { opacity: 0 },
      silent: true,
    },
    {
      id: "lone",
      name: S.h1,
      type: "scatter",
      data: lonePoints(data),
      symbolSize: 7,
      itemStyle: { color: AMBER },
      silent: true,
      tooltip: { show: false },
    },
  ];
  if (showPrice) {
    yAxis.push({
      type: "value",
      scale: true,
      position: "right",
      axisLabel: { color: PRICE, fontSize: phone ? 10 : 11, formatter: (v) => formatUsd(v, LANG, { compact: true }) },
      splitLine: { show: false },
    });
    series.push({
      id: "price",
      name: "BTC",
      type: "line",
      yAxisIndex: 1,
      data: withGaps(
        records.map((r) => ({ timestamp: r.timestamp, btc: r.prices ? r.prices.BTC : null })),
        "btc",
        stepS,
        fromMs,
        toMs,
      ).data,
      showSymbol: false,
      connectNulls: false,
      lineStyle: { color: PRICE, width: 1.25 },
      itemStyle: { color: PRICE },
    });
  }
  if (hasBars) {
    grid.push({ left: 8, right: showPrice ? 8 : 16, height: barsHeight, bottom: sliderHeight + 28, containLabel: true });
    xAxis.push({ ...timeAxis(c, fromMs, toMs, view.widthPx, settings.zone), gridIndex: 1 });
    yAxis.push({
      type: "value",
      gridIndex: 1,
      splitNumber: 2,
      axisLabel: { color: c.muted, fontSize: 10, formatter: (v) => formatUsd(v, LANG, { compact: true }) },
      splitLine: { lineStyle: { color: c.grid } },
    });
    const barAxis = yAxis.length - 1;
    const within = (values) => values.filter(([ms]) => ms >= fromMs && ms <= toMs);
    for (const [key, colour] of [
      ["long", c.long],
      ["short", c.short],
    ]) {
      series.push({
        id: `bars-${key}`,
        name: key === "long" ? S.longs : S.shorts,
        type: "bar",
        stack: "side",
        xAxisIndex: 1,
        yAxisIndex: barAxis,
        data: within(bars.values(key)),
        itemStyle: { color: colour },
        barMaxWidth: 14,
      });
    }
  }
  const axes = xAxis.map((_, i) => i);
  const option = {
    animation: false,
    grid,
    axisPointer: { link: [{ xAxisIndex: "all" }] },
    tooltip: {
      trigger: "axis",
      renderMode: "html",
      className: "liq-tip",
      confine: true,
      transitionDuration: 0,
      position: place,
      backgroundColor: c.panel,
      borderColor: c.border,
      padding: [6, 10],
      textStyle: { color: c.text, fontSize: 12 },
      formatter: tooltipFormatter(rows, gaps, stepS, bars, readout),
    },
    xAxis,
    yAxis,
    dataZoom: [
      { type: "inside", xAxisIndex: axes, filterMode: "none" },
      {
        type: "slider",
        xAxisIndex: axes,
        height: sliderHeight,
        bottom: 6,
        filterMode: "none",
        showDetail: false,
        borderColor: c.border,
        backgroundColor: "transparent",
        fillerColor: c.zoomFill,
        dataBackground: { lineStyle: { color: c.muted, opacity: 0.5 }, areaStyle: { color: c.muted, opacity: 0.12 } },
        selectedDataBackground: { lineStyle: { color: AMBER }, areaStyle: { color: AMBER, opacity: 0.25 } },
        handleStyle: { color: c.panel, borderColor: AMBER },
        moveHandleStyle: { color: c.zoomHandle, opacity: 0.8 },
        emphasis: { handleStyle: { borderColor: AMBER }, moveHandleStyle: { color: AMBER } },
        textStyle: { color: c.muted },
      },
    ],
    series,
  };
  return {
    option,
    summary: {
      points: data.filter((p) => p[1] !== null).length,
      average,
      max: hi ? hi.hour_1_amount : null,
      min: lo ? lo.hour_1_amount : null,
      gaps: gaps.length,
    },
  };
}

