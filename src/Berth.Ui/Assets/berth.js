// Berth's web UI works without this file; it adds copy buttons and filtering as you type.
(function () {
  "use strict";

  function enableCopyButtons(root) {
    if (!navigator.clipboard) {
      return;
    }
    root.querySelectorAll("button.copy[data-copy-target]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy-target"));
        if (!source) {
          return;
        }
        navigator.clipboard.writeText(source.textContent).then(function () {
          button.classList.add("done");
          button.textContent = "Copied";
          setTimeout(function () { button.classList.remove("done"); button.textContent = "Copy"; }, 2000);
        });
      });
    });
  }

  // A filter form with data-live-filter="id" re-renders that element from the same page, fetched with the form's query.
  function enableLiveFilter(form) {
    var target = document.getElementById(form.getAttribute("data-live-filter"));
    var input = form.querySelector("input[type=search]");
    if (!target || !input || !window.fetch || !window.DOMParser) {
      return;
    }
    var timer = 0;
    var latest = 0;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var query = new URLSearchParams(new FormData(form));
        var url = form.getAttribute("action") + "?" + query.toString();
        var request = ++latest;
        fetch(url, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
          .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
          .then(function (html) {
            if (request !== latest) {
              return;
            }
            var page = new DOMParser().parseFromString(html, "text/html");
            var fresh = page.getElementById(target.id);
            if (fresh) {
              target.replaceChildren.apply(target, Array.prototype.slice.call(fresh.childNodes).map(function (node) { return document.adoptNode(node); }));
              enableCopyButtons(target);
              history.replaceState(null, "", url);
            }
          })
          .catch(function () { /* the submit button still works */ });
      }, 150);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    enableCopyButtons(document);
    document.querySelectorAll("form[data-live-filter]").forEach(enableLiveFilter);
  });
})();
