// Sync run page: poll the run's progress while it is queued or running; reload when done.
(function () {
  "use strict";
  function start() {
    const bar = document.getElementById("es-run-progress");
    if (!bar || bar.dataset.finished === "true") return;
    const text = document.getElementById("es-run-progress-text");
    const status = document.getElementById("es-run-status");
    function poll() {
      fetch(bar.dataset.url, { headers: { Accept: "application/json" } })
        .then((response) => response.json())
        .then((data) => {
          bar.max = Math.max(data.total, 1);
          bar.value = data.done;
          text.textContent = data.done + " / " + data.total;
          status.textContent = data.status_display;
          if (data.is_finished) window.location.reload();
          else setTimeout(poll, 1500);
        })
        .catch(() => setTimeout(poll, 5000));
    }
    setTimeout(poll, 1000);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
