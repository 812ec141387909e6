// What every module of the /panic page shares: the config from the page's json_script block, the
// reader's settings (time zone, theme; the language is the server's), the query-string state that
// makes a view shareable, events between modules, the server's clock and the theme's colours.
// Modules never reach into each other: they listen for "liqsite:*" events on the document.

export const config = JSON.parse(document.getElementById("panic-config").textContent);
export const LANG = config.lang;
export const $ = (id) => document.getElementById(id);

/** localStorage that tolerates private mode (the choice then lasts for this page only). */
export function load(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

export function save(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    /* private mode */
  }
}

// -- shareable state: the query string wins over what this browser remembered ------------------------

const query = new URLSearchParams(window.location.search);

/** The query-string value of ``name`` if it is one of ``allowed`` (a function or a list), else null. */
export function param(name, allowed) {
  const value = query.get(name);
  if (value === null) return null;
  const ok = typeof allowed === "function" ? allowed(value) : allowed.includes(value);
  return ok ? value : null;
}

/** Put ``values`` into the address bar (null removes one) without reloading or adding history. */
export function setParams(values) {
  const url = new URL(window.location.href);
  for (const [name, value] of Object.entries(values)) {
    if (value === null || value === undefined || value === "") url.searchParams.delete(name);
    else url.searchParams.set(name, String(value));
  }
  window.history.replaceState(window.history.state, "", url);
}

// -- events between modules ----------------------------------------------------------------------------

/** Listen for "liqsite:<name>": "refresh" (each minute's data is in; detail: {latest}), "theme"
 * (detail: {dark}) and "zone" (detail: {zone}). */
export function on(name, handler) {
  document.addEventListener(`liqsite:${name}`, (event) => handler(event.detail));
}

export function emit(name, detail) {
  document.dispatchEvent(new CustomEvent(`liqsite:${name}`, { detail }));
}

// -- settings and clock -------------------------------------------------------------------------------

export const settings = {
  zone: param("zone", ["beijing", "local"]) || (load("liqsite-zone") === "local" ? "local" : "beijing"),
  // The server's clock minus the browser's: first from the time the page was rendered (so the very first
  // request is already on the server's clock), then from each answer's Date header.
  clockOffsetMs: config.serverTimeMs ? config.serverTimeMs - Date.now() : 0,
};

/** Now by the server's clock, in milliseconds (a browser clock a day off must not shift windows). */
export function serverNowMs() {
  return Date.now() + settings.clockOffsetMs;
}

export function noteServerDate(response) {
  const serverNow = Date.parse(response.headers.get("Date") || "");
  if (serverNow) settings.clockOffsetMs = serverNow - Date.now();
}

export function isDark() {
  return document.documentElement.getAttribute("data-theme") === "dark";
}

// -- data and presentation helpers ---------------------------------------------------------------------

/** GET a same-origin JSON answer; throws an Error whose name is a short class ("http-503", "network"). */
export async function getJSON(url, options = {}) {
  let response;
  try {
    response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", ...options });
  } catch (error) {
    const e = new Error("network");
    e.name = "network";
    throw e;
  }
  if (!response.ok) {
    const e = new Error(`http-${response.status}`);
    e.name = `http-${response.status}`;
    throw e;
  }
  return { body: await response.json(), response };
}

export function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** The theme's colours for charts (CSS custom properties of panic.css). */
export function themeColors() {
  return {
    text: css("--text"),
    muted: css("--muted"),
    grid: css("--grid"),
    panel: css("--panel"),
    border: css("--border"),
    long: css("--long"),
    short: css("--short"),
    accent: css("--accent"),
    gapShade: css("--gap-shade"),
    zoomFill: css("--zoom-fill"),
    zoomHandle: css("--zoom-handle"),
    panicShade: css("--panic-shade"),
    elevatedShade: css("--elevated-shade"),
  };
}

/** A venue by its proper name ("OKX", not "okx"), from the server's venue registry. */
export function venueTitle(name) {
  return (config.venueTitles && config.venueTitles[name]) || name;
}

/** "%s" placeholders filled in order. */
export function fill(template, ...values) {
  let i = 0;
  return template.replace(/%s/g, () => String(values[i++] ?? ""));
}
