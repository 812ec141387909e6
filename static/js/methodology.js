// The /methodology page: the top bar's theme toggle (the page has no chart and shows no times; its time-zone
// switch is hidden by methodology.css). theme.js has already applied the remembered or system theme.
const KEY = "liqsite-theme";

const button = document.getElementById("theme-toggle");
if (button) {
  button.addEventListener("click", () => {
    const dark = document.documentElement.getAttribute("data-theme") !== "dark";
    document.documentElement.setAttribute("data-theme", dark ? "dark" : "light");
    try {
      window.localStorage.setItem(KEY, dark ? "dark" : "light");
    } catch (e) {
      // Storage refused (private mode): the choice lasts until the page is left.
    }
  });
}
