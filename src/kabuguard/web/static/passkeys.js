// Passkeys on the customer site: add one (security page), log in with one (login
// page, no login ID), and confirm an action with one (step-up page), then re-submit
// the form the guard stopped. WebAuthn Level 3 JSON helpers do the encoding:
// PublicKeyCredential.parseCreationOptionsFromJSON / parseRequestOptionsFromJSON and
// credential.toJSON(). Every call sends its CSRF token in the X-CSRF-Token header.
// The Content-Security-Policy allows no inline script: pages pass what this needs in
// data-* attributes and a <meta name="csrf-token">.
(function () {
  "use strict";

  function supported() {
    return !!(window.PublicKeyCredential && navigator.credentials &&
              PublicKeyCredential.parseCreationOptionsFromJSON &&
              PublicKeyCredential.parseRequestOptionsFromJSON);
  }

  function sessionCsrf() {
    var meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.getAttribute("content") : "";
  }

  // POST JSON; resolves with the parsed body, rejects with {message} on an error.
  function post(url, body, csrf) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRF-Token": csrf || "" },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      var type = response.headers.get("content-type") || "";
      if (type.indexOf("application/json") !== 0) {
        throw { message: null, status: response.status };
      }
      return response.json().then(function (data) {
        if (!response.ok) { throw { message: data.message, code: data.error, status: response.status }; }
        return data;
      });
    });
  }

  function showError(el, text) {
    var box = document.getElementById("passkey-error");
    if (box) { box.textContent = text; box.hidden = false; }
  }

  function clearError() {
    var box = document.getElementById("passkey-error");
    if (box) { box.hidden = true; box.textContent = ""; }
  }

  // The browser's own refusals (cancelled, timed out) become the page's wording.
  function explain(el, err) {
    if (err && (err.name === "NotAllowedError" || err.name === "AbortError")) {
      return el.dataset.msgCancelled;
    }
    return (err && err.message && !err.name) ? err.message : el.dataset.msgFailed;
  }

  function busy(button, on) { if (button) { button.disabled = on; } }

  // -- add a passkey (security page) ----------------------------------------------
  function setupRegister(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearError();
      var name = form.querySelector("input[name=name]").value.trim();
      var button = form.querySelector("button[type=submit]");
      var csrf = sessionCsrf();
      busy(button, true);
      post("/security/passkeys/options", {}, csrf).then(function (opts) {
        var publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(opts.publicKey);
        return navigator.credentials.create({ publicKey: publicKey }).then(function (cred) {
          return post("/security/passkeys", {
            challenge_id: opts.challenge_id, credential: cred.toJSON(), name: name
          }, csrf);
        });
      }).then(function () {
        window.location.assign("/security?notice=registered");
      }).catch(function (err) {
        showError(form, explain(form, err));
        busy(button, false);
      });
    });
  }

  // -- log in with a passkey (login page) --------------------------------------------
  function setupLogin(button) {
    button.addEventListener("click", function () {
      clearError();
      var csrf = button.dataset.csrf;
      busy(button, true);
      post("/login/passkey/options", {}, csrf).then(function (opts) {
        var publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(opts.publicKey);
        return navigator.credentials.get({ publicKey: publicKey }).then(function (cred) {
          return post("/login/passkey", {
            challenge_id: opts.challenge_id, credential: cred.toJSON(), next: button.dataset.next
          }, csrf);
        });
      }).then(function (result) {
        window.location.assign(result.redirect || "/");
      }).catch(function (err) {
        showError(button, explain(button, err));
        busy(button, false);
      });
    });
  }

  // -- confirm an action (step-up page), then resume it -----------------------------
  function setupStepUp(button) {
    button.addEventListener("click", function () {
      clearError();
      var csrf = sessionCsrf();
      busy(button, true);
      post("/step-up/passkey/options", {}, csrf).then(function (opts) {
        var publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(opts.publicKey);
        return navigator.credentials.get({ publicKey: publicKey }).then(function (cred) {
          return post("/step-up/passkey", {
            challenge_id: opts.challenge_id, credential: cred.toJSON()
          }, csrf);
        });
      }).then(function () {
        // The session now has a new id (its cookie was replaced) and the same CSRF
        // token, which the carried form holds: send the original action again.
        document.getElementById("resume-form").submit();
      }).catch(function (err) {
        showError(button, explain(button, err));
        busy(button, false);
      });
    });
  }

  function start() {
    var targets = [
      [document.querySelector("[data-passkey-register]"), setupRegister],
      [document.getElementById("passkey-login"), setupLogin],
      [document.getElementById("passkey-step-up"), setupStepUp]
    ];
    targets.forEach(function (pair) {
      var el = pair[0];
      if (!el) { return; }
      if (!supported()) {
        var note = document.getElementById("passkey-unsupported");
        if (note) { note.hidden = false; }
        var control = el.tagName === "FORM" ? el.querySelector("button") : el;
        if (control) { control.disabled = true; }
        return;
      }
      pair[1](el);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
