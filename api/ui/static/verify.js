// The verify page: proof bundles checked in the browser, step by step (plain JavaScript).
//
// Input: one bundle (JSON) or an export (`ledger export`: JSONL, one bundle a line),
// told apart by content. Per bundle, with S the bundle's root, C the root its audit path
// leads to and R the root the registry holds for its batch (asked through the server):
//   record  the record has RFC 8785 canonical bytes (neutral when absent: erased or hash-only)
//   leaf    SHA-256(0x00 || those bytes) is the bundle's leaf_hash (neutral without a record)
//   path    the RFC 9162 §2.1.3.2 walk from leaf_hash at leaf_index in tree_size leads to S,
//           or to R when the registry answered (then a wrong S is the root's fault, not the path's)
//   root    S is R (when the registry answered), else S is C
//   anchor  this server's registry holds the batch with S, tree_size, block and time
// So a changed record byte is red at "leaf", a changed leaf_index or path element at "path",
// a changed root at "root" (and "anchor"), a changed batch id or registry at "anchor".
// Hashing is WebCrypto's; nothing of a record leaves the page unless the user presses
// "Check on the server". The anchor call sends only anchors (chain, registry, batch, root,
// size, block, time), one per distinct batch.
"use strict";

(function () {
  const MAX_FILE_BYTES = 64 * 1024 * 1024;
  const MAX_ROWS = 200; // rows rendered; the summary counts them all
  const MAX_FAILURES_LISTED = 20;
  const MAX_ANCHORS_PER_CALL = 256; // the server's cap (api/ui/verify_api.py)
  const MAX_SERVER_RECORDS = 10000; // POST /v1/verify's cap
  const MAX_PATH = 64;
  const FORMAT = "credit-anchor/proof-bundle/v1";
  const HASH_ALG = "sha256-rfc6962";
  const HEX32 = /^0x[0-9a-f]{64}$/;
  const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
  const TIMESTAMP = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$/;
  const STEPS = ["record", "leaf", "path", "root", "anchor"];
  const encoder = new TextEncoder();

  let text = {}; // labels in the page's language, from data-* of #verify-text
  let lastBundles = [];

  function say(name, values) {
    let out = text[name] || name;
    for (const key in values || {}) out = out.split("{" + key + "}").join(String(values[key]));
    return out;
  }

  function el(tag, className, content) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined) node.textContent = content;
    return node;
  }

  // -- hashing ---------------------------------------------------------------------------

  function hexToBytes(hex) {
    const bytes = new Uint8Array((hex.length - 2) / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.substr(2 + 2 * i, 2), 16);
    return bytes;
  }

  const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
  function bytesToHex(buffer) {
    const bytes = new Uint8Array(buffer);
    let out = "0x";
    for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
    return out;
  }

  async function sha256Hex(bytes) {
    return bytesToHex(await crypto.subtle.digest("SHA-256", bytes));
  }

  function leafHash(canonicalText) {
    const body = encoder.encode(canonicalText);
    const data = new Uint8Array(body.length + 1); // data[0] = 0x00: RFC 6962 leaf prefix
    data.set(body, 1);
    return sha256Hex(data);
  }

  // Interior nodes, memoised: bundles of one batch share most of their paths.
  const nodes = new Map();
  function nodeHash(left, right) {
    const key = left + right;
    let found = nodes.get(key);
    if (found === undefined) {
      const data = new Uint8Array(65); // data[0] = 0x01: RFC 6962 node prefix
      data[0] = 1;
      data.set(hexToBytes(left), 1);
      data.set(hexToBytes(right), 33);
      found = sha256Hex(data);
      nodes.set(key, found);
    }
    return found;
  }

  /** RFC 9162 §2.1.3.2: the root the path leads to, or a reason it has the wrong shape. */
  async function rootFromPath(leaf, index, size, path) {
    if (index >= size) return { error: say("path_index", { index: index, size: size }) };
    let fn = index;
    let sn = size - 1;
    let r = leaf;
    for (const p of path) {
      if (sn === 0) return { error: say("path_long", { n: path.length }) };
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    if (sn !== 0) return { error: say("path_short", { n: path.length }) };
    return { root: r };
  }

  // -- reading the file ------------------------------------------------------------------

  /** Bundles from the file's text: one JSON value, else JSON lines. Throws a message. */
  function parseBundles(content) {
    const trimmed = content.trim();
    if (!trimmed) throw new Error(say("empty_file"));
    try {
      const whole = JSON.parse(trimmed);
      return Array.isArray(whole) ? whole : [whole];
    } catch (wholeError) {
      const lines = content.split("\n");
      if (lines.filter((line) => line.trim()).length < 2) {
        throw new Error(say("bad_json", { line: 1, reason: wholeError.message }));
      }
      const bundles = [];
      lines.forEach(function (line, i) {
        if (!line.trim()) return;
        try {
          bundles.push(JSON.parse(line));
        } catch (lineError) {
          throw new Error(say("bad_json", { line: i + 1, reason: lineError.message }));
        }
      });
      return bundles;
    }
  }

  /** Why ``b`` is not a bundle of the fixed format, or null. */
  function formatProblem(b) {
    const index = Number.isSafeInteger;
    if (b === null || typeof b !== "object" || Array.isArray(b)) return "$ " + say("not_object");
    if (b.format !== FORMAT) return "$.format ≠ " + FORMAT;
    if (b.hash_alg !== HASH_ALG) return "$.hash_alg ≠ " + HASH_ALG;
    for (const name of ["leaf_hash", "root", "batch_id"]) {
      if (typeof b[name] !== "string" || !HEX32.test(b[name])) return "$." + name + " " + say("not_hex32");
    }
    if (!index(b.tree_size) || b.tree_size < 1) return "$.tree_size " + say("not_count");
    if (!index(b.leaf_index) || b.leaf_index < 0) return "$.leaf_index " + say("not_count");
    if (!Array.isArray(b.audit_path) || b.audit_path.length > MAX_PATH) return "$.audit_path " + say("not_path");
    for (let i = 0; i < b.audit_path.length; i++) {
      if (typeof b.audit_path[i] !== "string" || !HEX32.test(b.audit_path[i])) {
        return "$.audit_path[" + i + "] " + say("not_hex32");
      }
    }
    if ("record" in b && (b.record === null || typeof b.record !== "object" || Array.isArray(b.record))) {
      return "$.record " + say("not_object");
    }
    const a = b.anchor;
    if (a === null || typeof a !== "object") return "$.anchor " + say("not_object");
    if (!index(a.chain_id) || a.chain_id < 1) return "$.anchor.chain_id " + say("not_count");
    if (typeof a.registry !== "string" || !ADDRESS.test(a.registry)) return "$.anchor.registry " + say("not_address");
    if (!index(a.block_number) || a.block_number < 0) return "$.anchor.block_number " + say("not_count");
    if (typeof a.block_timestamp !== "string" || !TIMESTAMP.test(a.block_timestamp)) {
      return "$.anchor.block_timestamp " + say("not_time");
    }
    return null;
  }

  // -- checking --------------------------------------------------------------------------

  function step(state, message) {
    return { state: state, message: message };
  }

  /** The math of one bundle: record, leaf and the root its path leads to. */
  async function checkMath(b) {
    const result = { bundle: b, steps: {} };
    const problem = formatProblem(b);
    if (problem) {
      result.format = problem;
      return result;
    }
    const s = result.steps;
    if (!("record" in b)) {
      s.record = step("neutral", say("record_absent"));
      s.leaf = step("neutral", say("leaf_unchecked"));
    } else {
      let canonicalText = null;
      try {
        canonicalText = window.CreditAnchorJcs.canonical(b.record, "$.record");
      } catch (error) {
        s.record = step("bad", say("record_bad", { reason: error.message }));
        s.leaf = step("neutral", say("leaf_unchecked"));
      }
      if (canonicalText !== null) {
        s.record = step("ok", say("record_ok", { n: encoder.encode(canonicalText).length }));
        const computed = await leafHash(canonicalText);
        s.leaf = computed === b.leaf_hash
          ? step("ok", say("leaf_ok", { hash: short(computed) }))
          : step("bad", say("leaf_bad", { computed: short(computed), stated: short(b.leaf_hash) }));
      }
    }
    const walked = await rootFromPath(b.leaf_hash, b.leaf_index, b.tree_size, b.audit_path);
    result.computedRoot = walked.root || null;
    result.pathError = walked.error || null;
    return result;
  }

  function claimOf(b) {
    const a = b.anchor;
    return {
      chain_id: a.chain_id, registry: a.registry, batch_id: b.batch_id, root: b.root,
      tree_size: b.tree_size, block_number: a.block_number, block_timestamp: a.block_timestamp,
    };
  }

  async function postJson(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    if (!response.ok) {
      const detail = data && (data.detail || data.title);
      throw new Error(say("server_error", { status: response.status, detail: detail || "" }));
    }
    return data;
  }

  /** Distinct anchors asked of the server, a call per MAX_ANCHORS_PER_CALL; key -> answer. */
  async function askAnchors(results) {
    const claims = new Map();
    for (const r of results) {
      if (!r.format) {
        const claim = claimOf(r.bundle);
        r.claimKey = JSON.stringify(claim);
        claims.set(r.claimKey, claim);
      }
    }
    const keys = Array.from(claims.keys());
    const answers = new Map();
    const asked = { chain_id: null, registry: null, error: null };
    for (let i = 0; i < keys.length; i += MAX_ANCHORS_PER_CALL) {
      const part = keys.slice(i, i + MAX_ANCHORS_PER_CALL);
      try {
        const data = await postJson("/ui/api/anchor", { anchors: part.map((k) => claims.get(k)) });
        asked.chain_id = data.chain_id;
        asked.registry = data.registry;
        part.forEach((k, j) => answers.set(k, data.results[j]));
      } catch (error) {
        asked.error = error.message;
      }
    }
    return { answers: answers, asked: asked };
  }

  /** path, root and anchor of one bundle, once the registry's answer is known. */
  function judge(r, answer, asked) {
    const s = r.steps;
    const b = r.bundle;
    const registryRoot = answer && answer.registry_root;
    const C = r.computedRoot;
    if (r.pathError) {
      s.path = step("bad", r.pathError);
    } else if (C === b.root || (registryRoot && C === registryRoot)) {
      s.path = step("ok", say("path_ok", { n: b.audit_path.length, root: short(C) }));
    } else {
      s.path = step("bad", say("path_bad", { computed: short(C), stated: short(b.root) }));
    }
    if (registryRoot && registryRoot === b.root) {
      s.root = step("ok", say("root_registry", { root: short(b.root) }));
    } else if (registryRoot) {
      s.root = step("bad", say("root_bad_registry", { stated: short(b.root), registry: short(registryRoot) }));
    } else if (C === b.root) {
      s.root = step("ok", say("root_ok", { root: short(b.root) }));
    } else {
      s.root = step("neutral", say("root_unknown"));
    }
    if (answer && answer.ok) {
      s.anchor = step("ok", say("anchor_ok", { chain: asked.chain_id, registry: asked.registry, batch: short(b.batch_id) }));
    } else if (answer) {
      s.anchor = step("bad", answer.problem);
    } else {
      s.anchor = step("bad", say("anchor_unasked", { reason: asked.error || "" }));
    }
  }

  function firstFailure(r) {
    if (r.format) return { name: "format", message: r.format };
    for (const name of STEPS) {
      if (r.steps[name].state === "bad") return { name: name, message: r.steps[name].message };
    }
    return null;
  }

  function short(hash) {
    return hash ? hash.slice(0, 10) + "…" + hash.slice(-6) : "";
  }

  // -- showing ---------------------------------------------------------------------------

  function stepItem(name, s) {
    const mark = s.state === "ok" ? "✓ " : s.state === "bad" ? "✗ " : "– ";
    const item = el("li", "step " + s.state);
    item.dataset.step = name;
    item.dataset.state = s.state;
    item.append(el("strong", null, mark + say("step_" + name)), document.createTextNode(": " + s.message));
    return item;
  }

  function stepsList(r) {
    const list = el("ol", "steps");
    if (r.format) {
      const item = el("li", "step bad", "✗ " + say("step_format") + ": " + r.format);
      item.dataset.step = "format";
      item.dataset.state = "bad";
      list.append(item);
      return list;
    }
    for (const name of STEPS) list.append(stepItem(name, r.steps[name]));
    return list;
  }

  function render(results, asked, elapsedMs) {
    const out = document.getElementById("verify-results");
    const failed = results.filter((r) => firstFailure(r) !== null);
    const fragment = document.createDocumentFragment();
    const summary = el("p", "summary " + (failed.length ? "bad" : "ok"));
    summary.id = "verify-summary";
    summary.setAttribute("role", "status");
    if (results.length === 1) {
      const f = firstFailure(results[0]);
      summary.textContent = f ? say("summary_one_bad", { step: say("step_" + f.name) }) : say("summary_one_ok");
    } else {
      summary.textContent = say("summary", {
        total: results.length, ok: results.length - failed.length, failed: failed.length,
      });
    }
    fragment.append(summary);
    if (asked.registry) {
      fragment.append(el("p", "asked", say("asked", { chain: asked.chain_id, registry: asked.registry })));
    } else if (asked.error) {
      fragment.append(el("p", "error", say("anchor_unasked", { reason: asked.error })));
    }
    if (failed.length && results.length > 1) {
      fragment.append(el("h2", null, say("failures")));
      const list = el("ul", "failures");
      list.id = "verify-failures";
      for (const r of failed.slice(0, MAX_FAILURES_LISTED)) {
        const f = firstFailure(r);
        const item = el("li", "bad", say("row", { n: r.position + 1 }) + " — ✗ " + say("step_" + f.name) + ": " + f.message);
        item.dataset.step = f.name;
        list.append(item);
      }
      if (failed.length > MAX_FAILURES_LISTED) {
        list.append(el("li", "help", say("more_failures", { n: failed.length - MAX_FAILURES_LISTED })));
      }
      fragment.append(list);
    }
    if (results.length === 1) {
      const only = stepsList(results[0]);
      only.id = "verify-steps";
      fragment.append(only);
    } else {
      fragment.append(rowsTable(results));
    }
    out.replaceChildren(fragment);
    out.dataset.state = "done";
    out.dataset.ms = String(Math.round(elapsedMs));
    window.__verifyStats = {
      bundles: results.length, verified: results.length - failed.length,
      failed: failed.length, ms: elapsedMs,
    };
    showServerCheck(results.some((r) => !r.format && "record" in r.bundle));
  }

  /** The server-side check is offered (to partner and auditor keys) once records are read. */
  function showServerCheck(shown) {
    const section = document.getElementById("server-check");
    if (!section) return;
    section.hidden = !shown;
    const box = document.getElementById("server-result");
    box.textContent = "";
    delete box.dataset.state;
  }

  function rowsTable(results) {
    const wrap = el("div", "table-wrap");
    if (results.length > MAX_ROWS) {
      wrap.append(el("p", "help", say("rows_limited", { shown: MAX_ROWS, total: results.length })));
    }
    const table = el("table", "rows");
    table.id = "verify-rows";
    const head = el("tr");
    head.append(el("th", "num", "#"), el("th", null, say("batch")));
    for (const name of STEPS) head.append(el("th", null, say("step_" + name)));
    table.append(el("thead"));
    table.tHead.append(head);
    const body = el("tbody");
    for (const r of results.slice(0, MAX_ROWS)) {
      const row = el("tr");
      row.append(el("td", "num", String(r.position + 1)));
      row.append(el("td", "hash", r.format ? "" : r.bundle.batch_id.slice(0, 10) + "…"));
      if (r.format) {
        const cell = el("td", "bad", "✗ " + say("step_format") + ": " + r.format);
        cell.colSpan = STEPS.length;
        row.append(cell);
      } else {
        for (const name of STEPS) {
          const s = r.steps[name];
          // A mark per cell keeps 1,000 rows narrow enough for a phone; the message is in
          // the failures list above, and in the cell's title and accessible label.
          const cell = el("td", s.state, s.state === "ok" ? "✓" : s.state === "bad" ? "✗" : "–");
          cell.title = s.message;
          cell.setAttribute("aria-label", say("step_" + name) + ": " + s.message);
          cell.dataset.state = s.state;
          row.append(cell);
        }
      }
      body.append(row);
    }
    table.append(body);
    wrap.append(table);
    return wrap;
  }

  function showError(message) {
    const out = document.getElementById("verify-results");
    const box = el("p", "error", message);
    box.setAttribute("role", "alert");
    box.id = "verify-error";
    out.replaceChildren(box);
    out.dataset.state = "error";
    showServerCheck(false);
  }

  async function verifyFile(file) {
    const started = performance.now();
    const out = document.getElementById("verify-results");
    out.dataset.state = "working";
    if (file.size > MAX_FILE_BYTES) {
      showError(say("too_big", { mb: MAX_FILE_BYTES / 1024 / 1024 }));
      return;
    }
    let bundles;
    try {
      bundles = parseBundles(await file.text());
    } catch (error) {
      showError(error.message);
      return;
    }
    out.replaceChildren(el("p", "help", say("working", { n: bundles.length })));
    const results = await Promise.all(bundles.map(checkMath));
    results.forEach((r, i) => { r.position = i; });
    const { answers, asked } = await askAnchors(results);
    for (const r of results) {
      if (!r.format) judge(r, answers.get(r.claimKey), asked);
    }
    lastBundles = bundles;
    render(results, asked, performance.now() - started);
  }

  async function checkOnServer() {
    const records = lastBundles
      .filter((b) => b && typeof b === "object" && b.record && typeof b.record === "object")
      .map((b) => b.record)
      .slice(0, MAX_SERVER_RECORDS);
    const box = document.getElementById("server-result");
    box.textContent = say("server_asking", { n: records.length });
    try {
      const data = await postJson("/ui/api/verify", { records: records });
      const c = data.counts;
      box.textContent = say("server_counts", {
        n: records.length, anchored: c.anchored, pending: c.pending, unknown: c.unknown,
        mismatch: c.mismatch, erased: c.erased,
      });
      box.dataset.state = "done";
    } catch (error) {
      box.textContent = error.message;
      box.dataset.state = "error";
    }
  }

  function start() {
    const form = document.getElementById("verify-form");
    if (!form) return;
    text = Object.assign({}, document.getElementById("verify-text").dataset);
    const input = document.getElementById("bundle-file");
    const zone = document.getElementById("dropzone");
    document.getElementById("verify-js").hidden = false; // shown only where script runs
    if (!(window.crypto && window.crypto.subtle)) {
      showError(say("no_crypto"));
      input.disabled = true;
      return;
    }
    form.addEventListener("submit", (event) => event.preventDefault());
    input.addEventListener("change", function () {
      if (input.files && input.files.length) verifyFile(input.files[0]);
    });
    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("over");
      const files = event.dataTransfer && event.dataTransfer.files;
      if (files && files.length) verifyFile(files[0]);
    });
    const button = document.getElementById("server-check-button");
    if (button) button.addEventListener("click", checkOnServer);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
