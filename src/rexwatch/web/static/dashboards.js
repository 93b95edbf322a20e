// Dashboard page: fetch each widget's data from its own JSON endpoint and draw it. A slow or
// failing widget only affects itself. No inline scripts: the page carries data-* attributes only.
"use strict";

(function () {
  var SECONDS = { s: 1, m: 60, h: 3600, d: 86400 };
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svgEl(tag, attrs) {
    var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  function cssVar(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }
  function fmt(v) {
    if (v === null || v === undefined || isNaN(v)) return "–";
    var a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(2) + "G";
    if (a >= 1e6) return (v / 1e6).toFixed(2) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
    if (a >= 100 || v === Math.round(v)) return String(Math.round(v * 100) / 100);
    return v.toPrecision(3);
  }
  function last(s) { return s.values.length ? s.values[s.values.length - 1] : null; }

  // Series on one x axis (the union of their timestamps), with gaps as null.
  function align(series) {
    var set = {};
    series.forEach(function (s) { s.timestamps.forEach(function (t) { set[t] = 1; }); });
    var xs = Object.keys(set).map(Number).sort(function (a, b) { return a - b; });
    var at = {};
    xs.forEach(function (x, i) { at[x] = i; });
    var ys = series.map(function (s) {
      var out = xs.map(function () { return null; });
      s.timestamps.forEach(function (t, i) { out[at[t]] = s.values[i]; });
      return out;
    });
    return { xs: xs, ys: ys };
  }

  function annotationHook(data) {
    var ann = data.annotations || {};
    return function (u) {
      var ctx = u.ctx;
      ctx.save();
      (ann.horizontal || []).forEach(function (a) {
        if (typeof a.value !== "number") return;
        var y = u.valToPos(a.value, "y", true);
        ctx.strokeStyle = a.color || "#d62728";
        ctx.setLineDash([6, 4]);
        ctx.lineWidth = 1.5;
        ctx.beginPath(); ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y); ctx.stroke();
        if (a.label) { ctx.fillStyle = ctx.strokeStyle; ctx.fillText(a.label, u.bbox.left + 4, y - 4); }
      });
      (ann.vertical || []).forEach(function (a) {
        var t = Date.parse(a.value) / 1000;
        if (isNaN(t)) return;
        var x = u.valToPos(t, "x", true);
        ctx.strokeStyle = a.color || "#9467bd";
        ctx.setLineDash([4, 4]);
        ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
      });
      ctx.restore();
    };
  }

  function timeChart(body, data, bars) {
    var series = data.series;
    if (!series.length) { body.appendChild(el("p", { "class": "empty" }, "No data in this time range.")); return; }
    var a = align(series);
    var ys = a.ys;
    if (data.stacked) {
      // Stacked area: each series drawn on top of the ones before it.
      var acc = a.xs.map(function () { return 0; });
      ys = ys.map(function (col) {
        acc = acc.map(function (v, i) { return v + (col[i] || 0); });
        return acc.slice();
      });
    }
    var fg = cssVar("--fg", "#ddd");
    var left = (data.yAxis && data.yAxis.left) || {};
    var right = (data.yAxis && data.yAxis.right) || {};
    var hasRight = series.some(function (s) { return s.yAxis === "right"; });
    function range(b) {
      return function (u, min, max) {
        return [typeof b.min === "number" ? b.min : Math.min(min, 0), typeof b.max === "number" ? b.max : max];
      };
    }
    var axes = [{ stroke: fg, grid: { stroke: "rgba(128,128,128,.2)" } },
                { stroke: fg, grid: { stroke: "rgba(128,128,128,.2)" }, scale: "y" }];
    if (hasRight) axes.push({ stroke: fg, side: 1, scale: "y2", grid: { show: false } });
    var opts = {
      width: Math.max(200, body.clientWidth - 4),
      height: Math.max(120, body.clientHeight - 40),
      scales: { x: { time: true }, y: { range: range(left) }, y2: { range: range(right) } },
      tzDate: window.rexwatchTzDate || function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "UTC"); },
      axes: axes,
      legend: { show: data.legend !== "hidden" },
      series: [{}].concat(series.map(function (s) {
        var o = { label: s.label, stroke: s.color, width: 2, scale: s.yAxis === "right" ? "y2" : "y",
                  points: { show: s.values.length < 3 }, spanGaps: true };
        if (data.stacked) o.fill = s.color + "66";
        if (bars) { o.fill = s.color; o.paths = uPlot.paths.bars({ size: [0.8, 40] }); o.points = { show: false }; }
        return o;
      })),
      hooks: { draw: [annotationHook(data)] },
    };
    var chart = el("div", { "class": "chart" });
    body.appendChild(chart);
    new uPlot(opts, [a.xs].concat(ys), chart);
  }

  function singleValue(body, data) {
    var box = el("div", { "class": "sv" });
    data.series.forEach(function (s) {
      var d = el("div");
      var v = el("span", { "class": "sv-value" }, fmt(last(s)));
      v.style.color = s.color;
      d.appendChild(v);
      d.appendChild(el("span", { "class": "sv-label" }, s.label));
      box.appendChild(d);
    });
    if (!data.series.length) box.appendChild(el("p", { "class": "empty" }, "No data in this time range."));
    body.appendChild(box);
  }

  function legendItem(s, value) {
    var item = el("div", { "class": "legend-item" });
    var sw = el("span", { "class": "swatch" });
    sw.style.background = s.color;
    item.appendChild(sw);
    item.appendChild(el("span", null, s.label + ": " + fmt(value)));
    return item;
  }

  function gauge(body, data) {
    var left = (data.yAxis && data.yAxis.left) || {};
    var min = typeof left.min === "number" ? left.min : 0, max = typeof left.max === "number" ? left.max : 100;
    var box = el("div", { "class": "gauge" });
    data.series.forEach(function (s) {
      var v = last(s), frac = v === null ? 0 : Math.max(0, Math.min(1, (v - min) / ((max - min) || 1)));
      var svg = svgEl("svg", { viewBox: "0 0 120 70", width: "160", height: "94", role: "img",
                               "aria-label": s.label + " " + fmt(v) });
      function arc(f) {
        var ang = Math.PI * (1 - f);
        return "M 10 60 A 50 50 0 0 1 " + (60 + 50 * Math.cos(ang)).toFixed(2) + " " + (60 - 50 * Math.sin(ang)).toFixed(2);
      }
      svg.appendChild(svgEl("path", { d: arc(1), stroke: "rgba(128,128,128,.3)", "stroke-width": "10", fill: "none" }));
      if (frac > 0) svg.appendChild(svgEl("path", { d: arc(frac), stroke: s.color, "stroke-width": "10", fill: "none",
                                                    "class": "gauge-fill" }));
      var t = svgEl("text", { x: "60", y: "58", "text-anchor": "middle", fill: cssVar("--fg", "#ddd"), "font-size": "16",
                              "class": "gauge-value" });
      t.textContent = fmt(v);
      svg.appendChild(t);
      var wrap = el("div");
      wrap.appendChild(svg);
      wrap.appendChild(el("div", { "class": "sv-label" }, s.label + " (" + fmt(min) + "–" + fmt(max) + ")"));
      box.appendChild(wrap);
    });
    body.appendChild(box);
  }

  // Bar view: one bar per series with its value over the range (its latest datapoint).
  function barView(body, data) {
    var vals = data.series.map(last);
    var top = Math.max.apply(null, vals.map(function (v) { return Math.abs(v || 0); }).concat([1e-9]));
    data.series.forEach(function (s, i) {
      var row = el("div", { "class": "bar-row" });
      row.appendChild(el("span", { "class": "sv-label" }, s.label));
      var track = el("div");
      var fill = el("div", { "class": "bar-fill" });
      fill.style.width = (100 * Math.abs(vals[i] || 0) / top).toFixed(1) + "%";
      fill.style.background = s.color;
      track.appendChild(fill);
      row.appendChild(track);
      row.appendChild(el("span", { "class": "bar-value" }, fmt(vals[i])));
      body.appendChild(row);
    });
  }

  function pieView(body, data) {
    var vals = data.series.map(function (s) { return Math.max(0, last(s) || 0); });
    var total = vals.reduce(function (a, b) { return a + b; }, 0);
    var box = el("div", { "class": "pie" });
    var svg = svgEl("svg", { viewBox: "-1 -1 2 2", width: "150", height: "150", role: "img", "aria-label": "pie chart" });
    var angle = -Math.PI / 2;
    data.series.forEach(function (s, i) {
      if (!total || !vals[i]) return;
      var frac = vals[i] / total;
      var a2 = angle + frac * 2 * Math.PI;
      var path;
      if (frac >= 0.9999) {
        path = svgEl("circle", { cx: "0", cy: "0", r: "1", fill: s.color, "class": "slice" });
      } else {
        path = svgEl("path", { d: "M 0 0 L " + Math.cos(angle).toFixed(4) + " " + Math.sin(angle).toFixed(4) +
          " A 1 1 0 " + (frac > 0.5 ? 1 : 0) + " 1 " + Math.cos(a2).toFixed(4) + " " + Math.sin(a2).toFixed(4) + " Z",
          fill: s.color, "class": "slice" });
      }
      svg.appendChild(path);
      angle = a2;
    });
    box.appendChild(svg);
    var legend = el("div");
    data.series.forEach(function (s, i) { legend.appendChild(legendItem(s, vals[i])); });
    box.appendChild(legend);
    body.appendChild(box);
  }

  function metricTable(body, data) {
    var t = el("table");
    var head = el("tr");
    ["Label", "Last", "Min", "Max", "Average"].forEach(function (h) { head.appendChild(el("th", null, h)); });
    t.appendChild(head);
    data.series.forEach(function (s) {
      var v = s.values, tr = el("tr");
      var sum = v.reduce(function (a, b) { return a + b; }, 0);
      [s.label, fmt(last(s)), fmt(v.length ? Math.min.apply(null, v) : null), fmt(v.length ? Math.max.apply(null, v) : null),
       fmt(v.length ? sum / v.length : null)].forEach(function (c) { tr.appendChild(el("td", null, c)); });
      t.appendChild(tr);
    });
    body.appendChild(t);
  }

  function logTable(body, data) {
    if (!data.rows.length) { body.appendChild(el("p", { "class": "empty" }, "No results in this time range.")); return; }
    var t = el("table", { "class": "logs" });
    var head = el("tr");
    data.columns.forEach(function (c) { head.appendChild(el("th", null, c)); });
    t.appendChild(head);
    data.rows.forEach(function (r) {
      var tr = el("tr");
      r.forEach(function (c) { tr.appendChild(el("td", null, c === null ? "" : c)); });
      t.appendChild(tr);
    });
    body.appendChild(t);
  }

  function logChart(body, data, bars) {
    var palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
    var series = data.chart.series.map(function (s, i) {
      var ts = [], vs = [];
      s.values.forEach(function (v, j) { if (v !== null) { ts.push(data.chart.x[j]); vs.push(v); } });
      return { label: s.label, color: palette[i % palette.length], timestamps: ts, values: vs, yAxis: "left" };
    });
    timeChart(body, { series: series, annotations: {}, yAxis: {} }, bars);
  }

  function alarmList(body, data) {
    if (!data.alarms.length) { body.appendChild(el("p", { "class": "empty" }, "No alarms.")); return; }
    var t = el("table", { "class": "alarm-list" });
    data.alarms.forEach(function (a) {
      var tr = el("tr", { "data-state": a.state });
      var st = el("td");
      st.appendChild(el("span", { "class": "pill pill-" + a.state }, a.state));
      tr.appendChild(st);
      var nm = el("td");
      nm.appendChild(el("a", { href: a.url }, a.name));
      tr.appendChild(nm);
      tr.appendChild(el("td", { "class": "reason" }, a.reason));
      t.appendChild(tr);
    });
    body.appendChild(t);
  }

  function draw(w, data) {
    var body = w.querySelector(".body");
    body.textContent = "";
    var view = data.view || w.getAttribute("data-view");
    var points = 0;
    (data.series || []).forEach(function (s) { points += s.values.length; });
    if (data.type === "metric") {
      if (view === "singleValue") singleValue(body, data);
      else if (view === "gauge") gauge(body, data);
      else if (view === "bar") barView(body, data);
      else if (view === "pie") pieView(body, data);
      else if (view === "table") metricTable(body, data);
      else timeChart(body, data, false);
      w.setAttribute("data-series", String(data.series.length));
      w.setAttribute("data-points", String(points));
    } else if (data.type === "log") {
      if (data.chart) logChart(body, data, view === "bar"); else logTable(body, data);
      w.setAttribute("data-rows", String(data.rows.length));
    } else if (data.type === "alarm") {
      alarmList(body, data);
    }
    if (data.messages && data.messages.length) body.appendChild(el("p", { "class": "msgs" }, data.messages.join("; ")));
    var link = w.querySelector("a.explore");
    if (link && data.explorer) { link.href = data.explorer; link.hidden = false; }
  }

  // Arrange mode: move and resize widgets on the grid (buttons, or dragging the title and the corner),
  // then "Save layout" posts every widget's place; the server saves it through PutDashboard.
  function initArrange(grid) {
    var btn = document.getElementById("dash-arrange"), form = document.getElementById("dash-layout-form");
    if (!btn || !form) return;
    function n(w, a) { return parseInt(w.getAttribute(a), 10); }
    function place(w, x, y, wd, ht) {
      wd = Math.max(1, Math.min(24, wd)); ht = Math.max(1, Math.min(1000, ht));
      x = Math.max(0, Math.min(24 - wd, x)); y = Math.max(0, y);
      w.setAttribute("data-x", x); w.setAttribute("data-y", y); w.setAttribute("data-w", wd); w.setAttribute("data-h", ht);
      w.style.gridColumn = (x + 1) + " / span " + wd;
      w.style.gridRow = (y + 1) + " / span " + ht;
      var rows = 1;
      $all(".widget", grid).forEach(function (o) { rows = Math.max(rows, n(o, "data-y") + n(o, "data-h")); });
      grid.style.gridTemplateRows = "repeat(" + (rows + 2) + ", var(--dash-row))";
      document.getElementById("dash-layout").value = JSON.stringify($all(".widget", grid).map(function (o) {
        return { index: n(o, "data-index"), x: n(o, "data-x"), y: n(o, "data-y"), width: n(o, "data-w"), height: n(o, "data-h") };
      }));
    }
    var moves = [["←", "Move left", -1, 0, 0, 0], ["→", "Move right", 1, 0, 0, 0], ["↑", "Move up", 0, -1, 0, 0],
                 ["↓", "Move down", 0, 1, 0, 0], ["−w", "Narrower", 0, 0, -1, 0], ["+w", "Wider", 0, 0, 1, 0],
                 ["−h", "Shorter", 0, 0, 0, -1], ["+h", "Taller", 0, 0, 0, 1]];
    $all(".widget", grid).forEach(function (w) {
      var bar = el("div", { "class": "arrange" });
      moves.forEach(function (m) {
        var b = el("button", { type: "button", "aria-label": m[1] + " " + (w.getAttribute("aria-label") || "") }, m[0]);
        b.addEventListener("click", function () {
          place(w, n(w, "data-x") + m[2], n(w, "data-y") + m[3], n(w, "data-w") + m[4], n(w, "data-h") + m[5]);
        });
        bar.appendChild(b);
      });
      w.insertBefore(bar, w.firstChild);
      var grip = el("div", { "class": "grip", "aria-hidden": "true" });
      w.appendChild(grip);
      function drag(handle, resize) {
        handle.addEventListener("pointerdown", function (e) {
          if (!grid.classList.contains("arranging") || e.target.closest("button, a")) return;
          e.preventDefault();
          var sx = e.clientX, sy = e.clientY, x0 = n(w, "data-x"), y0 = n(w, "data-y"), w0 = n(w, "data-w"), h0 = n(w, "data-h");
          var col = grid.clientWidth / 24, row = w.getBoundingClientRect().height / h0;
          function move(ev) {
            var dx = Math.round((ev.clientX - sx) / col), dy = Math.round((ev.clientY - sy) / row);
            if (resize) place(w, x0, y0, w0 + dx, h0 + dy); else place(w, x0 + dx, y0 + dy, w0, h0);
          }
          function up() { document.removeEventListener("pointermove", move); document.removeEventListener("pointerup", up); }
          document.addEventListener("pointermove", move);
          document.addEventListener("pointerup", up);
        });
      }
      var head = w.querySelector("header");
      if (head) drag(head, false);
      drag(grip, true);
    });
    btn.addEventListener("click", function () {
      var on = grid.classList.toggle("arranging");
      btn.setAttribute("aria-pressed", on ? "true" : "false");
      form.hidden = !on;
      var first = $all(".widget", grid)[0];
      if (first) place(first, n(first, "data-x"), n(first, "data-y"), n(first, "data-w"), n(first, "data-h"));
    });
  }

  function load(w) {
    var src = w.getAttribute("data-src");
    w.setAttribute("data-state", "loading");
    fetch(src, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) {
        return r.json().then(function (j) { return { ok: r.ok, j: j }; });
      })
      .then(function (res) {
        if (!res.ok) throw new Error((res.j.error && res.j.error.message) || "the widget's data could not be read");
        draw(w, res.j);
        w.setAttribute("data-state", "ready");
      })
      .catch(function (e) {
        var body = w.querySelector(".body");
        body.textContent = "";
        body.appendChild(el("p", { "class": "error", role: "alert" }, e.message));
        w.setAttribute("data-state", "error");
      });
  }

  function loadAll() { $all(".widget[data-src]").forEach(load); }

  function init() {
    var grid = document.getElementById("dash-grid");
    if (!grid) return;
    // Places on the grid come as data attributes (the Content-Security-Policy allows no inline styles).
    grid.style.gridTemplateRows = "repeat(" + parseInt(grid.getAttribute("data-rows"), 10) + ", var(--dash-row))";
    $all(".widget", grid).forEach(function (w) {
      function n(a) { return parseInt(w.getAttribute(a), 10); }
      w.style.gridColumn = (n("data-x") + 1) + " / span " + n("data-w");
      w.style.gridRow = (n("data-y") + 1) + " / span " + n("data-h");
    });
    loadAll();
    var timer = null;
    function schedule(value) {
      if (timer) clearInterval(timer);
      timer = null;
      var m = /^(\d+)([smhd])$/.exec(value || "");
      if (m) timer = setInterval(loadAll, parseInt(m[1], 10) * SECONDS[m[2]] * 1000);
      grid.setAttribute("data-refresh", value || "");
    }
    schedule(grid.getAttribute("data-refresh"));
    var sel = document.getElementById("dash-refresh");
    if (sel) sel.addEventListener("change", function () {
      schedule(sel.value);
      var u = new URL(window.location.href);
      if (sel.value) u.searchParams.set("refresh", sel.value); else u.searchParams.delete("refresh");
      history.replaceState(null, "", u.toString());
    });
    // Choosing a variable's value applies it at once (the page is drawn again with it).
    $all("select[data-autosubmit-var]").forEach(function (v) {
      v.addEventListener("change", function () { v.form.requestSubmit ? v.form.requestSubmit() : v.form.submit(); });
    });
    initArrange(grid);
    var reload = document.getElementById("dash-reload");
    if (reload) reload.addEventListener("click", loadAll);
    var fs = document.getElementById("dash-fullscreen");
    if (fs) fs.addEventListener("click", function () {
      var on = grid.classList.toggle("fullscreen");
      fs.setAttribute("aria-pressed", on ? "true" : "false");
      loadAll();  // charts take their size from the widget when drawn
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && grid.classList.contains("fullscreen")) {
        grid.classList.remove("fullscreen");
        if (fs) fs.setAttribute("aria-pressed", "false");
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
