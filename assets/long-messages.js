/* "show all" of a message that arrived cut (dashapp/web/components/long_text.py): fetches the
   whole message from /api/runs/<id>/error a chunk at a time and puts it into the message's own
   element as text (textContent: never parsed as markup). */
(function () {
  "use strict";

  function fetchAll(runId, source, done, failed) {
    var parts = [];
    function next(offset) {
      var url = window.syncMonitorPath("/api/runs/" + encodeURIComponent(runId)) + "/error?source=" +
        encodeURIComponent(source) + "&offset=" + offset;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (answer) {
          return answer.json().then(function (body) { return { ok: answer.ok, body: body }; });
        })
        .then(function (reply) {
          if (!reply.ok) { failed(reply.body && reply.body.error ? reply.body.error : "the message could not be read"); return; }
          parts.push(reply.body.text || "");
          if (reply.body.next_offset === null || reply.body.next_offset === undefined) {
            done(parts.join(""), reply.body.message_length);
          } else { next(reply.body.next_offset); }
        })
        .catch(function () { failed("the message could not be read"); });
    }
    next(0);
  }

  /* A grid cell of a message cut to its bound: the text, then its full length. */
  var functions = window.dashAgGridFunctions = window.dashAgGridFunctions || {};
  functions.cutMessage = function (params, prefix) {
    var data = params && params.data;
    if (!data || !data[prefix + "_truncated"]) { return params ? params.value : ""; }
    return params.value + " … " + Number(data[prefix + "_length"]).toLocaleString("en-US") + " characters";
  };

  /* Messages shown whole, by run and source: a page's refresh draws the cut text again, and
     then it is put back whole at once (the refresh would otherwise fold it every few seconds). */
  var whole = {};

  function keyOf(button) {
    return button.getAttribute("data-run-id") + ":" + (button.getAttribute("data-source") || "error_message");
  }

  function showWhole(button, text, length) {
    var box = button.closest(".long-message");
    var pre = box && box.querySelector("pre");
    var note = box && box.querySelector(".long-message-note");
    if (!pre) { return; }
    if (pre.textContent !== text) { pre.textContent = text; }
    if (note) { note.textContent = "all " + Number(length).toLocaleString("en-US") + " characters"; }
    button.hidden = true;  /* hidden, not removed: the page's renderer owns the element */
  }

  function restore() {
    var buttons = document.querySelectorAll(".show-all-message:not([hidden])");
    for (var i = 0; i < buttons.length; i++) {
      var kept = whole[keyOf(buttons[i])];
      if (kept) { showWhole(buttons[i], kept.text, kept.length); }
    }
  }

  var watching = false;

  function watch() {
    if (watching || !window.MutationObserver) { return; }
    watching = true;
    new MutationObserver(restore).observe(document.body, { childList: true, subtree: true });
  }

  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest ? event.target.closest(".show-all-message") : null;
    if (!button) { return; }
    event.preventDefault();
    var note = button.closest(".long-message") && button.closest(".long-message").querySelector(".long-message-note");
    var before = note ? note.textContent : "";
    button.disabled = true;
    button.textContent = "loading…";
    fetchAll(button.getAttribute("data-run-id"), button.getAttribute("data-source") || "error_message",
      function (text, length) {
        whole[keyOf(button)] = { text: text, length: length };
        button.disabled = false;
        button.textContent = "show all";
        showWhole(button, text, length);
        restore();  /* the same message elsewhere on the page */
        watch();
      },
      function (problem) {
        button.disabled = false;
        button.textContent = "show all";
        if (note) { note.textContent = before + " (" + problem + ")"; }
      });
  });
})();
