// Sharing what is on screen: a link that opens the same view (range, language, time zone, theme and the
// depth panels' filters live in the query string), the shown range as CSV or JSON (the API's own
// exports), and the chart as a PNG.

import { $, LANG, config, fill, isDark, settings } from "./page.js";

const S = config.strings;

/** The address of this view, with every setting spelled out (language included). */
export function shareUrl() {
  const url = new URL(window.location.href);
  url.hash = "";
  url.searchParams.set("lang", LANG === "en" ? "en" : "zh-hans");
  url.searchParams.set("zone", settings.zone);
  url.searchParams.set("theme", isDark() ? "dark" : "light");
  url.searchParams.set("range", settings.range);
  url.searchParams.set("price", settings.price ? "btc" : "off");
  return url.toString();
}

/** Point the export links at the shown range: [fromMs, toMs] at ``interval`` (bucket maxima beyond 1m). */
export function updateExports(fromMs, toMs, interval, stepS) {
  const start = Math.floor(fromMs / 1000);
  const end = Math.floor(toMs / 1000) + 59;
  const base = { start_time: String(start), end_time: String(end), interval };
  if (interval !== "1m") base.agg = "max";
  const limit = String(Math.min(43200, Math.ceil((end - start) / stepS) + 2));
  $("export-csv").href = `${config.urls.exportCsv}?${new URLSearchParams({ ...base, limit })}`;
  $("export-json").href = `${config.urls.history}?${new URLSearchParams({ ...base, limit, format: "json" })}`;
}

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false; // no permission (or no secure context): the link is shown to copy by hand
  }
}

/** Wire the share buttons. ``chart()`` returns the 1h chart's ECharts instance. */
export function setupShare(chart) {
  const status = $("share-status");
  const field = $("share-url");
  $("copy-link").addEventListener("click", async () => {
    const url = shareUrl();
    const copied = await copy(url);
    field.value = url;
    field.hidden = copied;
    if (!copied) field.select();
    status.textContent = copied ? S.link_copied : S.link_select;
    window.setTimeout(() => {
      status.textContent = "";
    }, 4000);
  });
  $("export-png").addEventListener("click", () => {
    const instance = chart();
    if (!instance) return;
    const background = getComputedStyle(document.documentElement).getPropertyValue("--panel").trim();
    const a = document.createElement("a");
    a.href = instance.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: background });
    a.download = fill(S.png_name, new Date().toISOString().slice(0, 16).replace(/[:T]/g, "-"));
    document.body.appendChild(a);
    a.click();
    a.remove();
  });
}
