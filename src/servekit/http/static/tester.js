// servekit's tester page. Reads its configuration from #servekit-config (the model, its
// signature's JSON Schema, the example request, whether auth and async are on), shows the
// signature, sends requests and renders code samples. No dependencies, no build step.
// Everything shown is set with textContent, never parsed as HTML.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("servekit-config").textContent);
  const $ = (id) => document.getElementById(id);
  const editor = $("request");
  const exampleText = config.example_text;
  const TOKEN_VARIABLE = "MODEL_API_TOKEN";
  const POLL_FIRST_MS = 250;
  const POLL_MAX_MS = 2000;
  const POLL_LIMIT_MS = 30 * 60 * 1000;
  let validText = exampleText;

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  // ---- the signature, read from its JSON Schema ----
  function bounds(s) {
    const parts = [];
    const words = [["minimum", "≥"], ["exclusiveMinimum", ">"], ["maximum", "≤"], ["exclusiveMaximum", "<"]];
    for (const [key, sign] of words) if (typeof s[key] === "number") parts.push(sign + " " + s[key]);
    for (const [low, high, noun] of [["minLength", "maxLength", "length"], ["minItems", "maxItems", "items"]]) {
      if (s[low] !== undefined && s[low] === s[high]) parts.push(noun + " " + s[low]);
      else {
        if (s[low] !== undefined) parts.push(noun + " ≥ " + s[low]);
        if (s[high] !== undefined) parts.push(noun + " ≤ " + s[high]);
      }
    }
    if (typeof s.pattern === "string") parts.push("matching " + s.pattern);
    return parts.length ? " " + parts.join(", ") : "";
  }

  function typeText(s, depth) {
    depth = depth || 0;
    if (s === true || s === undefined) return "any";
    if (!s || typeof s !== "object" || depth > 8) return "…";
    if (typeof s.$ref === "string") return decodeURIComponent(s.$ref.split("/").pop());
    const branches = s.anyOf || s.oneOf;
    let text;
    if ("const" in s) text = JSON.stringify(s.const);
    else if (Array.isArray(s.enum)) text = s.enum.map((v) => JSON.stringify(v)).join(" | ");
    else if (Array.isArray(branches)) text = branches.map((b) => typeText(b, depth + 1)).join(" | ");
    else if (Array.isArray(s.prefixItems)) {
      text = "[" + s.prefixItems.map((b) => typeText(b, depth + 1)).join(", ") + "]";
    } else if (s.type === "array" || s.items !== undefined) {
      text = "array of " + typeText(s.items, depth + 1);
    } else if (s.properties && typeof s.properties === "object") {
      const required = new Set(s.required || []);
      const fields = Object.entries(s.properties).map(
        ([name, sub]) => name + (required.has(name) ? "" : "?") + ": " + typeText(sub, depth + 1));
      text = "{" + fields.join(", ") + "}";
    } else if (s.type === "object" && s.additionalProperties && typeof s.additionalProperties === "object"
               && Object.keys(s.additionalProperties).length) {
      text = "object of " + typeText(s.additionalProperties, depth + 1);
    } else if (Array.isArray(s.type)) text = s.type.join(" | ");
    else text = s.type || "any";
    if (typeof s.format === "string") text += " (" + s.format + ")";
    return text + bounds(s);
  }

  function renderSignature() {
    const schema = config.schema || {};
    const required = new Set(schema.required || []);
    const body = document.querySelector("#signature tbody");
    const rows = Object.entries(schema.properties || {}).map(([name, sub]) => {
      const shown = "default" in sub ? JSON.stringify(sub.default) : required.has(name) ? "required" : "optional";
      return [name, typeText(sub), shown, sub.description || ""];
    });
    if (schema.additionalProperties) rows.push(["(other names)", "any", "optional", "the model takes other named arguments too"]);
    if (!rows.length) rows.push(["(none)", "", "", "the model takes no named arguments"]);
    for (const cells of rows) {
      const tr = el("tr");
      cells.forEach((text, i) => tr.append(el("td", text, i < 3 ? "mono" : "")));
      body.append(tr);
    }
    const definitions = $("definitions");
    for (const [name, sub] of Object.entries(schema.$defs || {})) {
      definitions.append(el("dt", name, "mono"), el("dd", typeText(sub), "mono"));
    }
  }

  // ---- the editor ----
  function checkEditor() {
    const error = $("request-error");
    try {
      JSON.parse(editor.value);
    } catch (e) {
      error.textContent = "Invalid JSON: " + e.message;
      error.hidden = false;
      editor.setAttribute("aria-invalid", "true");
      return null;
    }
    error.hidden = true;
    editor.removeAttribute("aria-invalid");
    validText = editor.value;
    return editor.value;
  }

  // ---- requests ----
  async function call(method, path, body) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const token = config.auth ? $("token").value.trim() : "";
    if (token) headers.Authorization = "Bearer " + token;
    const started = performance.now();
    const response = await fetch(new URL(path, location.href), { method, headers, body, cache: "no-store" });
    const text = await response.text();
    let json = null;
    try { json = JSON.parse(text); } catch (e) { json = null; }
    return {
      status: response.status, statusText: response.statusText, text, json,
      ms: performance.now() - started,
      requestId: response.headers.get("X-Request-ID") || (json && json.request_id) || "",
    };
  }

  function show(answer, ms, job) {
    const status = $("status");
    status.textContent = answer.status + (answer.statusText ? " " + answer.statusText : "");
    status.className = answer.status >= 200 && answer.status < 300 ? "ok" : "bad";
    $("time").textContent = Math.round(ms) + " ms";
    $("request-id").textContent = answer.requestId || "–";
    $("job").textContent = job || "–";
    $("response-body").textContent = answer.json !== null ? pretty(answer.text) : answer.text;
  }

  function failed(error) {
    const status = $("status");
    status.textContent = "no answer";
    status.className = "bad";
    $("time").textContent = $("request-id").textContent = $("job").textContent = "–";
    $("response-body").textContent = String(error && error.message ? error.message : error);
  }

  async function busy(button, label, work) {
    const buttons = [$("send"), $("submit")].filter(Boolean);
    const before = button.textContent;
    buttons.forEach((b) => { b.disabled = true; });
    button.textContent = label;
    try { await work(); } catch (e) { failed(e); } finally {
      buttons.forEach((b) => { b.disabled = false; });
      button.textContent = before;
    }
  }

  function send() {
    const body = checkEditor();
    if (body === null) return editor.focus();
    return busy($("send"), "Sending…", async () => {
      const answer = await call("POST", "model", body);
      show(answer, answer.ms);
    });
  }

  function submit() {
    const body = checkEditor();
    if (body === null) return editor.focus();
    return busy($("submit"), "Waiting…", async () => {
      const started = performance.now();
      const submitted = await call("POST", "async", body);
      const id = submitted.json && submitted.json.asyncPredictionId;
      show(submitted, submitted.ms, id ? id + " · submitted" : "");
      if (!id) return;
      for (let delay = POLL_FIRST_MS; performance.now() - started < POLL_LIMIT_MS; delay = Math.min(delay * 1.5, POLL_MAX_MS)) {
        await new Promise((resolve) => setTimeout(resolve, delay));
        const polled = await call("GET", "async/" + encodeURIComponent(id));
        const state = polled.json && polled.json.status;
        const phase = polled.json && polled.json.phase;
        polled.requestId = submitted.requestId;
        show(polled, performance.now() - started, id + " · " + (state || "?") + (phase && phase !== state ? " (" + phase + ")" : ""));
        if (polled.status !== 200 || state !== "queued") return;
      }
      $("job").textContent = id + " · still queued: poll GET async/" + id + " yourself";
    });
  }

  // ---- JSON text, re-laid out without parsing its numbers (JavaScript would round big ones) ----
  function tokens(text) {
    const out = [];
    for (let i = 0; i < text.length;) {
      const c = text[i];
      let j = i + 1;
      if (" \t\r\n".includes(c)) {
        i = j;
        continue;
      }
      if (c === "\"") {
        while (j < text.length && text[j] !== "\"") j += text[j] === "\\" ? 2 : 1;
        j++;
      } else if (!"{}[],:".includes(c)) {
        while (j < text.length && !" \t\r\n{}[],:\"".includes(text[j])) j++;
      }
      out.push(text.slice(i, j));
      i = j;
    }
    return out;
  }

  const compact = (text) => tokens(text).join("");
  const PYTHON = { true: "True", false: "False", null: "None", ",": ", ", ":": ": " };

  function pythonLiteral(text) {
    return tokens(text).map((t) => t[0] === "\""
      ? t.replace(/\\(.)/g, (escape, c) => (c === "/" ? "/" : escape))
      : PYTHON[t] || t).join("");
  }

  function pretty(text) {
    const all = tokens(text);
    let out = "";
    let depth = 0;
    const line = () => "\n" + "  ".repeat(depth);
    all.forEach((t, k) => {
      if (t === "{" || t === "[") {
        depth++;
        out += t + ("}]".includes(all[k + 1]) ? "" : line());
      } else if (t === "}" || t === "]") {
        depth--;
        out += ("{[".includes(all[k - 1]) ? "" : line()) + t;
      } else out += t === "," ? "," + line() : t === ":" ? ": " : t;
    });
    return out;
  }

  // ---- code samples ----
  const shell = (s) => "'" + s.replace(/'/g, "'\\''") + "'";
  const rString = (s) => "'" + s.replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'";

  function samples(text) {
    const json = compact(text);
    const literal = pythonLiteral(text);
    const model = new URL("model", location.href).href;
    const jobs = new URL("async", location.href).href;
    const auth = config.auth;
    const curlAuth = auth ? "  -H \"Authorization: Bearer $" + TOKEN_VARIABLE + "\" \\\n" : "";
    const curl = (url) => "curl -sS -X POST " + shell(url) + " \\\n  -H 'Content-Type: application/json' \\\n"
      + curlAuth + "  -d " + shell(json);
    const pyHead = auth ? "import os\n\nimport requests\n\nheaders = {\"Authorization\": f\"Bearer {os.environ['"
      + TOKEN_VARIABLE + "']}\"}\n" : "import requests\n\nheaders = {}\n";
    const rAuth = auth ? "auth <- add_headers(Authorization = paste(\"Bearer\", Sys.getenv(\"" + TOKEN_VARIABLE + "\")))\n"
      : "auth <- add_headers()\n";
    return {
      curl: {
        sync: curl(model),
        async: curl(jobs) + "\n# answers {\"asyncPredictionId\": ID, ...}; then poll until \"status\" is not \"queued\":\n"
          + "curl -sS " + (auth ? "-H \"Authorization: Bearer $" + TOKEN_VARIABLE + "\" " : "") + shell(jobs + "/ID"),
      },
      python: {
        sync: pyHead + "response = requests.post(\n    " + JSON.stringify(model) + ",\n    json=" + literal
          + ",\n    headers=headers,\n    timeout=60,\n)\nprint(response.status_code, response.json())\n",
        async: "import time\n\n" + pyHead + "url = " + JSON.stringify(jobs) + "\n"
          + "submitted = requests.post(url, json=" + literal + ", headers=headers, timeout=60)\n"
          + "submitted.raise_for_status()\njob_id = submitted.json()[\"asyncPredictionId\"]\n"
          + "while True:\n    job = requests.get(f\"{url}/{job_id}\", headers=headers, timeout=60).json()\n"
          + "    if job[\"status\"] != \"queued\":\n        break\n    time.sleep(1)\n"
          + "print(job[\"status\"], job.get(\"result\"))\n",
      },
      r: {
        sync: "library(httr)\n\n" + rAuth + "response <- POST(\n  " + rString(model) + ",\n  body = " + rString(json)
          + ",\n  content_type_json(),\n  auth\n)\nprint(status_code(response))\nprint(content(response))\n",
        async: "library(httr)\n\n" + rAuth + "url <- " + rString(jobs) + "\n"
          + "submitted <- POST(url, body = " + rString(json) + ", content_type_json(), auth)\n"
          + "stop_for_status(submitted)\njob_id <- content(submitted)$asyncPredictionId\n"
          + "repeat {\n  job <- content(GET(paste0(url, \"/\", job_id), auth))\n"
          + "  if (job$status != \"queued\") break\n  Sys.sleep(1)\n}\nprint(job)\n",
      },
    };
  }

  async function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try { await navigator.clipboard.writeText(text); return true; } catch (e) { /* the fallback below */ }
    }
    const area = el("textarea", undefined, "offscreen");
    area.value = text;
    area.setAttribute("readonly", "");
    document.body.append(area);
    area.select();
    let copied = false;
    try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
    area.remove();
    return copied;
  }

  const LANGUAGES = [["curl", "curl"], ["python", "Python (requests)"], ["r", "R (httr)"]];
  const KINDS = [["sync", "Synchronous: POST /model"], ["async", "Asynchronous: POST /async, then GET /async/ID"]];

  function renderSamples() {
    const root = $("samples");
    const tabs = el("div", undefined, "tabs");
    tabs.setAttribute("role", "tablist");
    root.append(tabs);
    for (const [language, label] of LANGUAGES) {
      const tab = el("button", label, "tab");
      Object.assign(tab, { type: "button", id: "tab-" + language });
      tab.setAttribute("role", "tab");
      const panel = el("div", undefined, "panel");
      panel.id = "panel-" + language;
      panel.setAttribute("role", "tabpanel");
      for (const [kind, title] of KINDS) {
        panel.append(el("h3", title));
        if (kind === "async" && !config.async) {
          panel.append(el("p", "Asynchronous predictions are off on this server: start it with --async-workers N.", "note"));
          continue;
        }
        const block = el("div", undefined, "sample");
        const pre = el("pre", "", "code");
        pre.id = "sample-" + language + "-" + kind;
        const button = el("button", "Copy", "copy secondary");
        button.type = "button";
        button.addEventListener("click", async () => {
          const ok = await copy(pre.textContent);
          button.textContent = ok ? "Copied" : "Copy failed: select the text";
          setTimeout(() => { button.textContent = "Copy"; }, 1500);
        });
        block.append(button, pre);
        panel.append(block);
      }
      tab.addEventListener("click", () => select(language));
      tabs.append(tab);
      root.append(panel);
    }
    select("curl");
  }

  function select(language) {
    for (const [name] of LANGUAGES) {
      $("tab-" + name).setAttribute("aria-selected", String(name === language));
      $("panel-" + name).hidden = name !== language;
    }
  }

  function updateSamples() {
    const all = samples(validText);
    for (const [language] of LANGUAGES) {
      for (const [kind] of KINDS) {
        const pre = $("sample-" + language + "-" + kind);
        if (pre) pre.textContent = all[language][kind];
      }
    }
  }

  renderSignature();
  renderSamples();
  editor.value = exampleText;
  updateSamples();
  editor.addEventListener("input", () => { if (checkEditor() !== null) updateSamples(); });
  editor.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) send(); });
  $("send").addEventListener("click", send);
  if ($("submit")) $("submit").addEventListener("click", submit);
  $("reset").addEventListener("click", () => { editor.value = exampleText; checkEditor(); updateSamples(); });
  document.body.dataset.ready = "true";
})();
