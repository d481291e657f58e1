// Item lookup: GET /v1/items/{key} and GET /v1/locations/{id}/inventory, rendered as a timeline.
// The search box takes whatever identifies an item (the service resolves it), so a scanner can type into it.
import { authHeaders, escapeHtml, fetchWithin, loadDevice, saveDevice, registerShell } from "./settings.js";

const $ = (id) => document.getElementById(id);
let device = loadDevice();

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

function say(text, kind = "") {
  const m = $("message");
  m.textContent = text;
  m.dataset.kind = kind;
}

async function ask(path) {
  let response;
  try {
    response = await fetchWithin(15000, path, { headers: authHeaders(device) });
  } catch {
    return { error: "the service is not reachable" };
  }
  const body = await response.json().catch(() => ({}));
  if (response.ok) return { body };
  if (response.status === 401) return { error: "the service does not know this device id and token", setup: true };
  return { error: body.detail || `error ${response.status}`, status: response.status };
}

function locationLink(location) {
  if (!location) return "<em>—</em>";
  return `<a href="#" class="location" data-location="${escapeHtml(location)}">${escapeHtml(location)}</a>`;
}

function zoneTag(zone, id = "") {
  return zone ? ` <span class="zone"${id ? ` id="${id}"` : ""}>zone ${escapeHtml(zone)}</span>` : "";
}

// Where the item is, or, once it shipped, the door it left by: a shipped item is in no location of the site.
function currentCard(c) {
  if (!c) return `<div>No current location recorded.</div>`;
  const place = c.shipped_via
    ? `<div><span class="label">shipped via</span> <strong id="current-shipped-via">${escapeHtml(c.shipped_via)}</strong>
       at <time id="current-since" datetime="${escapeHtml(c.since)}">${escapeHtml(when(c.since))}</time></div>`
    : `<div><span class="label">now at</span> <strong id="current-location">${locationLink(c.location)}</strong>${zoneTag(c.zone, "current-zone")}</div>`;
  const seen = c.shipped_via
    ? (c.read_point ? `<div><span class="label">read point</span> ${escapeHtml(c.read_point)}</div>` : "")
    : `<div><span class="label">last seen</span> <time id="current-since" datetime="${escapeHtml(c.since)}">${escapeHtml(when(c.since))}</time>
       ${c.read_point ? ` at ${escapeHtml(c.read_point)}` : ""}</div>`;
  return `${place}
       <div><span class="label">state</span> <span id="current-state">${escapeHtml(c.disposition)}</span> · ${escapeHtml(c.biz_step)}</div>
       ${seen}`;
}

function renderItem(answer) {
  $("inventory").hidden = true;
  $("item").hidden = false;
  const id = answer.identity;
  $("item-key").textContent = id.item_key;
  $("identity").innerHTML = Object.entries(id)
    .filter(([k]) => k !== "item_key")
    .map(([k, v]) => `<dt>${escapeHtml(k.replace("_", " "))}</dt><dd>${escapeHtml(v)}</dd>`)
    .join("");
  $("current").innerHTML = currentCard(answer.current);
  $("timeline").innerHTML = answer.history
    .map((m) => `<li data-event-id="${escapeHtml(m.event_id)}" class="${m.anomaly ? "anomaly" : ""}">
        <time datetime="${escapeHtml(m.event_time)}">${escapeHtml(when(m.event_time))}</time>
        <div class="what"><b>${escapeHtml(m.movement_type)}</b> ${locationLink(m.from_location)} → ${locationLink(m.to_location)}${zoneTag(m.zone)}</div>
        <div class="how">${escapeHtml(m.biz_step)} · ${escapeHtml(m.disposition)}${m.read_point ? ` · ${escapeHtml(m.read_point)}` : ""}${m.direction && m.direction !== "none" ? ` · ${escapeHtml(m.direction)}` : ""}${m.anomaly ? ` · <span class="bad">${escapeHtml(m.anomaly)}</span>` : ""}</div>
      </li>`)
    .join("");
  say(`${answer.history.length} movement${answer.history.length === 1 ? "" : "s"}`, "good");
}

function renderInventory(answer) {
  $("item").hidden = true;
  $("inventory").hidden = false;
  $("inventory-title").textContent =
    `${answer.count} item${answer.count === 1 ? "" : "s"} at ${answer.location}${answer.zone ? ` (zone ${answer.zone})` : ""}`;
  $("inventory-rows").innerHTML = answer.items
    .map((i) => `<tr><td><a href="#" class="item" data-key="${escapeHtml(i.item_key)}">${escapeHtml(i.epc_uri || i.item_key)}</a></td>
      <td>${escapeHtml(i.disposition)}</td><td>${escapeHtml(i.biz_step)}</td><td>${escapeHtml(when(i.last_seen))}</td></tr>`)
    .join("");
  say("");
}

async function findItem(text) {
  const query = text.replace(/[\r\n\t]+$/, "").trim();
  if (!query) return;
  history.replaceState(null, "", `items?q=${encodeURIComponent(query)}`);
  say("looking…");
  const { body, error, status, setup } = await ask(`v1/items/${encodeURIComponent(query)}`);
  if (setup) return showSetup();
  if (error) {
    $("item").hidden = true;
    return say(status === 404 ? `never seen: ${query}` : error, status === 404 ? "" : "bad");
  }
  renderItem(body);
}

async function findLocation(text) {
  const location = text.replace(/[\r\n\t]+$/, "").trim();
  if (!location) return;
  history.replaceState(null, "", `items?location=${encodeURIComponent(location)}`);
  say("looking…");
  const { body, error, setup } = await ask(`v1/locations/${encodeURIComponent(location)}/inventory`);
  if (setup) return showSetup();
  if (error) return say(error, "bad");
  renderInventory(body);
}

function showSetup() {
  $("setup").hidden = false;
  $("lookup").hidden = true;
}

function start() {
  if (!device) return showSetup();
  $("setup").hidden = true;
  $("lookup").hidden = false;
  const params = new URLSearchParams(location.search);
  if (params.get("q")) {
    $("search-input").value = params.get("q");
    findItem(params.get("q"));
  } else if (params.get("location")) {
    findLocation(params.get("location"));
  }
  $("search-input").focus();
}

$("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  findItem($("search-input").value);
  $("search-input").select();
});
$("inventory-form").addEventListener("submit", (e) => {
  e.preventDefault();
  findLocation($("location-search").value);
});
$("setup-form").addEventListener("submit", (e) => {
  e.preventDefault();
  saveDevice($("device-id").value, $("device-token").value);
  device = loadDevice();
  start();
});
document.addEventListener("click", (e) => {
  const link = e.target.closest("a.location, a.item");
  if (!link) return;
  e.preventDefault();
  if (link.dataset.location) findLocation(link.dataset.location);
  else {
    $("search-input").value = link.dataset.key;
    findItem(link.dataset.key);
  }
});

start();
registerShell();
