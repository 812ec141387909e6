// The headline cards and the page's states: fresh, stale, no data yet, cannot load. Visitors read one
// short sentence in their language (what is wrong, since when, what it means for the numbers); the
// operator's detail (the source's name and the error's class, never a URL or a command) waits behind a
// "details" disclosure.

import { formatAge, formatPercent, formatTime, formatWan, formatYi } from "./format.js";
import { $, LANG, config, fill, settings, venueTitle } from "./page.js";

const S = config.strings;
const FUTURE_SLACK_SECONDS = 60;

/** Why the collector failed, for a visitor: a short phrase per error class the API reports. */
function reason(errorClass) {
  const key = `why_${String(errorClass || "").replace(/[^a-z]/g, "_")}`;
  return S[key] || (String(errorClass || "").startsWith("http") ? S.why_http : S.why_other);
}

function details(run, extra) {
  const parts = [];
  if (run && run.source) parts.push(fill(S.detail_source, run.source));
  if (run && run.error_class) parts.push(fill(S.detail_error, run.error_class));
  if (run && run.time) parts.push(fill(S.detail_attempt, formatTime(run.time, settings.zone, "full")));
  if (extra) parts.push(extra);
  return parts.join(" · ");
}

function setDetails(prefix, text) {
  $(`${prefix}-details`).hidden = !text;
  $(`${prefix}-detail`).textContent = text || "";
}

export function isStale(age) {
  return age !== null && (age > config.staleSeconds || age < -FUTURE_SLACK_SECONDS);
}

function venueList(names) {
  return names.map(venueTitle).join(", ");
}

/** The cards from the newest record (null: none yet) and the panic band (null: unknown). */
export function renderCards(r, band) {
  const ge = r && r.lower_bound ? "≥" : "";
  const wan = (v) => (r ? `${ge}${formatWan(v, LANG)}` : "—");
  $("card-h1").textContent = wan(r && r.hour_1_amount);
  const hasSplit = !!r && r.hour_1_long !== undefined && r.hour_1_short !== undefined;
  $("card-h1-split").hidden = !hasSplit;
  if (hasSplit) {
    $("card-h1-long").textContent = wan(r.hour_1_long);
    $("card-h1-short").textContent = wan(r.hour_1_short);
  }
  $("card-h24").textContent = wan(r && r.hour_24_amount);
  $("card-panic").textContent = r ? formatPercent(r.panic_index) : "—";
  $("card-panic").title = r && r.panic_index !== null ? String(r.panic_index) : "";
  const badge = $("card-panic-band");
  const known = !!(band && band.band && r);
  badge.hidden = !known;
  badge.className = known ? `band band-${band.band}` : "band";
  badge.textContent = known ? fill(S.band_badge, S[`band_${band.band}`], Math.round(band.percentile)) : "";
  badge.title = known ? fill(S.band_title, band.percentile) : "";
  $("card-oi").textContent = r ? formatYi(r.total_position, LANG) : "—";
  $("card-source").textContent = r && r.source ? fill(S.source, r.source) : "";
  renderCoverage(r);
}

function renderCoverage(r) {
  const coverage = r && r.coverage;
  const partial =
    !!r &&
    (r.lower_bound === true ||
      (!!coverage &&
        (coverage.hour_1_complete === false || coverage.hour_24_complete === false || (Array.isArray(coverage.missing) && coverage.missing.length > 0))));
  $("lower-bound-note").hidden = !partial;
  $("liq-lower-bound").hidden = !(r && r.lower_bound);
  const detail = [];
  if (coverage && Array.isArray(coverage.venues)) {
    if (coverage.venues.length) detail.push(fill(S.counted, venueList(coverage.venues)));
    if (coverage.missing && coverage.missing.length) detail.push(fill(S.not_counted, venueList(coverage.missing)));
    const suspect = coverage.suspect && typeof coverage.suspect === "object" ? Object.keys(coverage.suspect) : [];
    if (suspect.length) detail.push(fill(S.suspect, venueList(suspect)));
    detail.push(fill(S.complete_since, coverage.hour_1_complete ? S.yes : S.no));
  }
  $("coverage-detail").textContent = detail.join(" ");
}

/** Every second: the age on the card, the stale badge and the panel's [live] / [stale] mark. */
export function renderAge(age) {
  $("card-updated").textContent = age === null ? "—" : formatAge(age, S);
  const stale = isStale(age);
  $("stale-badge").hidden = !stale;
  const live = $("live-mark");
  live.textContent = `[${stale ? S.stale_mark : S.live}]`;
  live.classList.toggle("is-stale", stale);
}

/** The panel's state note under its title: stale data (and why, when the collector said). */
export function renderStateNote(latest, age, run) {
  const note = $("liq-state");
  if (!latest || !isStale(age)) {
    note.hidden = true;
    return;
  }
  note.hidden = false;
  const since = formatTime(latest.timestamp, settings.zone, "minute");
  const why = run && run.error_class ? reason(run.error_class) : S.why_unknown;
  $("liq-state-text").textContent = age < 0 ? fill(S.state_future, since) : fill(S.state_stale, since, why);
  setDetails("liq-state", details(run));
}

/** The panel's overlay: null hides it; "empty" (no record at all), "empty-range" (none in the chosen
 * range) or "error" (could not load). */
export function renderOverlay(kind, run, error) {
  const box = $("liq-empty");
  box.hidden = kind === null;
  if (kind === null) return;
  if (kind === "error") {
    $("liq-empty-title").textContent = S.load_error_title;
    $("liq-empty-hint").textContent = S.load_error;
    setDetails("liq-empty", fill(S.detail_error, (error && error.name) || "error"));
    return;
  }
  if (kind === "empty-range") {
    $("liq-empty-title").textContent = S.empty_range;
    $("liq-empty-hint").textContent = S.empty_range_hint;
    setDetails("liq-empty", "");
    return;
  }
  $("liq-empty-title").textContent = S.empty_title;
  if (run && run.error_class) {
    const since = run.last_success || run.time;
    const sentence = run.last_success ? S.empty_failing_since : S.empty_failing;
    $("liq-empty-hint").textContent = fill(sentence, formatTime(since, settings.zone, "minute"), reason(run.error_class));
    setDetails("liq-empty", details(run));
  } else {
    $("liq-empty-hint").textContent = S.empty_hint;
    setDetails("liq-empty", run ? details(run) : "");
  }
}

/** A smaller chart's own empty state. */
export function renderChartEmpty(id, isEmpty) {
  $(id).hidden = !isEmpty;
}
