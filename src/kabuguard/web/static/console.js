// The operations console's passkey ceremonies: log in (no user name) and register a
// first passkey with an enrolment code. The CSRF token is the login page's
// double-submit cookie's, passed in data-csrf and sent as X-CSRF-Token.
// No inline script (the Content-Security-Policy forbids it).
(function () {
  "use strict";

  function supported() {
    return !!(window.PublicKeyCredential && navigator.credentials &&
              PublicKeyCredential.parseCreationOptionsFromJSON &&
              PublicKeyCredential.parseRequestOptionsFromJSON);
  }

  function post(url, body, csrf) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRF-Token": csrf || "" },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { throw { message: data.message, status: response.status }; }
        return data;
      });
    });
  }

  function showError(text) {
    var box = document.getElementById("passkey-error");
    if (box) { box.textContent = text; box.hidden = false; }
  }

  function explain(el, err) {
    if (err && (err.name === "NotAllowedError" || err.name === "AbortError")) {
      return el.dataset.msgCancelled;
    }
    return (err && err.message && !err.name) ? err.message : el.dataset.msgFailed;
  }

  function setupLogin(button) {
    button.addEventListener("click", function () {
      var csrf = button.dataset.csrf;
      button.disabled = true;
      post("/console/login/options", {}, csrf).then(function (opts) {
        var publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(opts.publicKey);
        return navigator.credentials.get({ publicKey: publicKey }).then(function (cred) {
          return post("/console/login", { challenge_id: opts.challenge_id,
                                          credential: cred.toJSON(),
                                          next: button.dataset.next }, csrf);
        });
      }).then(function (result) {
        window.location.assign(result.redirect || "/console/");
      }).catch(function (err) {
        showError(explain(button, err));
        button.disabled = false;
      });
    });
  }

  function setupEnrol(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var csrf = form.dataset.csrf;
      var code = form.querySelector("input[name=code]").value.trim();
      var name = form.querySelector("input[name=name]").value.trim();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      post("/console/enrol/options", { code: code }, csrf).then(function (opts) {
        var publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(opts.publicKey);
        return navigator.credentials.create({ publicKey: publicKey }).then(function (cred) {
          return post("/console/enrol", { challenge_id: opts.challenge_id,
                                          credential: cred.toJSON(), code: code,
                                          name: name }, csrf);
        });
      }).then(function (result) {
        window.location.assign(result.redirect || "/console/");
      }).catch(function (err) {
        showError(explain(form, err));
        button.disabled = false;
      });
    });
  }

  function start() {
    var pairs = [[document.getElementById("console-passkey-login"), setupLogin],
                 [document.getElementById("console-enrol"), setupEnrol]];
    pairs.forEach(function (pair) {
      var el = pair[0];
      if (!el) { return; }
      if (!supported()) {
        var note = document.getElementById("passkey-unsupported");
        if (note) { note.hidden = false; }
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
