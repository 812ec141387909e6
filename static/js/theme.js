// Applies the theme before the page paints: a shared link's ?theme= first, then the remembered choice,
// then the system's. Loaded as a file because the Content-Security-Policy allows no inline script.
(function () {
  var stored = null;
  var asked = new URLSearchParams(window.location.search).get("theme");
  try {
    stored = window.localStorage.getItem("liqsite-theme");
  } catch (e) {
    stored = null;
  }
  if (asked === "dark" || asked === "light") stored = asked;
  var dark = stored ? stored === "dark" : window.matchMedia("(prefers-color-scheme: dark)").matches;
  document.documentElement.setAttribute("data-theme", dark ? "dark" : "light");
})();
