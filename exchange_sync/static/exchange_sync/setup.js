// Contact Sync. Setup: refresh the filter preview as the filter boxes change (debounced).
(function () {
  "use strict";
  function start() {
    const preview = document.getElementById("es-scope-preview");
    if (!preview) return;
    const inputs = Array.from(document.querySelectorAll("[data-contact-filter]"));
    let timer = null;
    let latest = 0;
    function refresh() {
      const params = new URLSearchParams();
      inputs.forEach((input) => params.set(input.name, input.value));
      const ticket = ++latest;
      fetch(preview.dataset.url + "?" + params.toString(), { headers: { Accept: "application/json" } })
        .then((response) => response.json())
        .then((data) => {
          if (ticket !== latest) return; // an older answer arriving late
          preview.textContent = data.error ? data.error : data.text;
          preview.classList.toggle("es-attention", Boolean(data.error));
        })
        .catch(() => {
          preview.textContent = "The preview could not be loaded; it updates when you save.";
        });
    }
    inputs.forEach((input) =>
      input.addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(refresh, 300);
      })
    );
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
