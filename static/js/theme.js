// Applies the remembered theme (or the system's) before the page paints. Loaded as a file because the
// Content-Security-Policy allows no inline script.
(function () {
  var stored = null;
  try {
    stored = window.localStorage.getItem("liqsite-theme");
  } catch (e) {
    stored = null;
  }
  var dark = stored ? stored === "dark" : window.matchMedia("(prefers-color-scheme: dark)").matches;
  document.documentElement.setAttribute("data-theme", dark ? "dark" : "light");
})();
