// Ledgerdesk's only script besides htmx: it sends the CSRF token from the
// page's <meta> tag with every htmx request.
document.addEventListener("htmx:configRequest", function (evt) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.content) {
    evt.detail.headers["X-CSRF-Token"] = meta.content;
  }
});

// "/" focuses the page's search box; Escape leaves it.
document.addEventListener("keydown", function (evt) {
  var search = document.querySelector("[data-search]");
  if (!search) return;
  var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
  if (evt.key === "/" && !typing) {
    evt.preventDefault();
    search.focus();
    search.select();
  } else if (evt.key === "Escape" && document.activeElement === search) {
    search.blur();
  }
});

// Copy buttons: data-copy names the input whose value to copy.
document.addEventListener("click", function (evt) {
  var btn = evt.target.closest("[data-copy]");
  if (!btn) return;
  var input = document.querySelector(btn.getAttribute("data-copy"));
  if (!input) return;
  input.select();
  var done = function () { btn.textContent = "Copied"; };
  if (navigator.clipboard) {
    navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
  } else {
    document.execCommand("copy");
    done();
  }
});
