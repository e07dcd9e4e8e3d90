// The rxbatches dashboard: renders the states the server pushes over Server-Sent Events.
// No framework, no build step; data goes in with textContent only, never as HTML.
"use strict";

(function () {
  const token = document.querySelector('meta[name="rxbatches-token"]').content;
  const q = "?token=" + encodeURIComponent(token);
  const COUNTS = ["succeeded", "errored", "canceled", "expired"];
  // The state shown: the server sends it whole once, then what changed ("delta" events).
  const PARTS = ["processed", ...COUNTS]; // the segments of a progress bar
  const batches = new Map(); // id -> batch
  // id -> its row: {tr, the nodes it updates, shown: what they show}. Made once per batch,
  // then only the nodes whose value changed are written (no row rebuilt, no other cell).
  const rows = new Map();
  const expiries = new Map(); // id -> row: the countdowns of batches not ended
  let order = [];
  let meta = { batches_error: null, listed: false };
  let stores = [];

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function time(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return d.toLocaleString(undefined, {
      month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
  }

  function countdown(at, now) {
    // Batches expire 24 h after they are made: minutes while over an hour is left (the
    // text, so the cell, changes once a minute), seconds only in the last hour.
    let s = Math.floor((at - now) / 1000);
    if (s <= 0) return "expired";
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    return h ? h + "h " + m + "m" : m ? m + "m " + s + "s" : s + "s";
  }

  function progress(counts, size) {
    // The API shows the outcomes only at the end: the size is the server's first sum.
    const total = Math.max(size || 0, COUNTS.reduce((n, k) => n + counts[k], counts.processing));
    const done = total - counts.processing;
    // The API counts processing down while a batch runs; the outcomes appear at its end.
    const parts = { processed: done - COUNTS.reduce((n, k) => n + counts[k], 0) };
    for (const kind of COUNTS) parts[kind] = counts[kind];
    const widths = {};
    for (const kind of PARTS) widths[kind] = (total ? (100 * parts[kind]) / total : 0) + "%";
    // While it runs, only what is left is known for sure (the size may be a first sight).
    const text = (counts.processing ? counts.processing + " left of " + total
      : done + " / " + total + " processed") +
      COUNTS.filter((k) => counts[k]).map((k) => " · " + counts[k] + " " + k).join("");
    return { widths, text };
  }

  function bar(counts, size) {
    const { widths, text } = progress(counts, size);
    const node = el("div", { class: "bar" });
    for (const kind of PARTS) {
      const part = el("span", { class: kind });
      part.style.width = widths[kind];
      node.append(part);
    }
    return [node, el("div", { class: "counts" }, text)];
  }

  async function cancel(id, button) {
    button.disabled = true;
    button.textContent = "Canceling…";
    try {
      const answer = await fetch("batches/" + encodeURIComponent(id) + "/cancel", {
        method: "POST", headers: { "X-Dashboard-Token": token }, credentials: "same-origin",
      });
      if (!answer.ok) throw new Error("HTTP " + answer.status);
    } catch (error) {
      button.disabled = false;
      button.textContent = "Cancel";
      button.title = String(error);
    }
  }

  function actions(id, status) {
    if (status === "in_progress") {
      const button = el("button", { type: "button", class: "cancel" }, "Cancel");
      button.addEventListener("click", () => cancel(id, button));
      return [button];
    }
    if (status === "ended") {
      return [el("a", {
        class: "download", href: "batches/" + encodeURIComponent(id) + "/results" + q,
        download: id + "_results.jsonl",
      }, "Results")];
    }
    return [];
  }

  function newRow(id) {
    const r = { shown: {}, parts: {}, expiresAt: 0 };
    r.status = el("span", { class: "status" });
    r.bar = el("div", { class: "bar" });
    for (const kind of PARTS) r.bar.append(r.parts[kind] = el("span", { class: kind }));
    r.counts = el("div", { class: "counts" });
    r.created = el("td");
    r.ended = el("td");
    r.countdown = el("span", { class: "countdown" });
    r.action = el("td");
    // The progress and the countdown are in boxes of a fixed height (see app.css): a
    // change of their text lays out that box, not the table.
    r.tr = el("tr", { "data-batch-id": id },
      el("td", { class: "id" }, id), el("td", {}, r.status),
      el("td", {}, el("div", { class: "progress" }, r.bar, r.counts)),
      r.created, r.ended, el("td", {}, r.countdown), r.action);
    return r;
  }

  function show(r, key, value, write) {
    // The DOM is written only when what a node shows changes.
    if (r.shown[key] !== value) {
      r.shown[key] = value;
      write(value);
    }
  }

  function fill(r, b) {
    const status = b.processing_status;
    show(r, "status", status, (v) => {
      r.tr.dataset.status = v;
      r.status.dataset.status = v;
      r.status.textContent = v.replace("_", " ");
    });
    const { widths, text } = progress(b.request_counts, b.total);
    for (const kind of PARTS) show(r, kind, widths[kind], (w) => { r.parts[kind].style.width = w; });
    show(r, "counts", text, (t) => {
      r.counts.textContent = t;
      r.counts.title = t; // the whole of it, where the column is too narrow
    });
    show(r, "created", b.created_at, (iso) => { r.created.textContent = time(iso); });
    show(r, "ended", b.ended_at, (iso) => { r.ended.textContent = time(iso); });
    show(r, "action", status, (v) => r.action.replaceChildren(...actions(b.id, v)));
    if (status === "ended") {
      expiries.delete(b.id);
      show(r, "countdown", "", (t) => { r.countdown.textContent = t; });
    } else {
      r.expiresAt = Date.parse(b.expires_at);
      expiries.set(b.id, r); // its countdown is written by tick()
    }
  }

  // SVG is built with createElementNS and setAttribute only: nothing parsed as markup,
  // no style attribute (the CSP allows none); the colours are the stylesheet's classes.
  const SVG_NS = "http://www.w3.org/2000/svg";
  const SERIES = ["succeeded", "errored", "other"]; // a timeline point: [at, ...SERIES]

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function chart(timeline) {
    // Cumulative final results over time, stacked: succeeded, errored, then the others.
    const figure = el("figure", { class: "chart", "data-chart": "timeline" });
    let points = (timeline && timeline.points) || [];
    if (points.length === 0) {
      figure.append(el("figcaption", { class: "muted" }, "No result with an arrival time yet."));
      return figure;
    }
    const W = 300;
    const H = 80;
    const last = points[points.length - 1];
    if (last[0] - points[0][0] < 1e-3) {
      points = [[points[0][0] - 1, 0, 0, 0], ...points]; // all at once: a step
    }
    const t0 = points[0][0];
    const span = last[0] - t0;
    // A point is the end of a bucket of the span: its results arrived within that bucket,
    // none between it and the point before (empty buckets give no point).
    const width = span / (timeline.buckets || 1);
    const top = Math.max(1, last[1] + last[2] + last[3]);
    const x = (at) => ((W * (at - t0)) / span).toFixed(2);
    const y = (n) => (H - (H * n) / top).toFixed(2);
    const times = [t0];
    const held = [0]; // where each point's values are reached from: [index of the values]
    for (let i = 1; i < points.length; i++) {
      const from = Math.max(points[i - 1][0], points[i][0] - width);
      if (from > points[i - 1][0]) {
        times.push(from);
        held.push(i - 1);
      }
      times.push(points[i][0]);
      held.push(i);
    }
    const graph = svg("svg", {
      viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img",
    }, svg("title", {}, "Final results over time"));
    let below = held.map(() => 0);
    SERIES.forEach((name, k) => {
      const above = held.map((i, j) => below[j] + points[i][k + 1]);
      if (last[k + 1] > 0) {
        const upper = times.map((at, j) => x(at) + "," + y(above[j]));
        const lower = times.map((at, j) => x(at) + "," + y(below[j])).reverse();
        graph.append(svg("polygon", {
          class: "series " + name, "data-series": name, points: upper.concat(lower).join(" "),
        }));
      }
      below = above;
    });
    graph.append(svg("line", { class: "axis", x1: 0, y1: H, x2: W, y2: H }));
    const legend = SERIES.map((name, k) => [name, last[k + 1]]).filter(([, n]) => n > 0)
      .map(([name, n]) => n + " " + (name === "other" ? "expired or canceled" : name));
    figure.append(graph, el("figcaption", { class: "muted" },
      time(new Date(t0 * 1000).toISOString()) + " → " +
      time(new Date(last[0] * 1000).toISOString()) + " · " + legend.join(" · ")));
    return figure;
  }

  function errorsTable(errors) {
    const entries = Object.entries(errors || {});
    if (entries.length === 0) return el("p", { class: "muted no-errors" }, "No errors.");
    const body = el("tbody");
    for (const [kind, count] of entries) {
      body.append(el("tr", { "data-error": kind },
        el("td", {}, kind), el("td", { class: "num" }, count)));
    }
    return el("table", { class: "errors" },
      el("thead", {}, el("tr", {}, el("th", {}, "Error"), el("th", { class: "num" }, "Requests"))),
      body);
  }

  // What a job's batch is doing: the store's state, or the account's live status.
  const JOB_STATES = {
    intent: "being created", created: "submitted", ended: "ended, storing results",
    done: "results stored", abandoned: "abandoned",
  };

  function jobBatches(list) {
    if (!list || list.length === 0) return el("p", { class: "muted no-batches" }, "No batch yet.");
    const body = el("tbody");
    for (const b of list) {
      const live = b.id ? batches.get(b.id) : undefined;
      const state = live && b.state === "created"
        ? live.processing_status.replace("_", " ") + (live.request_counts.processing
          ? " · " + live.request_counts.processing + " left" : "")
        : JOB_STATES[b.state] || b.state;
      body.append(el("tr", { "data-job-batch": b.id || "", "data-state": b.state },
        el("td", { class: "num" }, b.position + 1), el("td", { class: "id" }, b.id || "—"),
        el("td", {}, state), el("td", { class: "num" }, b.requests)));
    }
    return el("div", { class: "job-batches" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { class: "num" }, "#"), el("th", {}, "Batch"),
        el("th", {}, "State"), el("th", { class: "num" }, "Requests"))),
      body));
  }

  function money(cost) {
    return cost === null || cost === undefined ? "unknown" : "$" + cost.toFixed(4);
  }

  function storeCard(s, index) {
    const card = el("div", { class: "store", "data-store": s.name }, el("h3", {}, s.name));
    if (s.error) {
      card.append(el("p", { class: "error" }, s.error));
      return card;
    }
    const m = s.summary;
    const u = m.usage;
    const rows = [
      ["requests", m.requests], ["succeeded", m.succeeded], ["errored", m.errored],
      ["expired", m.expired], ["canceled", m.canceled], ["pending", m.pending],
      ["batches", m.batches + (m.live_batches.length ? " (" + m.live_batches.length + " live)" : "")],
      ["input tokens", u.input_tokens], ["output tokens", u.output_tokens],
      ["cache write tokens", u.cache_creation_input_tokens],
      ["cache read tokens", u.cache_read_input_tokens],
      ["estimated cost", money(m.cost_usd)],
    ];
    const counts = {
      processing: m.pending, succeeded: m.succeeded, errored: m.errored,
      canceled: m.canceled, expired: m.expired,
    };
    const list = el("dl");
    for (const [name, value] of rows) {
      list.append(el("dt", {}, name), el("dd", { "data-field": name }, value));
    }
    const stem = s.name.replace(/\.[^.]*$/, "") || "job";
    const exported = el("a", {
      class: "export", href: "stores/" + index + "/export" + q, download: stem + "_export.jsonl",
    }, "Export results");
    card.append(el("div", { class: "store-body" },
      el("div", { class: "store-totals" }, ...bar(counts), list),
      el("div", { class: "store-details" },
        el("h4", {}, "Results over time"), chart(s.timeline),
        el("h4", {}, "Errors"), errorsTable(s.errors),
        el("h4", {}, "Batches"), jobBatches(s.batches),
        el("p", { class: "actions" }, exported))));
    return card;
  }

  function full(state) {
    batches.clear();
    rows.clear();
    expiries.clear();
    for (const b of state.batches) batches.set(b.id, b);
    order = state.batches.map((b) => b.id);
    meta = { batches_error: state.batches_error, listed: state.listed };
    stores = state.stores;
    render(true);
  }

  function apply(change) {
    for (const id of change.removed) {
      batches.delete(id);
      rows.delete(id);
      expiries.delete(id);
    }
    for (const b of change.upsert) {
      batches.set(b.id, b);
      const r = rows.get(b.id);
      if (r) fill(r, b); // in place; a new batch's row is made by render (a new order)
    }
    if (change.order) order = change.order;
    meta = { batches_error: change.batches_error, listed: change.listed };
    if (change.stores) stores = change.stores;
    // A job's card shows the live status of its batches: redrawn when one of them moved.
    const jobMoved = change.upsert.some((b) => stores.some(
      (s) => (s.batches || []).some((j) => j.id === b.id)));
    render(Boolean(change.order), Boolean(change.stores) || jobMoved);
  }

  function row(id) {
    let r = rows.get(id);
    if (!r) {
      r = newRow(id);
      fill(r, batches.get(id));
      rows.set(id, r);
    }
    return r.tr;
  }

  function render(reordered, storesChanged = true) {
    if (reordered) {
      // Only the rows out of place move (a new batch: one row in, the last one out),
      // rather than the whole table taken out and put back.
      const body = document.querySelector("#batches tbody");
      let next = body.firstChild; // the rows before it are the order's first ones
      for (const id of order) {
        const tr = row(id);
        if (tr === next) next = next.nextSibling;
        else body.insertBefore(tr, next);
      }
      while (next) {
        const stale = next;
        next = next.nextSibling;
        stale.remove();
      }
    }
    tick();
    document.getElementById("batch-count").textContent = "(" + order.length + ")";
    document.getElementById("no-batches").hidden = !meta.listed || order.length > 0;
    const error = document.getElementById("batches-error");
    error.hidden = !meta.batches_error;
    error.textContent = meta.batches_error || "";
    if (storesChanged) {
      document.getElementById("stores-section").hidden = stores.length === 0;
      document.getElementById("stores").replaceChildren(...stores.map(storeCard));
    }
    document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
  }

  function tick() {
    const now = Date.now();
    for (const r of expiries.values()) {
      show(r, "countdown", countdown(r.expiresAt, now), (t) => { r.countdown.textContent = t; });
    }
  }

  function connect() {
    const connection = document.getElementById("connection");
    const source = new EventSource("events" + q);
    source.addEventListener("open", () => {
      connection.dataset.state = "live";
      connection.textContent = "live";
    });
    source.addEventListener("error", () => {
      connection.dataset.state = "lost";
      connection.textContent = "reconnecting…";
    });
    source.addEventListener("state", (event) => full(JSON.parse(event.data)));
    source.addEventListener("delta", (event) => apply(JSON.parse(event.data)));
  }

  setInterval(tick, 1000);
  connect();
})();
