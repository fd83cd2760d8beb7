// Passkeys (WebAuthn): adds one on the account page and signs in with one
// on the sign-in pages. The portal sends the options as the JSON the
// server library writes (binary values in base64url) and takes the
// browser's PublicKeyCredential back as JSON. No inline script: the
// pages mark what this acts on with data attributes.
(function () {
  "use strict";

  function supported() {
    return !!(window.PublicKeyCredential && navigator.credentials && navigator.credentials.create);
  }

  function toBytes(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toB64url(buf) {
    if (!buf) return undefined;
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: toBytes(c.id) }); });
  }

  function creationOptions(json) {
    var pk = Object.assign({}, json.publicKey);
    pk.challenge = toBytes(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: toBytes(pk.user.id) });
    pk.excludeCredentials = withIds(pk.excludeCredentials);
    return { publicKey: pk };
  }

  function requestOptions(json) {
    var pk = Object.assign({}, json.publicKey);
    pk.challenge = toBytes(pk.challenge);
    if (pk.allowCredentials) pk.allowCredentials = withIds(pk.allowCredentials);
    return { publicKey: pk };
  }

  function credentialJSON(cred) {
    var r = cred.response, out = {
      id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toB64url(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toB64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = toB64url(r.authenticatorData);
      out.response.signature = toB64url(r.signature);
      out.response.userHandle = toB64url(r.userHandle);
    }
    return out;
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // post sends body (FormData or an object as JSON) and resolves with the
  // JSON answer; a refusal rejects with it, so its message can be shown.
  function post(url, body) {
    var headers = { "X-CSRF-Token": csrfToken(), "Accept": "application/json" };
    if (!(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(body || {});
    }
    return fetch(url, { method: "POST", headers: headers, body: body, credentials: "same-origin" }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) {
          data.error = data.error || "The portal could not take that (" + res.status + "). Reload the page and try again.";
          throw data;
        }
        return data;
      });
    });
  }

  // explain turns what went wrong into a sentence for the page.
  function explain(err) {
    if (err && err.name === "NotAllowedError") {
      return "The passkey request was cancelled or timed out. Nothing was changed: try again when you are ready.";
    }
    if (err && err.name === "InvalidStateError") {
      return "This authenticator already holds a passkey for your account.";
    }
    if (err && err.name === "SecurityError") {
      return "This browser refused passkeys for this address: open the portal at its usual address.";
    }
    if (err && typeof err.error === "string") return err.error;
    return "Something went wrong with the passkey. Try again.";
  }

  function showError(box, msg) {
    if (!box) return;
    box.textContent = msg;
    box.classList.remove("hidden");
  }

  function clearErrors(scope) {
    scope.querySelectorAll("[data-passkey-field-error]").forEach(function (el) { el.textContent = ""; });
    scope.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    var box = scope.querySelector("[data-passkey-error]");
    if (box) { box.textContent = ""; box.classList.add("hidden"); }
  }

  // go opens url; on the same page (only the #fragment differs) it loads
  // the page again, so the new state shows.
  function go(url) {
    var u = new URL(url, window.location.href);
    if (u.pathname === window.location.pathname && u.search === window.location.search) {
      window.location.hash = u.hash;
      window.location.reload();
    } else {
      window.location.assign(u.href);
    }
  }

  var noWebAuthn = "This browser cannot use passkeys. Use another browser, or sign in another way.";

  // Adding a passkey: name and password first, then the authenticator.
  document.addEventListener("submit", function (evt) {
    var form = evt.target.closest("form[data-passkey-register]");
    if (!form) return;
    evt.preventDefault();
    clearErrors(form);
    var box = form.querySelector("[data-passkey-error]");
    if (!supported()) { showError(box, noWebAuthn); return; }
    var button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    post(form.getAttribute("action"), new FormData(form)).then(function (options) {
      return navigator.credentials.create(creationOptions(options));
    }).then(function (cred) {
      return post("/account/passkeys", credentialJSON(cred));
    }).then(function (done) {
      go(done.redirect || "/account");
    }).catch(function (err) {
      button.disabled = false;
      var fields = (err && err.fields) || {}, first = null;
      Object.keys(fields).forEach(function (name) {
        var msg = form.querySelector('[data-passkey-field-error="' + name + '"]');
        var input = form.querySelector('[name="' + name + '"]');
        if (msg) msg.textContent = fields[name];
        if (input) { input.setAttribute("aria-invalid", "true"); first = first || input; }
      });
      if (first) { first.focus(); } else { showError(box, explain(err)); }
      var pw = form.querySelector('input[name="password"]');
      if (pw) pw.value = "";
    });
  });

  // Signing in: data-passkey-signin is the endpoint (its options at
  // /options); data-next where to go after.
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest("[data-passkey-signin]");
    if (!button) return;
    var scope = button.parentElement;
    clearErrors(scope);
    var box = scope.querySelector("[data-passkey-error]");
    if (!supported()) { showError(box, noWebAuthn); return; }
    var url = button.getAttribute("data-passkey-signin");
    var next = button.getAttribute("data-next") || "";
    button.disabled = true;
    post(url + "/options").then(function (options) {
      return navigator.credentials.get(requestOptions(options));
    }).then(function (cred) {
      return post(url + (next ? "?next=" + encodeURIComponent(next) : ""), credentialJSON(cred));
    }).then(function (done) {
      go(done.redirect || "/");
    }).catch(function (err) {
      button.disabled = false;
      showError(box, explain(err));
      button.focus();
    });
  });
})();
