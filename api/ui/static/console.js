// CreditAnchor console: what every page does once loaded. Plain JavaScript, no library.
// Pages read fine without it; it only shows UTC times in the reader's locale.
"use strict";

(function () {
  function localTimes(root) {
    for (const node of root.querySelectorAll("time[datetime]")) {
      const moment = new Date(node.getAttribute("datetime"));
      if (!Number.isNaN(moment.getTime())) {
        node.textContent = moment.toLocaleString(document.documentElement.lang || undefined);
      }
    }
  }
  window.consoleLocalTimes = localTimes;
  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
  });
})();
