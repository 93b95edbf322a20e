// The console's behaviour. Pages render on the server; this file only adds what needs a browser:
// charts, click-to-filter, live tail. No inline scripts or handlers anywhere, so a strict
// Content-Security-Policy (script-src 'self') holds. Data for charts comes in
// <script type="application/json"> blocks, which browsers never execute.
"use strict";

(function () {
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  // Times: the server renders them in the zone the user chose (UTC or theirs, in the URL's tz or a
  // cookie); charts draw their axes in the same zone. The browser's own zone goes into a cookie,
  // since only the browser knows it.
  var TZ = document.documentElement.getAttribute("data-tz") || "UTC";
  function tzDate(ts) { return uPlot.tzDate(new Date(ts * 1e3), TZ); }
  window.rexwatchTzDate = tzDate;
  function initTimezone() {
    var zone = null;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { zone = null; }
    if (!zone || !/^[A-Za-z][A-Za-z0-9_+\-\/]{0,63}$/.test(zone)) return;
    document.cookie = "rexwatch_tzname=" + zone + "; path=/; max-age=34560000; SameSite=Lax";
    var pref = document.documentElement.getAttribute("data-tz-pref");
    // "My time zone" chosen before the server knew the zone: render again, once, now that it does.
    if (pref === "local" && TZ !== zone && !sessionStorage.getItem("rexwatch-tz-reload")) {
      sessionStorage.setItem("rexwatch-tz-reload", "1");
      location.reload();
    }
  }
  // Theme: the switch stores the choice in a cookie and applies it at once (the server renders the
  // same attribute on every later page, so none of them flashes the other theme). Charts take their
  // colours when drawn, so a page with charts is drawn again.
  function initTheme() {
    $all("select[data-theme-switch]").forEach(function (sel) {
      sel.addEventListener("change", function () {
        var v = sel.value;
        if (["system", "dark", "light"].indexOf(v) < 0) return;
        document.cookie = "rexwatch_theme=" + v + "; path=/; max-age=34560000; SameSite=Lax";
        document.documentElement.setAttribute("data-theme", v);
        if ($(".chart canvas, .widget canvas")) location.reload();
      });
    });
  }
  // Phone width: the Menu link opens and closes the navigation.
  function initMenu() {
    var toggle = $(".menu-toggle"), header = $("header.top");
    if (!toggle || !header) return;
    toggle.setAttribute("role", "button");
    toggle.addEventListener("click", function (e) {
      e.preventDefault();
      var open = !header.classList.contains("nav-open");
      header.classList.toggle("nav-open", open);
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      if (open) { var first = $("#nav a"); if (first) first.focus(); }
    });
  }
  function jsonData(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  function cssVar(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }

  // Time-range picker: choosing a relative range drops any absolute one and applies at once.
  function initTimeRange() {
    $all("select[data-autosubmit]").forEach(function (sel) {
      sel.addEventListener("change", function () {
        var form = sel.form;
        if (sel.value) {
          $all("input[name=start], input[name=end]", form).forEach(function (i) { i.value = ""; });
          form.requestSubmit ? form.requestSubmit() : form.submit();
        }
      });
    });
  }

  // Auto refresh (the shared picker): choosing an interval applies it at once; the page then
  // reloads itself on that interval while it is visible, but never while a box holds unsent edits.
  function initAutoRefresh() {
    $all("select[data-refresh-select]").forEach(function (sel) {
      sel.addEventListener("change", function () { sel.form.requestSubmit ? sel.form.requestSubmit() : sel.form.submit(); });
    });
    var sel = $("select[data-refresh-select]");
    var seconds = sel ? parseInt(sel.getAttribute("data-seconds"), 10) : 0;
    if (!seconds) return;
    var edited = false;
    document.addEventListener("input", function (e) { if (e.target !== sel) edited = true; });
    function tick() {
      if (document.hidden || edited) { setTimeout(tick, seconds * 1000); return; }
      location.reload();
    }
    document.body.setAttribute("data-refresh-seconds", String(seconds));
    setTimeout(tick, seconds * 1000);
  }

  // A filter-pattern error points at its position: select the offending text in the box.
  function initPatternError() {
    $all("input[data-error-start]").forEach(function (input) {
      var s = parseInt(input.getAttribute("data-error-start"), 10);
      var e = parseInt(input.getAttribute("data-error-end"), 10);
      input.focus();
      try { input.setSelectionRange(s, Math.max(e, s + 1)); } catch (err) { /* not a text input */ }
    });
  }

  // Click a JSON value: add "$.path = value" to the filter pattern and search again.
  function combine(pattern, cond) {
    var p = pattern.trim();
    if (!p) return "{ " + cond + " }";
    if (p.charAt(0) === "{" && p.charAt(p.length - 1) === "}") {
      return "{ (" + p.slice(1, -1).trim() + ") && " + cond + " }";
    }
    return "{ " + cond + " }";
  }
  function initClickToFilter() {
    var form = document.getElementById("events-form");
    if (!form) return;
    document.addEventListener("click", function (ev) {
      var btn = ev.target.closest && ev.target.closest(".jv[data-cond]");
      if (!btn) return;
      var input = form.querySelector("input[name=pattern]");
      input.value = combine(input.value, btn.getAttribute("data-cond"));
      form.requestSubmit ? form.requestSubmit() : form.submit();
    });
  }

  // A JSON message is sent as its text, with its pretty-printed form (clickable values) in the
  // <template> after it: the form goes in after the first paint, so it never delays the page.
  function initPrettyJson() {
    var pres = $all("pre[data-pretty]");
    if (!pres.length) return;
    requestAnimationFrame(function () {
      setTimeout(function () {
        pres.forEach(function (pre) {
          var t = pre.nextElementSibling;
          if (!t || t.tagName !== "TEMPLATE") return;
          pre.textContent = "";
          pre.appendChild(t.content.cloneNode(true));
          pre.removeAttribute("data-pretty");
          t.parentNode.removeChild(t);
        });
        document.body.setAttribute("data-json-ready", "1");
      }, 0);
    });
  }

  // Charts -------------------------------------------------------------------------------------
  function chartWidth(el) { return Math.max(280, el.clientWidth || 600); }

  // The server draws long series at the chart's pixel width (web/downsample.py): tell it how wide
  // this browser's charts are (a chart's box, else the main column they fill), for the next page
  // and for the fragments htmx fetches (a request's w= wins over it).
  function rememberChartWidth() {
    var el = $(".chart") || document.getElementById("main");
    if (!el || !el.clientWidth) return;
    document.cookie = "rexwatch_chart_w=" + Math.round(chartWidth(el)) + "; path=/; max-age=34560000; SameSite=Lax";
  }

  // Drag across a chart to zoom: the selection becomes the page's absolute time range.
  function dragZoomHook(formId) {
    return function (u) {
      if (!formId || u.select.width < 5) return;
      var form = document.getElementById(formId);
      if (!form) return;
      var a = u.posToVal(u.select.left, "x"), b = u.posToVal(u.select.left + u.select.width, "x");
      form.querySelector("input[name=start]").value = new Date(a * 1000).toISOString();
      form.querySelector("input[name=end]").value = new Date(b * 1000).toISOString();
      var since = form.querySelector("select[name=since]");
      if (since) since.value = "";
      form.requestSubmit ? form.requestSubmit() : form.submit();
    };
  }

  function barChart(el, xs, ys, label) {
    var fg = cssVar("--fg", "#ddd"), accent = cssVar("--accent", "#58a6ff");
    var opts = {
      width: chartWidth(el), height: 160,
      cursor: { drag: { x: true, y: false } },
      legend: { show: true },
      scales: { x: { time: true } },
      tzDate: tzDate,
      axes: [{ stroke: fg, grid: { stroke: "rgba(128,128,128,.2)" } },
             { stroke: fg, grid: { stroke: "rgba(128,128,128,.2)" } }],
      series: [{}, { label: label, fill: accent, stroke: accent,
                     paths: uPlot.paths.bars({ size: [0.9, 60] }), points: { show: false } }],
      hooks: { setSelect: [dragZoomHook(el.getAttribute("data-drag-zoom"))] },
    };
    return new uPlot(opts, [xs, ys], el);
  }

  function lineChart(el, xs, series, extra) {
    var fg = cssVar("--fg", "#ddd");
    var palette = ["#58a6ff", "#f0883e", "#3fb950", "#d2a8ff", "#ff7b72", "#e3b341", "#79c0ff"];
    var opts = {
      width: chartWidth(el), height: 260,
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true } },
      tzDate: tzDate,
      axes: [{ stroke: fg, grid: { stroke: "rgba(128,128,128,.2)" } },
             { stroke: fg, grid: { stroke: "rgba(128,128,128,.2)" } }],
      series: [{}].concat(series.map(function (s, i) {
        return { label: s.label, stroke: s.color || palette[i % palette.length], width: 2, spanGaps: false,
                 dash: s.dash };
      })),
      hooks: { setSelect: [dragZoomHook(el.getAttribute("data-drag-zoom"))] },
    };
    if (extra) Object.keys(extra).forEach(function (k) { opts[k] = extra[k]; });
    return new uPlot(opts, [xs].concat(series.map(function (s) { return s.values; })), el);
  }

  function initHistogram() {
    var el = document.getElementById("histogram");
    if (!el || el.uplot || typeof uPlot === "undefined") return;
    var data = JSON.parse(el.getAttribute("data-histogram") || "null");
    if (!data) return;
    var xs = data.counts.map(function (_, i) { return (data.start + i * data.width) / 1000; });
    el.uplot = barChart(el, xs, data.counts, "events");
  }

  // Insights: a chart of the result when the query ends in stats ... by bin().
  function initInsightsChart() {
    var el = document.getElementById("insights-chart");
    if (!el || el.uplot || typeof uPlot === "undefined") return;
    var data = JSON.parse(el.getAttribute("data-chart"));
    el.uplot = lineChart(el, data.x, data.series);
  }

  // State bands behind a metric graph: [{from, to, state, row}] in seconds; row 1 draws in the lower
  // strip (a backtest's states under the recorded ones).
  var BAND_COLORS = { ALARM: "rgba(255,123,114,.22)", OK: "rgba(63,185,80,.14)",
                      INSUFFICIENT_DATA: "rgba(227,179,65,.18)" };
  function bandsHook(bands) {
    return function (u) {
      var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
      ctx.save();
      bands.forEach(function (b) {
        var x0 = Math.max(u.bbox.left, u.valToPos(b.from, "x", true));
        var x1 = Math.min(u.bbox.left + u.bbox.width, u.valToPos(b.to, "x", true));
        if (x1 <= x0) return;
        ctx.fillStyle = BAND_COLORS[b.state] || "rgba(128,128,128,.15)";
        if (b.row) ctx.fillRect(x0, top + h * 0.9, x1 - x0, h * 0.1);
        else ctx.fillRect(x0, top, x1 - x0, b.row === 0 ? h * 0.9 : h);
      });
      ctx.restore();
    };
  }

  // Metric graphs (series, thresholds drawn as dashed lines, state bands).
  function initMetricCharts() {
    $all("[data-metric-chart]").forEach(function (el) {
      if (el.uplot) return;
      var data = jsonData(el.getAttribute("data-metric-chart"));
      if (!data || typeof uPlot === "undefined") return;
      var extra = null;
      if (data.bands && data.bands.length) {
        extra = { hooks: { drawClear: [bandsHook(data.bands)],
                           setSelect: [dragZoomHook(el.getAttribute("data-drag-zoom"))] } };
      }
      if (data.range) {
        extra = extra || {};
        extra.scales = { x: { time: true, range: [data.range[0], data.range[1]] } };
      }
      el.uplot = lineChart(el, data.x, data.series, extra);
      el.setAttribute("data-points", String(data.x.length));
    });
  }

  // Live tail ----------------------------------------------------------------------------------
  var MAX_TAIL_LINES = 2000;

  function renderHighlighted(el, text, needle) {
    el.textContent = "";
    if (!needle) { el.textContent = text; return; }
    var lower = text.toLowerCase(), n = needle.toLowerCase(), at = 0, i;
    while ((i = lower.indexOf(n, at)) !== -1) {
      el.appendChild(document.createTextNode(text.slice(at, i)));
      var mark = document.createElement("mark");
      mark.textContent = text.slice(i, i + n.length);
      el.appendChild(mark);
      at = i + n.length;
    }
    el.appendChild(document.createTextNode(text.slice(at)));
  }

  function initTail() {
    var list = document.getElementById("tail");
    if (!list) return;
    var status = document.getElementById("tail-status");
    var pauseBtn = document.getElementById("tail-pause");
    var hl = document.getElementById("tail-highlight");
    var paused = false, held = [], received = 0;

    function line(ev) {
      var li = document.createElement("li");
      var meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = ev.time + "  " + ev.group + "  " + ev.stream + "  ";
      var msg = document.createElement("span");
      msg.className = "msg";
      msg.setAttribute("data-text", ev.message);
      renderHighlighted(msg, ev.message, hl.value);
      li.appendChild(meta);
      li.appendChild(msg);
      return li;
    }
    function show(events) {
      var frag = document.createDocumentFragment();
      events.forEach(function (ev) { frag.appendChild(line(ev)); });
      list.appendChild(frag);
      while (list.children.length > MAX_TAIL_LINES) list.removeChild(list.firstChild);
      list.lastElementChild && list.lastElementChild.scrollIntoView({ block: "nearest" });
    }
    function setStatus() {
      status.textContent = (paused ? "paused, " + held.length + " new events held" : "live") +
        " · " + received + " events received";
    }

    var source = new EventSource(list.getAttribute("data-stream"));
    source.addEventListener("ready", function () { setStatus(); list.setAttribute("data-ready", "1"); });
    source.addEventListener("events", function (e) {
      var events = JSON.parse(e.data);
      received += events.length;
      if (paused) held = held.concat(events); else show(events);
      setStatus();
    });
    source.addEventListener("problem", function (e) {
      status.textContent = JSON.parse(e.data).message;
      status.className = "error";
      source.close();
    });
    source.onerror = function () { if (source.readyState !== 2) status.textContent = "reconnecting…"; };

    pauseBtn.addEventListener("click", function () {
      paused = !paused;
      pauseBtn.textContent = paused ? "Resume" : "Pause";
      pauseBtn.setAttribute("aria-pressed", paused ? "true" : "false");
      if (!paused && held.length) { show(held); held = []; }
      setStatus();
    });
    hl.addEventListener("input", function () {
      $all(".msg", list).forEach(function (m) { renderHighlighted(m, m.getAttribute("data-text"), hl.value); });
    });
    document.getElementById("tail-clear").addEventListener("click", function () { list.textContent = ""; });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  // Insights: sample queries fill the editor; Tab inserts two spaces instead of leaving it.
  function initInsights() {
    var editor = document.getElementById("query");
    if (!editor) return;
    $all("button[data-sample]").forEach(function (b) {
      b.addEventListener("click", function () {
        editor.value = b.getAttribute("data-sample");
        editor.focus();
      });
    });
    editor.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        editor.form.requestSubmit ? editor.form.requestSubmit() : editor.form.submit();
      }
    });
    var s = editor.getAttribute("data-error-start");
    if (s !== null) {
      editor.focus();
      editor.setSelectionRange(parseInt(s, 10), parseInt(editor.getAttribute("data-error-end"), 10));
    }
  }

  // Insights editor: syntax highlighting (a highlighted copy under a transparent textarea) and
  // completion of commands, functions, keywords and the fields found in the chosen groups.
  var HL = /(#[^\n]*)|("(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?)|(\/(?:[^\/\\\n]|\\.)+\/[a-z]*)|(@?[A-Za-z_][\w.@$]*)(\s*\()?|(\d+(?:\.\d+)?(?:ms|s|m|h|d|w)?)|(\|)/g;
  function escapeHtml(t) { return t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }
  function highlight(text, words) {
    var out = "", last = 0, m, atCommand = true;
    HL.lastIndex = 0;
    while ((m = HL.exec(text)) !== null) {
      var gap = text.slice(last, m.index);
      out += escapeHtml(gap);
      var tok = m[0], cls = null;
      if (m[1]) cls = "hl-comment";
      else if (m[2]) cls = "hl-str";
      else if (m[3]) { cls = atCommand ? null : "hl-re"; }
      else if (m[4]) {
        var w = m[4].toLowerCase();
        if (atCommand && words.commands[w]) cls = "hl-cmd";
        else if (m[5] && words.functions[w]) cls = "hl-fn";
        else if (words.keywords[w]) cls = "hl-kw";
        else if (m[4][0] === "@" || words.fields[m[4]]) cls = "hl-field";
        if (m[5]) { tok = m[4]; HL.lastIndex = m.index + m[4].length; }
      }
      else if (m[6]) cls = "hl-num";
      atCommand = !!m[7];
      if (m[1]) atCommand = false;
      out += cls ? '<span class="' + cls + '">' + escapeHtml(tok) + "</span>" : escapeHtml(tok);
      last = m.index + tok.length;
      if (m[0].length === 0) HL.lastIndex++;
    }
    out += escapeHtml(text.slice(last));
    return out + "\n";
  }
  function initEditor() {
    var editor = document.getElementById("query");
    var pre = document.getElementById("query-highlight");
    var list = document.getElementById("query-complete");
    if (!editor || !pre || !list) return;
    var box = editor.parentNode;
    var words = { commands: {}, functions: {}, keywords: {}, fields: {} };
    var items = [], active = -1, loaded = null;
    function paint() {
      pre.innerHTML = highlight(editor.value, words);
      pre.scrollTop = editor.scrollTop;
    }
    function completeUrl() {
      var u = new URL(editor.getAttribute("data-complete"), location.href);
      var sel = document.getElementById("groups");
      u.searchParams.delete("group");
      if (sel) Array.prototype.forEach.call(sel.selectedOptions, function (o) { u.searchParams.append("group", o.value); });
      return u.toString();
    }
    function load() {
      var u = completeUrl();
      if (loaded === u) return Promise.resolve();
      loaded = u;
      return fetch(u, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (d) {
        if (!d) return;
        words = { commands: {}, functions: {}, keywords: {}, fields: {}, data: d };
        d.commands.forEach(function (c) { words.commands[c.toLowerCase()] = true; });
        d.functions.forEach(function (c) { words.functions[c.toLowerCase()] = true; });
        d.keywords.forEach(function (c) { words.keywords[c.toLowerCase()] = true; });
        d.fields.forEach(function (f) { words.fields[f.name] = true; });
        editor.setAttribute("data-completions", String(d.fields.length));
        paint();
      }).catch(function () { loaded = null; });
    }
    function close() {
      list.hidden = true; list.textContent = ""; items = []; active = -1;
      editor.setAttribute("aria-expanded", "false");
      editor.removeAttribute("aria-activedescendant");
    }
    function wordAt() {
      var end = editor.selectionStart, text = editor.value, start = end;
      while (start > 0 && /[\w@.$]/.test(text[start - 1])) start--;
      var before = text.slice(0, start).replace(/\s+$/, "");
      var atCommand = before === "" || before[before.length - 1] === "|";
      return { start: start, end: end, prefix: text.slice(start, end), atCommand: atCommand };
    }
    function choose(i) {
      var it = items[i];
      if (!it) return;
      var w = wordAt();
      var insert = it.text + (it.kind === "function" ? "(" : it.kind === "command" ? " " : "");
      editor.setRangeText(insert, w.start, w.end, "end");
      close();
      paint();
      editor.focus();
    }
    function mark(i) {
      active = i;
      Array.prototype.forEach.call(list.children, function (li, n) {
        li.setAttribute("aria-selected", n === i ? "true" : "false");
        if (n === i) { editor.setAttribute("aria-activedescendant", li.id); li.scrollIntoView({ block: "nearest" }); }
      });
    }
    function open(force) {
      var d = words.data;
      var w = wordAt();
      if (!d || (!force && w.prefix.length < 1)) { close(); return; }
      var p = w.prefix.toLowerCase(), found = [];
      function add(names, kind, note) {
        names.forEach(function (n) {
          var name = typeof n === "string" ? n : n.name;
          if (name.toLowerCase().indexOf(p) === 0 && name.toLowerCase() !== p)
            found.push({ text: name, kind: kind, note: note || (typeof n === "string" ? kind : kind + " · " + n.percent + "%") });
        });
      }
      if (w.atCommand) add(d.commands, "command");
      else { add(d.fields, "field"); add(d.functions, "function"); add(d.keywords, "keyword"); }
      items = found.slice(0, 50);
      if (!items.length) { close(); return; }
      list.textContent = "";
      items.forEach(function (it, n) {
        var li = document.createElement("li");
        li.id = "complete-" + n;
        li.setAttribute("role", "option");
        li.setAttribute("data-kind", it.kind);
        var name = document.createElement("span"); name.textContent = it.text;
        var note = document.createElement("small"); note.textContent = it.note;
        li.appendChild(name); li.appendChild(note);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(n); });
        list.appendChild(li);
      });
      list.hidden = false;
      editor.setAttribute("aria-expanded", "true");
      mark(0);
    }
    box.classList.add("live");
    paint();
    load();
    var sel = document.getElementById("groups");
    if (sel) sel.addEventListener("change", function () { load(); });
    editor.addEventListener("input", function () { paint(); load().then(function () { open(false); }); });
    editor.addEventListener("scroll", function () { pre.scrollTop = editor.scrollTop; });
    editor.addEventListener("blur", close);
    editor.addEventListener("keydown", function (e) {
      if (e.key === " " && e.ctrlKey) { e.preventDefault(); load().then(function () { open(true); }); return; }
      if (list.hidden) return;
      if (e.key === "ArrowDown") { e.preventDefault(); mark((active + 1) % items.length); }
      else if (e.key === "ArrowUp") { e.preventDefault(); mark((active - 1 + items.length) % items.length); }
      else if (e.key === "Enter" || e.key === "Tab") {
        if (e.ctrlKey || e.metaKey) return;
        e.preventDefault(); e.stopImmediatePropagation(); choose(active);
      }
      else if (e.key === "Escape") { e.preventDefault(); close(); }
    });
    // The sample buttons fill the editor in their own handler (registered after this one): repaint after it.
    $all("button[data-sample]").forEach(function (b) { b.addEventListener("click", function () { setTimeout(paint, 0); }); });
  }

  function init() {
    initTimezone();
    initTheme();
    initMenu();
    initTimeRange();
    initAutoRefresh();
    initPatternError();
    initClickToFilter();
    initPrettyJson();
    rememberChartWidth();
    initHistogram();
    initInsightsChart();
    initMetricCharts();
    initTail();
    initEditor();
    initInsights();
    document.body.setAttribute("data-console-ready", "1");
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
  document.addEventListener("htmx:afterSettle", function () { initHistogram(); initInsightsChart(); initMetricCharts(); });
})();
