// Sync run page: poll the run's progress while it is queued or running; reload when done.
// After a few failed polls in a row (session expired, run gone, server down) stop and say
// so on the page instead of retrying forever.
(function () {
  "use strict";
  const MAX_FAILURES = 3;
  function start() {
    const bar = document.getElementById("es-run-progress");
    if (!bar || bar.dataset.finished === "true") return;
    const text = document.getElementById("es-run-progress-text");
    const status = document.getElementById("es-run-status");
    const problem = document.getElementById("es-run-progress-error");
    let failures = 0;
    function fail() {
      failures += 1;
      if (failures < MAX_FAILURES) {
        setTimeout(poll, 5000);
      } else if (problem) {
        problem.hidden = false;
      }
    }
    function poll() {
      fetch(bar.dataset.url, { headers: { Accept: "application/json" }, redirect: "error" })
        .then((response) => {
          // A 404, 403 or 500, or the login page after the session expired, is no progress.
          const type = response.headers.get("content-type") || "";
          if (!response.ok || !type.includes("application/json")) throw new Error(response.status);
          return response.json();
        })
        .then((data) => {
          failures = 0;
          bar.max = Math.max(data.total, 1);
          bar.value = data.done;
          text.textContent = data.done + " / " + data.total;
          status.textContent = data.status_display;
          if (data.is_finished) window.location.reload();
          else setTimeout(poll, 1500);
        })
        .catch(fail);
    }
    setTimeout(poll, 1000);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
