// Progressive enhancement of a form: a lookup's list gets a search box that asks the
// server for the records whose title starts with what is typed (only those the user may
// read: the server decides), and after an edit conflict "use theirs" puts the other
// person's value back into its box. Without JavaScript the form works as it is.
(function () {
  "use strict";
  for (const search of document.querySelectorAll("input[data-lookup-url]")) {
    const select = document.getElementById(search.getAttribute("aria-controls"));
    if (!select) continue;
    search.hidden = false;
    let timer = null;
    let asked = 0;
    async function find() {
      const mine = ++asked;
      const url = search.dataset.lookupUrl + "?q=" + encodeURIComponent(search.value.trim());
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok || mine !== asked) return;
      const found = await response.json();
      const chosen = select.value;
      const keep = Array.from(select.options).filter(function (o) {
        return o.value === "" || o.value === chosen;
      });
      select.replaceChildren.apply(select, keep);
      for (const hit of found) {
        if (hit.id === chosen) continue;
        select.add(new Option(hit.title, hit.id)); // text, never markup
      }
      select.dataset.searched = search.value;
      if (found.length && !chosen) select.value = found[0].id;
    }
    search.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(find, 250);
    });
  }
  for (const button of document.querySelectorAll("button.take-theirs")) {
    const box = document.getElementById(button.dataset.target);
    if (!box) continue;
    button.hidden = false;
    button.addEventListener("click", function () {
      box.value = button.dataset.value;
      box.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }
})();
