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
  // The page's action buttons post their own forms, so edits not yet saved would be
  // silently ignored by them: ask before acting on the saved setup instead.
  function guardUnsavedChanges() {
    const setupForm = document.getElementById("exchangesyncsetup_form");
    if (!setupForm) return;
    let dirty = false;
    const markDirty = () => (dirty = true);
    setupForm.addEventListener("input", markDirty);
    setupForm.addEventListener("change", markDirty);
    ["validate-form", "sync-form", "full-sync-form", "job-queue-form"].forEach((id) => {
      const form = document.getElementById(id);
      if (!form) return;
      form.addEventListener("submit", (event) => {
        const message =
          "Your changes to this setup are not saved yet, and this uses the saved setup. " +
          "Press Cancel, then Save, to use your changes; or OK to go on without them.";
        if (dirty && !window.confirm(message)) event.preventDefault();
      });
    });
  }
  function startAll() {
    start();
    guardUnsavedChanges();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startAll);
  else startAll();
})();
