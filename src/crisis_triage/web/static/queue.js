// The queue page: refreshes the table in place, announces new crises, shows the number of open
// crises in the tab title ("(2) Queue"), optionally beeps, and moves a selection with j/k.
"use strict";

(function () {
  var table, rows, live, liveCrisis, stale, openCrises = 0, selected = -1, knownCases = {};

  function caseRows() { return Array.prototype.slice.call(rows.querySelectorAll("tr[data-case]")); }

  function remember() {
    knownCases = {};
    caseRows().forEach(function (tr) { knownCases[tr.getAttribute("data-case")] = true; });
  }

  function updateTitle() {
    document.title = (openCrises ? "(" + openCrises + ") " : "") + "Queue · crisis-triage";
  }

  function beep() {
    if (!document.getElementById("sound-toggle").checked) return;
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      var ctx = new Ctx(), osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.type = "sine"; osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, ctx.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.2, ctx.currentTime + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.5);
      osc.connect(gain); gain.connect(ctx.destination);
      osc.start(); osc.stop(ctx.currentTime + 0.55);
    } catch (e) { /* no audio: the title and the live region still tell */ }
  }

  function select(index) {
    var list = caseRows();
    if (!list.length) return;
    selected = Math.max(0, Math.min(index, list.length - 1));
    list.forEach(function (tr, i) { tr.classList.toggle("row-selected", i === selected); });
    var link = list[selected].querySelector("a.case-link");
    if (link) link.focus();
  }

  function selectedCase() {
    var list = caseRows();
    return selected >= 0 && selected < list.length ? list[selected].getAttribute("data-case") : null;
  }

  function apply(html, headers) {
    var keep = selectedCase();
    rows.innerHTML = html;
    var newCrises = 0, newRows = 0;
    caseRows().forEach(function (tr) {
      var id = tr.getAttribute("data-case");
      if (!knownCases[id]) {
        tr.classList.add("row-new");
        newRows += 1;
        if (tr.getAttribute("data-tier") === "0") newCrises += 1;
      }
    });
    remember();
    table.setAttribute("data-signature", headers.get("X-Queue-Signature") || "");
    table.setAttribute("data-max-case", headers.get("X-Queue-Max-Case") || "0");
    openCrises = Number(headers.get("X-Queue-Crises") || "0");
    var total = Number(headers.get("X-Queue-Total") || "0");
    document.getElementById("crisis-count").textContent = String(openCrises);
    document.getElementById("crisis-word").textContent = openCrises === 1 ? "crisis" : "crises";
    document.getElementById("total-count").textContent = String(total);
    document.getElementById("case-word").textContent = total === 1 ? "case" : "cases";
    document.getElementById("page-note").hidden = total <= caseRows().length;
    document.getElementById("page-total").textContent = String(total);
    document.getElementById("crisis-count").parentNode.classList.toggle("text-crisis", openCrises > 0);
    updateTitle();
    if (keep) {
      var again = caseRows().findIndex(function (tr) { return tr.getAttribute("data-case") === keep; });
      selected = again;
      if (again >= 0) caseRows()[again].classList.add("row-selected");
    }
    if (newCrises) {
      liveCrisis.textContent = newCrises === 1 ? "New crisis message at the top of the queue."
        : newCrises + " new crisis messages at the top of the queue.";
      beep();
    } else if (newRows) {
      live.textContent = newRows === 1 ? "1 new message in the queue." : newRows + " new messages in the queue.";
    }
    window.ctTick();
  }

  function poll() {
    var url = "/queue/rows?after=" + encodeURIComponent(table.getAttribute("data-max-case") || "0")
      + "&signature=" + encodeURIComponent(table.getAttribute("data-signature") || "");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.status === 401) {
          window.location.assign(response.headers.get("X-Login") || "/login");
          return;
        }
        if (!response.ok && response.status !== 204) throw new Error("status " + response.status);
        stale.hidden = true;
        if (response.status === 204) return;
        return response.text().then(function (html) { apply(html, response.headers); });
      })
      .catch(function () { stale.hidden = false; })
      .finally(function () { window.setTimeout(poll, Number(table.getAttribute("data-poll-ms")) || 2000); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    table = document.getElementById("queue");
    rows = document.getElementById("queue-rows");
    live = document.getElementById("live");
    liveCrisis = document.getElementById("live-crisis");
    stale = document.getElementById("stale");
    openCrises = Number(table.getAttribute("data-crises") || "0");
    remember();
    var sound = document.getElementById("sound-toggle");
    sound.checked = window.localStorage.getItem("ct-sound") === "on";
    sound.addEventListener("change", function () {
      window.localStorage.setItem("ct-sound", sound.checked ? "on" : "off");
    });
    rows.addEventListener("click", function (event) {
      var tr = event.target.closest("tr[data-case]");
      if (tr && !event.target.closest("a")) window.location.assign("/cases/" + tr.getAttribute("data-case"));
    });
    window.ctShortcuts.j = function (e) { e.preventDefault(); select(selected + 1); };
    window.ctShortcuts.k = function (e) { e.preventDefault(); select(selected - 1); };
    window.ctShortcuts.ArrowDown = window.ctShortcuts.j;
    window.ctShortcuts.ArrowUp = window.ctShortcuts.k;
    updateTitle();
    window.setTimeout(poll, Number(table.getAttribute("data-poll-ms")) || 2000);
  });
})();
