/* The auction page, live: asks the status JSON every couple of seconds and updates the
   state line, the prices and the round's order in place (short polling: see the commit that
   added it). The page works without this script; it then reloads itself when a slot ends. */
(function () {
  "use strict";
  var root = document.getElementById("auction");
  if (!root || !window.fetch) {
    return;
  }
  var url = root.getAttribute("data-status-url");
  var every = parseInt(root.getAttribute("data-poll-ms"), 10) || 2000;
  var phase = root.getAttribute("data-phase");
  var over = ["finished", "cancelled"];

  function setText(id, text) {
    var element = document.getElementById(id);
    if (element && element.textContent !== text) {
      element.textContent = text;
    }
  }

  function update(status) {
    if (status.phase !== phase) {
      /* the auction started or ended: the page has other parts then (the form, the result) */
      window.location.reload();
      return false;
    }
    setText("auction-state", status.state_text);
    setText("your-turn", status.turn_text);
    status.bidders.forEach(function (bidder) {
      var row = root.querySelector('tr[data-label="' + bidder.label + '"] .price');
      if (row && row.textContent !== bidder.price) {
        row.textContent = bidder.price;
      }
    });
    var order = document.getElementById("order");
    if (order) {
      var items = status.order.map(function (slot) { return slot.text; });
      var shown = Array.prototype.map.call(order.children, function (li) { return li.textContent; });
      if (items.join("\n") !== shown.join("\n")) {
        order.textContent = "";
        items.forEach(function (text) {
          var li = document.createElement("li");
          li.textContent = text;
          order.appendChild(li);
        });
      }
    }
    return over.indexOf(status.phase) < 0;
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(response.status);
        }
        return response.json();
      })
      .then(function (status) {
        if (update(status)) {
          window.setTimeout(poll, every);
        }
      })
      .catch(function () {
        window.setTimeout(poll, every * 3);
      });
  }

  if (over.indexOf(phase) < 0) {
    window.setTimeout(poll, every);
  }
})();
