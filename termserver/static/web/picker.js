// Live typeahead for the search page: the search box becomes an ARIA 1.2 combobox with a listbox of codes from
// ValueSet/$expand (the FHIR API's own search engine). Without JavaScript the form still works (server results).
(function () {
  "use strict";
  var form = document.getElementById("search-form");
  if (!form || !window.fetch) { return; }
  var input = document.getElementById("q");
  var list = document.getElementById("suggestions");
  var select = document.getElementById("system");
  var status = document.getElementById("search-status");
  var fhirBase = form.getAttribute("data-fhir-base");
  var codeBase = form.getAttribute("data-code-base");
  var MIN_LENGTH = 2, COUNT = 10, DELAY_MS = 60;
  var MATCH_EXTENSION = "https://termserver.dk/fhir/StructureDefinition/search-match";
  var items = [], active = -1, timer = 0, controller = null, latest = 0;

  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", list.id);
  var problem = document.createElement("p");
  problem.className = "error";
  problem.hidden = true;
  list.parentNode.appendChild(problem);

  function systemUrl() { return select.options[select.selectedIndex].getAttribute("data-url"); }

  function codeHref(code) {
    return codeBase + encodeURIComponent(select.value) + "/" + encodeURIComponent(code);
  }

  function matchedTerm(entry) {
    var extensions = entry.extension || [];
    for (var i = 0; i < extensions.length; i++) {
      if (extensions[i].url !== MATCH_EXTENSION) { continue; }
      var parts = extensions[i].extension || [];
      for (var j = 0; j < parts.length; j++) {
        if (parts[j].url === "term") { return parts[j].valueString; }
      }
    }
    return null;
  }

  function open() {
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    setActive(-1);
  }

  function setActive(index) {
    var options = list.children;
    if (active >= 0 && options[active]) { options[active].setAttribute("aria-selected", "false"); }
    active = index;
    if (active >= 0 && options[active]) {
      options[active].setAttribute("aria-selected", "true");
      input.setAttribute("aria-activedescendant", options[active].id);
      options[active].scrollIntoView({block: "nearest"});
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function span(className, text) {
    var element = document.createElement("span");
    element.className = className;
    element.textContent = text;
    return element;
  }

  function render(entries) {
    list.textContent = "";
    items = entries.map(function (entry, index) {
      var option = document.createElement("li");
      option.id = "suggestion-" + index;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.appendChild(span("code", entry.code));
      option.appendChild(span("title", entry.display || ""));
      var term = matchedTerm(entry);
      if (term && term !== entry.display && term.toUpperCase() !== entry.code.toUpperCase()) {
        option.appendChild(span("matched", "fundet via »" + term + "«"));
      }
      if (entry.inactive) { option.appendChild(span("badge", "inaktiv")); }
      var href = codeHref(entry.code);
      option.addEventListener("mousedown", function (event) { event.preventDefault(); });
      option.addEventListener("click", function () { window.location.href = href; });
      list.appendChild(option);
      return {code: entry.code, href: href};
    });
    active = -1;
    input.removeAttribute("aria-activedescendant");
    if (items.length) {
      open();
      status.textContent = items.length + " forslag. Brug pil op og pil ned til at vælge og Enter til at åbne.";
    } else {
      close();
      status.textContent = "Ingen forslag.";
    }
  }

  function search() {
    var query = input.value.trim();
    if (controller) { controller.abort(); }
    if (query.length < MIN_LENGTH) { close(); list.textContent = ""; items = []; return; }
    controller = typeof AbortController === "function" ? new AbortController() : null;
    var asked = ++latest;
    var url = fhirBase + "/ValueSet/$expand?url=" + encodeURIComponent(systemUrl() + "?fhir_vs") +
      "&filter=" + encodeURIComponent(query) + "&count=" + COUNT + "&displayLanguage=da";
    fetch(url, {headers: {"Accept": "application/fhir+json"}, signal: controller ? controller.signal : undefined})
      .then(function (response) {
        return response.json().then(function (body) { return {ok: response.ok, body: body}; });
      })
      .then(function (answer) {
        if (asked !== latest) { return; }  // a later keystroke has its own answer coming
        if (!answer.ok) {
          var issue = (answer.body.issue || [])[0] || {};
          throw new Error((issue.details && issue.details.text) || issue.diagnostics || "ukendt fejl");
        }
        problem.hidden = true;
        list.setAttribute("data-for", query);  // which text the list answers (bench/web.py times it)
        render((answer.body.expansion && answer.body.expansion.contains) || []);
      })
      .catch(function (error) {
        if (error.name === "AbortError" || asked !== latest) { return; }
        close();
        problem.textContent = "Søgningen fejlede: " + error.message;
        problem.hidden = false;
      });
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(search, DELAY_MS);
  });
  select.addEventListener("change", function () { if (input.value.trim()) { search(); } });
  input.addEventListener("keydown", function (event) {
    var expanded = !list.hidden && items.length > 0;
    switch (event.key) {
      case "ArrowDown":
        event.preventDefault();
        if (!expanded) { if (items.length) { open(); setActive(0); } else { search(); } return; }
        setActive(active + 1 < items.length ? active + 1 : 0);
        return;
      case "ArrowUp":
        event.preventDefault();
        if (!expanded) { if (items.length) { open(); setActive(items.length - 1); } return; }
        setActive(active > 0 ? active - 1 : items.length - 1);
        return;
      case "Enter":
        if (expanded && active >= 0) {
          event.preventDefault();
          window.location.href = items[active].href;
        }
        return;  // no option chosen: the form is sent, and the server lists its results
      case "Escape":
        event.preventDefault();
        if (expanded) { close(); } else { input.value = ""; items = []; list.textContent = ""; }
        return;
      case "Tab":
        close();
        return;
      default:
        return;
    }
  });
  input.addEventListener("blur", close);
  input.addEventListener("focus", function () { if (items.length) { open(); } });
})();
