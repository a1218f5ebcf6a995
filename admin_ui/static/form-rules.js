// As the user edits, ask the server which fields of the form show and which are required
// (POST .../form-state): the engine's own rule compiler decides, so the browser never runs
// a second rule engine that could disagree with the one that validates the record.
(function () {
  "use strict";
  const form = document.querySelector("form[data-state-url]");
  if (!form) return;
  let timer = null;
  let asked = 0;

  async function refresh() {
    const mine = ++asked;
    const body = new URLSearchParams(new FormData(form));
    const response = await fetch(form.dataset.stateUrl, {
      method: "POST", body: body, credentials: "same-origin",
    });
    if (!response.ok || mine !== asked) return; // a newer answer is on its way
    const state = await response.json();
    for (const [name, field] of Object.entries(state.fields)) {
      const box = form.querySelector('[data-field="' + CSS.escape(name) + '"]');
      if (!box) continue;
      box.hidden = !field.visible;
      const mark = box.querySelector("[data-required]");
      if (mark) mark.hidden = !field.required;
    }
    for (const [name, visible] of Object.entries(state.sections)) {
      const section = form.querySelector('[data-section="' + CSS.escape(name) + '"]');
      if (section) section.hidden = !visible;
    }
    form.dataset.stateVersion = String(mine);
  }

  function soon(delay) {
    clearTimeout(timer);
    timer = setTimeout(refresh, delay);
  }
  form.addEventListener("change", function () { soon(0); });
  form.addEventListener("input", function () { soon(300); });
})();
