"""The console page: one HTML document with its style and script inline (nothing is fetched from the
network; the server's Content-Security-Policy forbids it anyway).

The script takes the token from the address it was opened with (``?token=...``), keeps it in the tab's
sessionStorage (a reload still works), removes it from the address bar, and sends it as
``Authorization: Bearer`` on every request. It polls ``/api/state`` and fetches a camera's JPEG only
when the frame counter moved. Element ids are the page's interface to the browser test.

Takeover: "Take over" (or T) gives the person the controls; while they hold them, arrows or W/A/S/D
move the hand in x-y, R/F up and down, G toggles the gripper, and the pad's buttons do the same with a
mouse or a finger. The page sends the command in force on every change (a key's press and its release,
so a released key stops the motion), one request at a time and only the latest, so commands cannot
arrive out of order. Leaving the window releases every held key. Esc is STOP, from anywhere on the page.
"""

from __future__ import annotations

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vlastack console</title>
<style>
  :root { --bg: #f6f7f9; --panel: #fff; --ink: #1d232b; --muted: #66707c; --line: #dde1e6; --accent: #2463eb; --stop: #c62828; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--ink); }
  header { display: flex; align-items: center; gap: 16px; padding: 10px 16px; background: #1d232b; color: #fff; }
  header h1 { font-size: 16px; margin: 0; font-weight: 600; }
  header .meta { color: #b9c1cb; font-size: 13px; flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  #status { padding: 3px 10px; border-radius: 12px; font-weight: 600; font-size: 13px; background: #3a4552; }
  #status.running { background: #1b7f3b; } #status.stopped { background: var(--stop); }
  #status.asking { background: #b26a00; } #status.error { background: #7b1fa2; }
  button { font: inherit; border: 1px solid var(--line); background: #fff; border-radius: 6px; padding: 6px 12px; cursor: pointer; }
  button#stop { background: var(--stop); color: #fff; border: none; font-weight: 700; padding: 8px 22px; font-size: 15px; }
  main { display: grid; grid-template-columns: minmax(0, 1.25fr) minmax(0, 1fr); gap: 12px; padding: 12px; }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
  h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 8px; }
  #cameras { display: flex; gap: 10px; flex-wrap: wrap; }
  figure { margin: 0; flex: 1 1 200px; }
  figure img { width: 100%; aspect-ratio: 1; background: #222; border-radius: 4px; image-rendering: auto; display: block; }
  figcaption { color: var(--muted); font-size: 12px; margin-top: 2px; }
  .row { display: flex; gap: 8px; align-items: baseline; margin: 3px 0; }
  .label { color: var(--muted); min-width: 86px; font-size: 12px; }
  #plan { margin: 0; padding-left: 20px; } #plan li.current { font-weight: 700; }
  .note { color: var(--muted); font-size: 12px; font-style: italic; margin-top: 6px; }
  #question { background: #fff4e0; border: 1px solid #f0c36d; padding: 6px 8px; border-radius: 6px; margin: 6px 0; }
  #interventions { list-style: none; padding: 0; margin: 0; max-height: 170px; overflow: auto; font-size: 12px; }
  #interventions li { border-bottom: 1px solid var(--line); padding: 3px 0; }
  #interventions .held { color: var(--stop); font-weight: 600; }
  #chat-log { height: 190px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; padding: 6px; font-size: 13px; }
  #chat-log .line { margin: 2px 0; } #chat-log .who { font-weight: 600; margin-right: 4px; }
  #chat-log .operator .who { color: var(--accent); } #chat-log .robot .who { color: #1b7f3b; } #chat-log .system { color: var(--muted); }
  #chat-form { display: flex; gap: 6px; margin-top: 6px; } #chat-input { flex: 1; font: inherit; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; }
  .controls { display: flex; gap: 8px; align-items: center; }
  .side { display: flex; flex-direction: column; gap: 12px; }
  #error { color: var(--stop); }
  button#takeover.active { background: #b26a00; color: #fff; border-color: #b26a00; font-weight: 700; }
  button#takeover { white-space: nowrap; }
  #pad { display: grid; grid-template-columns: repeat(5, 76px); gap: 4px; margin-top: 8px; }
  #pad button { padding: 6px 0; } #pad button.on { background: #dbe6fd; border-color: var(--accent); }
  #pad button:disabled { opacity: .45; cursor: default; }
</style>
</head>
<body>
<header>
  <h1>vlastack console</h1>
  <span id="status">connecting</span>
  <span class="meta" id="meta"></span>
  <div class="controls">
    <button id="resume" type="button">Resume</button>
    <button id="new-episode" type="button">New episode</button>
    <button id="stop" type="button">STOP</button>
  </div>
</header>
<main>
  <div class="side">
    <section>
      <h2>Cameras</h2>
      <div id="cameras"></div>
      <div class="row"><span class="label">step</span><span id="step">-</span></div>
      <div class="row"><span class="label">last action</span><span id="action">-</span></div>
      <div class="row"><span class="label">stop</span><span id="halt">-</span></div>
    </section>
    <section>
      <h2>Take over</h2>
      <div class="controls"><button id="takeover" type="button">Take over</button><span id="operator">-</span></div>
      <div id="pad">
        <span></span>
        <button class="dir" type="button" data-axis="1" data-sign="1" title="W or up arrow">y+ (W)</button>
        <span></span>
        <button class="dir" type="button" data-axis="2" data-sign="1" title="R">up (R)</button>
        <button id="gripper" type="button" title="G">grip (G)</button>
        <button class="dir" type="button" data-axis="0" data-sign="-1" title="A or left arrow">x&minus; (A)</button>
        <button class="dir" type="button" data-axis="1" data-sign="-1" title="S or down arrow">y&minus; (S)</button>
        <button class="dir" type="button" data-axis="0" data-sign="1" title="D or right arrow">x+ (D)</button>
        <button class="dir" type="button" data-axis="2" data-sign="-1" title="F">down (F)</button>
      </div>
      <div class="note">While you have the controls: arrows or W/A/S/D move the hand (x right, y forward), R/F up and down,
        G opens or closes the gripper; T takes over or hands back, Esc is STOP. The safety layer checks every command.</div>
    </section>
    <section>
      <h2>Safety interventions</h2>
      <div class="row"><span class="label">total</span><span id="interventions-total">0</span></div>
      <ul id="interventions"></ul>
    </section>
  </div>
  <div class="side">
    <section>
      <h2>Plan, subtask and reason</h2>
      <div class="row"><span class="label">instruction</span><span id="instruction"></span></div>
      <div class="row"><span class="label">target</span><span id="target"></span></div>
      <ol id="plan"></ol>
      <div class="row"><span class="label">subtask</span><strong id="subtask">-</strong></div>
      <div class="row"><span class="label">reason</span><span id="reason">-</span></div>
      <div class="note" id="source-note"></div>
    </section>
    <section>
      <h2>Chat: instructions, answers, corrections</h2>
      <div id="question" hidden></div>
      <div id="chat-log"></div>
      <form id="chat-form">
        <input id="chat-input" autocomplete="off" placeholder="e.g. open the drawer, slower, move left a bit, stop, go on">
        <button id="chat-send" type="submit">Send</button>
      </form>
      <div id="error"></div>
    </section>
  </div>
</main>
<script>
"use strict";
const KEY = "vlastack-console-token";
const params = new URLSearchParams(location.search);
const token = params.get("token") || sessionStorage.getItem(KEY) || "";
sessionStorage.setItem(KEY, token);
if (params.has("token")) history.replaceState(null, "", location.pathname);
const AUTH = {"Authorization": "Bearer " + token};
const POLL_MS = __POLL_MS__;
const $ = (id) => document.getElementById(id);
let lastFrame = -1, lastChat = -1;

function say(el, text) { el.textContent = text == null ? "-" : String(text); }
function fmt(v) { return v ? "[" + v.map((x) => Number(x).toFixed(2)).join(", ") + "]" : "-"; }

async function post(path, body) {
  const r = await fetch(path, {method: "POST", headers: {...AUTH, "Content-Type": "application/json"}, body: JSON.stringify(body || {})});
  const data = await r.json();
  if (!r.ok) throw new Error(data.error || r.statusText);
  if (data.state) render(data.state);
  return data;
}

function cameras(names) {
  const box = $("cameras");
  for (const cam of names) {
    if ($("cam-" + cam)) continue;
    const fig = document.createElement("figure");
    const img = document.createElement("img");
    img.id = "cam-" + cam; img.className = "camera"; img.alt = cam + " camera";
    const cap = document.createElement("figcaption"); cap.textContent = cam;
    fig.append(img, cap); box.append(fig);
  }
}

async function frames(state) {
  if (state.frame === lastFrame) return;
  lastFrame = state.frame;
  await Promise.all(state.cameras.map(async (cam) => {
    const r = await fetch("/api/frame/" + encodeURIComponent(cam) + "?f=" + state.frame, {headers: AUTH});
    if (!r.ok) return;
    const img = $("cam-" + cam), old = img.src;
    img.src = URL.createObjectURL(await r.blob());
    if (old) URL.revokeObjectURL(old);
  }));
}

function render(s) {
  const st = $("status"); st.textContent = s.status; st.className = s.status;
  say($("meta"), s.task + "  |  " + s.actor + "  |  safety: " + s.safety_spec + "  |  episode " + s.episode + " (seed " + s.seed + ")" + (s.success ? "  |  success" : ""));
  say($("step"), s.episode_step + " in episode, " + s.total_steps + " in all");
  say($("action"), fmt(s.last_action) + (s.last_source ? "  by " + s.last_source : "") + (s.last_proposed ? "  (policy proposed " + fmt(s.last_proposed) + ")" : ""));
  say($("halt"), s.stop_requested_at == null ? "-" : "pressed at step " + s.stop_requested_at + (s.halted_at == null ? ", hold pending" : ", hold sent at step " + s.halted_at));
  say($("instruction"), s.instruction); say($("target"), s.target);
  const plan = $("plan"); plan.replaceChildren(...s.plan.map((p, i) => { const li = document.createElement("li"); li.textContent = p; if (i === s.plan_index) li.className = "current"; return li; }));
  say($("subtask"), s.subtask); say($("reason"), s.reason);
  say($("source-note"), "Shown from " + s.explanation_source + ".");
  const q = $("question"); q.hidden = !s.question; q.textContent = s.question ? "Question: " + s.question : "";
  say($("interventions-total"), s.interventions_total + " steps changed by the safety layer");
  $("interventions").replaceChildren(...s.interventions.slice().reverse().slice(0, 40).map((iv) => {
    const li = document.createElement("li");
    if (iv.held) li.className = "held";
    li.textContent = "ep " + iv.episode + " step " + iv.step + (iv.held ? " HELD" : "") + ": " + iv.messages.join("; ");
    return li;
  }));
  if (s.chat_said !== lastChat) {
    lastChat = s.chat_said;
    const log = $("chat-log"), atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.replaceChildren(...s.chat.map((c) => {
      const div = document.createElement("div"); div.className = "line " + c.who;
      const who = document.createElement("span"); who.className = "who"; who.textContent = c.who + ":";
      div.append(who, document.createTextNode(c.text)); return div;
    }));
    if (atEnd) log.scrollTop = log.scrollHeight;
  }
  say($("error"), s.error || "");
  renderOperator(s);
  cameras(s.cameras);
  return frames(s);
}

async function poll() {
  try {
    const r = await fetch("/api/state", {headers: AUTH});
    const data = await r.json();
    if (!r.ok) throw new Error(data.error || r.statusText);
    await render(data);
  } catch (err) { $("status").textContent = "offline"; $("status").className = "error"; say($("error"), err.message); }
  setTimeout(poll, POLL_MS);
}

// ---- takeover ----------------------------------------------------------------------------------
const KEYS = {arrowleft: [0, -1], a: [0, -1], arrowright: [0, 1], d: [0, 1], arrowup: [1, 1], w: [1, 1],
  arrowdown: [1, -1], s: [1, -1], r: [2, 1], f: [2, -1]};
const held = new Map();  // "key:w" or "pad:1:1" -> [axis, sign]
let inControl = false, speed = 0.5, grip = -1, queued = null, sending = false;

function renderOperator(s) {
  const op = s.operator;
  inControl = op.in_control; speed = op.speed;
  if (op.command && !sending && !queued) grip = op.command[3];
  else if (!op.in_control) grip = s.last_action ? s.last_action[3] : -1;
  if (!inControl && held.size) held.clear();
  const b = $("takeover"); b.textContent = inControl ? "Hand back" : "Take over"; b.className = inControl ? "active" : "";
  say($("operator"), (inControl ? "you have the controls: " + fmt(op.command) : "the policy has the controls") +
    "; " + op.steps + " of your steps this episode (" + op.takeovers + " takeovers)" + (s.recording ? "; recorded: " + s.recording.written + (s.recording.pending ? " (+" + s.recording.pending + " writing)" : "") : ""));
  for (const btn of document.querySelectorAll("#pad button")) btn.disabled = !inControl;
  for (const btn of document.querySelectorAll("#pad button.dir")) btn.classList.toggle("on", held.has("pad:" + btn.dataset.axis + ":" + btn.dataset.sign));
}

function command() {
  const v = [0, 0, 0];
  for (const [axis, sign] of held.values()) v[axis] += sign;
  return [...v.map((x) => Math.max(-1, Math.min(1, x)) * speed), grip];
}

async function send() {
  // Only the latest command matters, and it must not overtake an earlier one: one request at a time.
  if (!inControl) return;
  queued = command();
  if (sending) return;
  sending = true;
  while (queued) {
    const action = queued; queued = null;
    try { await post("/api/operator", {action}); } catch (e) { say($("error"), e.message); }
  }
  sending = false;
}

function releaseAll() { if (held.size) { held.clear(); send(); } }
function toggleTakeover() { held.clear(); post(inControl ? "/api/handback" : "/api/takeover").catch((e) => say($("error"), e.message)); }
function toggleGrip() { if (inControl) { grip = grip > 0 ? -1 : 1; send(); } }

document.addEventListener("keydown", (ev) => {
  if (ev.key === "Escape") { ev.preventDefault(); releaseAll(); post("/api/stop").catch((e) => say($("error"), e.message)); return; }
  if ((ev.target instanceof Element && ev.target.closest("input, textarea")) || ev.ctrlKey || ev.metaKey || ev.altKey) return;  // typing in the chat
  const key = ev.key.toLowerCase();
  if (key === "t") { if (!ev.repeat) toggleTakeover(); return; }
  if (!inControl) return;
  if (key === "g") { ev.preventDefault(); if (!ev.repeat) toggleGrip(); return; }
  if (!(key in KEYS)) return;
  ev.preventDefault();  // arrows drive the arm, not the page's scroll bar
  if (ev.repeat || held.has("key:" + key)) return;
  held.set("key:" + key, KEYS[key]);
  send();
});
document.addEventListener("keyup", (ev) => { if (held.delete("key:" + ev.key.toLowerCase())) send(); });
window.addEventListener("blur", releaseAll);  // a key released in another window would never say so here
for (const btn of document.querySelectorAll("#pad button.dir")) {
  const id = "pad:" + btn.dataset.axis + ":" + btn.dataset.sign;
  btn.addEventListener("pointerdown", () => { if (inControl) { held.set(id, [Number(btn.dataset.axis), Number(btn.dataset.sign)]); send(); } });
  for (const end of ["pointerup", "pointerleave", "pointercancel"]) btn.addEventListener(end, () => { if (held.delete(id)) send(); });
}
$("gripper").addEventListener("click", toggleGrip);
$("takeover").addEventListener("click", toggleTakeover);

$("stop").addEventListener("click", () => post("/api/stop").catch((e) => say($("error"), e.message)));
$("resume").addEventListener("click", () => post("/api/resume").catch((e) => say($("error"), e.message)));
$("new-episode").addEventListener("click", () => post("/api/episode").catch((e) => say($("error"), e.message)));
$("chat-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = $("chat-input"), text = input.value.trim();
  if (!text) return;
  input.value = "";
  post("/api/chat", {text}).catch((e) => say($("error"), e.message));
});
poll();
</script>
</body>
</html>
"""


def page_html(poll_ms: int) -> str:
    """The page, polling the state every ``poll_ms`` milliseconds."""
    return _PAGE.replace("__POLL_MS__", str(int(poll_ms)))
