// Ledgerdesk's only script besides htmx: small behaviours the pages ask
// for with data attributes, as the CSP allows no inline script.

// The CSRF token from the page's <meta> tag goes with every htmx request.
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

// The phone menu: its button's aria-expanded opens and closes the
// navigation (the CSS shows the menu from it); Escape closes it.
document.addEventListener("click", function (evt) {
  var toggle = evt.target.closest("[data-nav-toggle]");
  if (!toggle) return;
  toggle.setAttribute("aria-expanded", toggle.getAttribute("aria-expanded") === "true" ? "false" : "true");
});
document.addEventListener("keydown", function (evt) {
  var toggle = document.querySelector('[data-nav-toggle][aria-expanded="true"]');
  if (evt.key !== "Escape" || !toggle) return;
  var menu = document.getElementById(toggle.getAttribute("aria-controls"));
  if (document.activeElement === toggle || (menu && menu.contains(document.activeElement))) {
    toggle.setAttribute("aria-expanded", "false");
    toggle.focus();
  }
});

// Confirmation dialogs: data-dialog-open="#id" opens that <dialog> instead
// of submitting (or following the link); the confirming button inside
// submits the form around it, data-dialog-close cancels, as does Escape.
// Without this script the opener acts directly.
var dialogOpeners = new WeakMap();
document.addEventListener("click", function (evt) {
  var opener = evt.target.closest("[data-dialog-open]");
  if (opener) {
    var dialog = document.querySelector(opener.getAttribute("data-dialog-open"));
    if (!dialog || typeof dialog.showModal !== "function") return;
    evt.preventDefault();
    dialogOpeners.set(dialog, opener);
    dialog.showModal();
    return;
  }
  var closer = evt.target.closest("[data-dialog-close]");
  if (closer && closer.closest("dialog")) closer.closest("dialog").close();
});
// Focus goes back to the opener however the dialog closed, unless an htmx
// swap took the opener away.
document.addEventListener("close", function (evt) {
  var opener = dialogOpeners.get(evt.target);
  if (opener && opener.isConnected) opener.focus();
}, true);
// Confirming closes the dialog as the form goes: htmx may answer into
// another part of the page and leave the form where it is.
document.addEventListener("submit", function (evt) {
  var dialog = evt.submitter && evt.submitter.closest("dialog[open]");
  if (dialog) dialog.close();
});

// Batch selection on the users list: the header box ticks every row of
// the page, the count says how many are ticked, and ticking a row points
// the form back at the selected users.
function batchBoxes() {
  return document.querySelectorAll('input[name="ids"][form="user-batch"]');
}
function updateBatch() {
  var boxes = batchBoxes();
  var ticked = 0;
  boxes.forEach(function (b) { if (b.checked) ticked++; });
  var all = document.querySelector("[data-select-page]");
  if (all) {
    all.checked = boxes.length > 0 && ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
  }
  var count = document.querySelector("[data-batch-count]");
  if (count) count.textContent = ticked === 0 ? "" : ticked + " selected";
  var scope = document.getElementById("batch-scope");
  if (scope && ticked > 0) scope.value = "selected";
}
document.addEventListener("change", function (evt) {
  var t = evt.target;
  if (t.matches("[data-select-page]")) {
    batchBoxes().forEach(function (b) { b.checked = t.checked; });
    updateBatch();
  } else if (t.matches('input[name="ids"][form="user-batch"]')) {
    updateBatch();
  }
});
document.addEventListener("htmx:afterSettle", updateBatch);
document.addEventListener("DOMContentLoaded", updateBatch);

// The browser's time zone goes to the server in a cookie, for pages to
// show times in until the member chooses a zone on their account page.
(function () {
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone || !/^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone)) return;
  if (document.cookie.split("; ").indexOf("ld_tz=" + zone) >= 0) return;
  document.cookie = "ld_tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax" +
    (location.protocol === "https:" ? "; Secure" : "");
})();

// After a form's answer is swapped in, the focus goes where the answer is:
// to the first field it refused, or, when the focus went away with the old
// form, to the answer itself (given tabindex="-1" to hold it). Searches and
// filters (GET) leave the focus in their box, and a focus the answer did
// not take away (a dialog's opener, an autofocus) stays. This runs after
// settling, when htmx has applied any autofocus.
var outOfBand = new WeakSet();
var focusDone = new WeakSet();
document.addEventListener("htmx:oobAfterSwap", function (evt) {
  outOfBand.add(evt.target);
});
document.addEventListener("htmx:afterSettle", function (evt) {
  var d = evt.detail;
  var region = evt.target;
  if (!(region instanceof Element) || !region.isConnected || outOfBand.has(region)) return;
  if (!d || !d.xhr || !d.requestConfig || d.requestConfig.verb === "get" || focusDone.has(d.xhr)) return;
  var invalid = region.matches('[aria-invalid="true"]') ? region : region.querySelector('[aria-invalid="true"]');
  var active = document.activeElement;
  if (invalid) {
    invalid.focus();
  } else if (!active || active === document.body || !active.isConnected) {
    if (!region.hasAttribute("tabindex")) region.setAttribute("tabindex", "-1");
    region.focus();
  } else {
    return;
  }
  focusDone.add(d.xhr);
});

// Flash messages are in a status region, whose changes screen readers
// announce; a page that arrives with messages (after a form's redirect)
// has not changed it, so they are put in again once the page has loaded.
// The region keeps its height meanwhile, so nothing below it jumps.
document.addEventListener("DOMContentLoaded", function () {
  var region = document.getElementById("flash");
  if (!region || !region.firstElementChild) return;
  var messages = Array.prototype.slice.call(region.childNodes);
  region.style.minHeight = region.offsetHeight + "px";
  region.replaceChildren();
  setTimeout(function () {
    region.replaceChildren.apply(region, messages);
    region.style.minHeight = "";
  }, 150);
});
