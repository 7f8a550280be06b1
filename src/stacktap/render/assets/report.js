/* stacktap report: builds a call's details when its row is opened, links diagram arrows
   to calls, filters rows. Untrusted text only ever goes through textContent. */
(function () {
  "use strict";
  var calls = JSON.parse(document.getElementById("calls-data").textContent);

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function kvTable(rows) {
    var table = el("table", "kv");
    rows.forEach(function (row) {
      if (row[1] === null || row[1] === undefined || row[1] === "") { return; }
      var tr = el("tr");
      tr.appendChild(el("td", "k", row[0]));
      tr.appendChild(el("td", "v", row[1]));
      table.appendChild(tr);
    });
    return table;
  }

  function section(parent, title) {
    parent.appendChild(el("h3", null, title));
  }

  function bodyText(body) {
    if (!body) { return null; }
    var facts = [body.kind];
    if (body.type) { facts.push(body.type); }
    if (body.size !== null && body.size !== undefined) { facts.push(body.size + " bytes"); }
    if (body.truncated) { facts.push("truncated"); }
    if (body.sha256) { facts.push("sha256 " + body.sha256.slice(0, 16)); }
    var text = body.text;
    if (body.kind === "json" && text) {
      try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* keep as stored */ }
    }
    return { facts: facts.join(", "), text: text };
  }

  function addBody(parent, title, body) {
    var shown = bodyText(body);
    if (!shown) { return; }
    section(parent, title + " (" + shown.facts + ")");
    if (shown.text) { parent.appendChild(el("pre", "body", shown.text)); }
  }

  function ms(value) {
    return value === null || value === undefined ? null : value.toFixed(1) + " ms";
  }

  function addLayers(parent, call) {
    if (!call.layers.length) { return; }
    section(parent, "Layers (outermost first)");
    var table = el("table", "layers");
    var head = el("tr");
    ["#", "filter", "factory", "enter", "exit", "time", "", "result"].forEach(function (t) {
      head.appendChild(el("th", null, t));
    });
    table.appendChild(head);
    var total = call.duration_ms || 1;
    call.layers.forEach(function (layer) {
      var tr = el("tr");
      var spent = layer.exit_ms === null ? null : layer.exit_ms - layer.enter_ms;
      tr.appendChild(el("td", null, layer.order));
      tr.appendChild(el("td", "v", layer.name));
      tr.appendChild(el("td", "v", layer.factory || ""));
      tr.appendChild(el("td", null, ms(layer.enter_ms)));
      tr.appendChild(el("td", null, layer.exit_ms === null ? "never returned" : ms(layer.exit_ms)));
      tr.appendChild(el("td", null, spent === null ? "" : ms(spent)));
      var cell = el("td");
      var track = el("div", "layerbar");
      var bar = el("span");
      var end = layer.exit_ms === null ? total : layer.exit_ms;
      bar.style.left = Math.max(0, Math.min(100, layer.enter_ms / total * 100)) + "%";
      bar.style.width = Math.max(0.5, Math.min(100, (end - layer.enter_ms) / total * 100)) + "%";
      track.appendChild(bar);
      cell.appendChild(track);
      tr.appendChild(cell);
      tr.appendChild(el("td", null, layer.answered ? "answered " + (layer.status || "") : ""));
      table.appendChild(tr);
    });
    parent.appendChild(table);
  }

  function addPolicy(parent, call) {
    if (!call.policy || !call.policy.length) { return; }
    section(parent, "Policy checks (oslo.policy, in order)");
    var table = el("table", "layers policy");
    var head = el("tr");
    ["rule", "result", "check", "roles", "at", "time"].forEach(function (t) {
      head.appendChild(el("th", null, t));
    });
    table.appendChild(head);
    call.policy.forEach(function (check) {
      var tr = el("tr", check.result === "allowed" ? null : "denied");
      tr.appendChild(el("td", "v", check.rule + (check.count > 1 ? " (\u00d7" + check.count + ")" : "")));
      tr.appendChild(el("td", null, check.result + (check.error ? " (" + check.error + ")" : "")));
      tr.appendChild(el("td", "v", check.check || ""));
      tr.appendChild(el("td", "v", check.roles.join(", ")));
      tr.appendChild(el("td", null, ms(check.at_ms)));
      tr.appendChild(el("td", null, ms(check.duration_ms)));
      table.appendChild(tr);
    });
    parent.appendChild(table);
  }

  function headers(parent, title, list) {
    if (!list.length) { return; }
    section(parent, title);
    parent.appendChild(kvTable(list));
  }

  function build(detail, call) {
    section(detail, call.side === "server" ? "Served by " + (call.process.service || call.process.name || "?")
                                           : "Call");
    detail.appendChild(kvTable([
      ["request", call.method + " " + call.url],
      ["response", call.response],
      ["error", call.error],
      ["policy denied", call.denied_by],
      ["service", call.service],
      ["endpoint", call.peer.endpoint],
      ["interface / region", [call.peer.interface, call.peer.region].filter(Boolean).join(" / ")],
      ["process", [call.process.name, call.process.pid ? "pid " + call.process.pid : "",
                   call.process.host].filter(Boolean).join(" ")],
      ["handler", call.handler],
      ["app", call.app],
      ["offset", ms(call.offset_ms)],
      ["time to headers", ms(call.ttfb_ms)],
      ["duration", ms(call.duration_ms)],
      ["request id", call.request_id],
      ["global request id", call.global_request_id],
      ["trace / span", call.trace + " / " + call.span]
    ]));
    headers(detail, "Request headers", call.request_headers);
    addBody(detail, "Request body", call.request_body);
    headers(detail, "Response headers", call.response_headers);
    addBody(detail, "Response body", call.response_body);
    if (call.call_site || call.stack.length) {
      section(detail, call.side === "server" ? "Handler source" : "Call site");
      if (call.source_links) {
        var links = el("p", "source", "");
        var editor = el("a", "source-vscode", call.call_site_at);
        editor.href = call.source_links.vscode;
        editor.title = "open in VS Code";
        var plain = el("a", "source-file", "file");
        plain.href = call.source_links.file;
        links.appendChild(editor);
        links.appendChild(document.createTextNode(" \u00b7 "));
        links.appendChild(plain);
        detail.appendChild(links);
      }
      var lines = [];
      if (call.call_site) { lines.push(call.call_site + "  (" + call.call_site_at + ")"); }
      if (call.stack.length) { lines.push("", "stack (outermost first):"); lines = lines.concat(call.stack); }
      detail.appendChild(el("pre", "stack", lines.join("\n")));
    }
    addLayers(detail, call);
    addPolicy(detail, call);
    if (call.curl) {
      section(detail, "curl");
      var pre = el("pre", "curl", call.curl);
      detail.appendChild(pre);
      if (navigator.clipboard) {
        var button = el("button", "copy", "copy");
        button.addEventListener("click", function () { navigator.clipboard.writeText(call.curl); });
        detail.appendChild(button);
      }
    }
  }

  document.addEventListener("toggle", function (event) {
    var row = event.target;
    if (!row.classList || !row.classList.contains("call") || !row.open) { return; }
    var detail = row.querySelector(".detail");
    if (detail.dataset.built) { return; }
    detail.dataset.built = "1";
    build(detail, calls[Number(row.dataset.i)]);
  }, true);

  function openSpan(span) {
    var row = document.querySelector('.call[data-span="' + span.replace(/[^0-9a-zA-Z_-]/g, "") + '"]');
    if (!row) { return; }
    row.classList.remove("hidden");
    row.open = true;
    row.scrollIntoView({ block: "center" });
  }

  document.querySelectorAll(".sequence .msg").forEach(function (msg) {
    msg.addEventListener("click", function () {
      var spans = (msg.getAttribute("data-spans") || "").split(" ");
      if (spans[0]) { openSpan(spans[0]); }
    });
  });

  var filter = document.getElementById("filter");
  if (filter) {
    filter.addEventListener("input", function () {
      var needle = filter.value.toLowerCase();
      document.querySelectorAll("#waterfall > .call").forEach(function (row) {
        var text = row.firstElementChild.textContent.toLowerCase();
        row.classList.toggle("hidden", needle !== "" && text.indexOf(needle) < 0);
      });
    });
  }

  if (location.hash && location.hash.indexOf("#call-") === 0) {
    var target = document.getElementById(location.hash.slice(1));
    if (target) { target.open = true; target.scrollIntoView({ block: "center" }); }
  }
  document.body.dataset.ready = "1";
}());
