// Progressive enhancement only: every page works without script.
// The Content-Security-Policy allows only this file (no inline script), so pages pass
// what it needs in data-* attributes.
(function () {
  "use strict";

  var POLL_MS = 5000;

  // Same format as the server's format_yen: ¥1,234,567 (ASCII yen sign and commas,
  // whatever the browser's locale).
  function formatYen(amount) {
    var n = Math.round(amount);
    var sign = n < 0 ? "-" : "";
    return sign + "¥" + Math.abs(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  // Full-width digits and separators, as a Japanese IME types them, to ASCII.
  function normalizeNumber(text) {
    return (text || "")
      .replace(/[０-９．]/g, function (c) { return String.fromCharCode(c.charCodeAt(0) - 0xFEE0); })
      .replace(/[,，\s_]/g, "");
  }

  function setText(id, text) {
    var el = document.getElementById(id);
    if (el && text !== undefined && text !== null) { el.textContent = text; }
    return el;
  }

  // -- order form: estimated amount and the limit field ---------------------------
  function setupOrderForm(form) {
    var quantity = form.querySelector("#quantity");
    var limit = form.querySelector("#limit_price");
    var limitField = form.querySelector("#limit-field");
    var output = form.querySelector("#estimate");

    function orderType() {
      var checked = form.querySelector("input[name=order_type]:checked");
      return checked ? checked.value : "market";
    }

    function update() {
      var isLimit = orderType() === "limit";
      if (limitField) { limitField.hidden = !isLimit; }
      if (limit) { limit.disabled = !isLimit; limit.required = isLimit; }
      var qty = parseInt(normalizeNumber(quantity.value), 10);
      var unit = isLimit ? parseFloat(normalizeNumber(limit.value)) : parseFloat(form.dataset.price);
      var rate = parseFloat(form.dataset.fxRate) || 1;
      if (!(qty > 0) || !(unit > 0) || !/^\d+$/.test(normalizeNumber(quantity.value))) {
        output.textContent = "—";
        return;
      }
      output.textContent = formatYen(Math.floor(unit * qty * rate));
    }

    form.addEventListener("input", update);
    form.addEventListener("change", update);
    form.addEventListener("orderform:price", update);
    // A double click must not send the order twice; the server-side key makes a
    // second submission harmless anyway, this only spares the extra round trip.
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      if (button) { window.setTimeout(function () { button.disabled = true; }, 0); }
    });
    update();
  }

  // -- live quote ------------------------------------------------------------------
  function setupQuote(panel) {
    var symbol = panel.dataset.quoteSymbol;
    var form = document.getElementById("order-form");
    var timer = null;
    var lastPrice = null;

    function render(q) {
      var priceEl = setText("quote-price", q.price_display);
      if (priceEl && lastPrice !== null && lastPrice !== q.price) {
        priceEl.classList.remove("flash");
        void priceEl.offsetWidth; // restart the animation
        priceEl.classList.add("flash");
      }
      lastPrice = q.price;
      var change = document.getElementById("quote-change");
      if (change) {
        change.textContent = (q.change_pct > 0 ? "+" : "") + q.change_pct.toFixed(2) + "%";
        change.className = q.change_pct > 0 ? "up" : (q.change_pct < 0 ? "down" : "");
      }
      setText("quote-yen", "≈ " + formatYen(q.price_jpy));
      var market = document.getElementById("quote-market");
      if (market) {
        market.classList.toggle("open", q.market_open);
        market.classList.toggle("closed", !q.market_open);
        setText("quote-market-label", q.market_open ? panel.dataset.labelOpen : panel.dataset.labelClosed);
        var next = document.getElementById("quote-next-open");
        if (next) {
          next.hidden = q.market_open;
          next.textContent = panel.dataset.labelNext.replace("{when}", q.next_open_display);
        }
      }
      var now = new Date();
      var hhmmss = [now.getHours(), now.getMinutes(), now.getSeconds()]
        .map(function (n) { return (n < 10 ? "0" : "") + n; }).join(":");
      setText("quote-updated", panel.dataset.labelUpdated + " " + hhmmss);
      panel.dataset.updatedAt = String(now.getTime());
      if (form) {
        form.dataset.price = String(q.price);
        form.dispatchEvent(new Event("orderform:price"));
      }
    }

    function poll() {
      fetch("/quote/" + encodeURIComponent(symbol), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        cache: "no-store"
      }).then(function (response) {
        // A logged-out session is redirected to the login page: stop polling.
        var type = response.headers.get("content-type") || "";
        if (!response.ok || response.redirected || type.indexOf("application/json") !== 0) {
          throw new Error("quote unavailable");
        }
        return response.json();
      }).then(function (q) {
        render(q);
        schedule();
      }).catch(function () {
        stop();
      });
    }

    function schedule() {
      stop();
      if (!document.hidden) { timer = window.setTimeout(poll, POLL_MS); }
    }

    function stop() {
      if (timer !== null) { window.clearTimeout(timer); timer = null; }
    }

    document.addEventListener("visibilitychange", function () {
      if (document.hidden) { stop(); } else { poll(); }
    });
    poll();
  }

  // -- emoji challenge: tap the emoji in the order sent ------------------------------
  // Without script the page offers one drop-down per emoji; with it, the grid fills
  // them in the order tapped.
  function setupEmojiChallenge(form) {
    var grid = form.querySelector("#emoji-grid");
    var clear = form.querySelector("#emoji-clear");
    var slots = Array.prototype.slice.call(form.querySelectorAll("select[name=emoji]"));
    if (!grid || !slots.length) { return; }

    function refresh() {
      var chosen = slots.map(function (s) { return s.value; });
      Array.prototype.forEach.call(grid.querySelectorAll(".emoji-choice"), function (b) {
        var at = chosen.indexOf(b.dataset.emoji);
        b.setAttribute("aria-pressed", at >= 0 ? "true" : "false");
        b.dataset.order = at >= 0 ? String(at + 1) : "";
      });
    }

    grid.addEventListener("click", function (event) {
      var button = event.target.closest(".emoji-choice");
      if (!button) { return; }
      var symbol = button.dataset.emoji;
      if (slots.some(function (s) { return s.value === symbol; })) { return; }
      var free = slots.filter(function (s) { return !s.value; })[0];
      if (free) { free.value = symbol; }
      refresh();
    });
    if (clear) {
      clear.hidden = false;
      clear.addEventListener("click", function () {
        slots.forEach(function (s) { s.value = ""; });
        refresh();
      });
    }
    form.addEventListener("change", refresh);
    grid.hidden = false;
    refresh();
  }

  function start() {
    var emojiForm = document.getElementById("emoji-form");
    if (emojiForm) { setupEmojiChallenge(emojiForm); }
    var form = document.getElementById("order-form");
    if (form) { setupOrderForm(form); }
    var panel = document.querySelector("[data-quote-symbol]");
    if (panel) { setupQuote(panel); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
