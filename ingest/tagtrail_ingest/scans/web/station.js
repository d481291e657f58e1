// The scanning station: pick an action, scan a location, scan items. Scanners type into the page
// (keyboard wedge) and end each barcode with Enter (or Tab). Every scan is queued in IndexedDB first,
// checked through POST /v1/validate when the service is reachable, and sent by the Sender in batches.
import { authHeaders, escapeHtml, fetchWithin, forgetDevice, loadDevice, saveDevice, visible, registerShell } from "./settings.js";
import { openQueue, Sender } from "./queue.js";
import { TransactionPanel, isTransactionBarcode, transactionDirection } from "./transactions.js";

const DEFAULT_ACTIONS = ["receive", "putaway", "pick", "pack", "ship", "count"];
const STATE_KEY = "tagtrail.station";
const SHOWN = 100;
const $ = (id) => document.getElementById(id);

let device = loadDevice();
let station = JSON.parse(localStorage.getItem(STATE_KEY) || "{}"); // { action, location, settings }
let queue;
let sender;
let transactions;

function remember() {
  localStorage.setItem(STATE_KEY, JSON.stringify(station));
}

// What a keyboard wedge typed, as the barcode: the terminating Enter/Tab (and CR/LF some send as
// characters) removed; the GS substitute and AIM prefix are left for the service to interpret.
function scannedText(value) {
  return value.replace(/[\r\n\t]+$/, "").replace(/^[\r\n\t]+/, "");
}

function setConnection(state, text) {
  const pill = $("connection");
  pill.dataset.state = state;
  pill.textContent = text;
}

function showSetup(message = "") {
  $("setup").hidden = false;
  $("station").hidden = true;
  $("setup-message").textContent = message;
  if (device) {
    $("device-id").value = device.deviceId;
  }
  $("device-id").focus();
}

async function loadStationSettings() {
  try {
    const response = await fetchWithin(4000, "v1/station", { headers: authHeaders(device) });
    if (response.status === 401) return "the service does not know this device id and token";
    if (response.ok) {
      station.settings = await response.json();
      remember();
      setConnection("online", "online");
    }
  } catch {
    setConnection("offline", "offline: scans are kept on this device");
  }
  return null;
}

function renderActions() {
  const actions = station.settings?.actions || DEFAULT_ACTIONS;
  const box = $("actions");
  box.querySelectorAll("button").forEach((b) => b.remove());
  for (const action of actions) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = action;
    button.dataset.action = action;
    button.setAttribute("aria-pressed", String(station.action === action));
    button.addEventListener("click", () => {
      station.action = action;
      remember();
      renderActions();
      focusNext();
    });
    box.appendChild(button);
  }
}

function renderFooter() {
  $("device-label").textContent = `device ${device.deviceId}`;
  const gs = station.settings?.gs_substitute;
  $("gs-label").textContent = gs ? `GS arrives as “${gs}”` : "";
  $("location-current").textContent = station.location ? `at ${station.location}` : station.settings?.home_location ? `(home: ${station.settings.home_location})` : "";
}

function focusNext() {
  if (!station.action) return;
  (station.location ? $("scan-input") : $("location-input")).focus();
}

function describeCheck(check, verdict) {
  if (!check) return `<span class="check pending">checking…</span>`;
  if (check.status === "not_validated" && verdict && verdict.item_key) return `<span class="check good">${escapeHtml(verdict.item_key)}</span>`;
  if (check.status === "not_validated") return `<span class="check unknown">not validated</span>`;
  if (check.status === "rejected") return `<span class="check bad">${escapeHtml(check.reason)}: ${escapeHtml(check.error)}</span>`;
  const parts = [];
  if (check.gtin) parts.push(`GTIN ${check.gtin}`);
  if (check.serial) parts.push(`serial ${check.serial}`);
  if (check.sscc) parts.push(`SSCC ${check.sscc}`);
  if (check.lot) parts.push(`lot ${check.lot}`);
  if (check.expiry) parts.push(`expiry ${check.expiry}`);
  if (!parts.length) parts.push(check.item_key);
  return `<span class="check good">${escapeHtml(parts.join(" · "))}</span>`;
}

// What the operator sees: a scan in an unacknowledged batch is "sent" only while that batch is on
// the wire; after a failed attempt it is waiting on this device again, i.e. "queued".
function shownState(scan) {
  if (scan.state === "sending") return sender && sender.inFlight === scan.upload_id ? "sent" : "queued";
  return scan.state;
}

function describeState(scan) {
  const labels = { queued: "queued", sent: "sent", accepted: "accepted", rejected: "rejected", failed: "refused" };
  const state = shownState(scan);
  const why = scan.verdict && scan.verdict.reason ? ` (${escapeHtml(scan.verdict.reason)})` : "";
  return `<span class="state" data-state="${state}">${labels[state] || state}${why}</span>`;
}

async function render() {
  const scans = await queue.all();
  const counts = { queued: 0, sent: 0, accepted: 0, rejected: 0, failed: 0 };
  for (const s of scans) counts[shownState(s)] += 1;
  for (const k of ["queued", "sent", "accepted", "rejected"]) $(`n-${k}`).textContent = counts[k] + (k === "rejected" ? counts.failed : 0);
  const recent = scans.sort((a, b) => b.id - a.id).slice(0, SHOWN);
  $("scans").innerHTML = recent
    .map((s) => `<li data-id="${s.id}" data-state="${shownState(s)}" data-check="${s.check ? s.check.status : "pending"}">
        <div class="row"><code>${escapeHtml(visible(s.raw_data))}</code>${describeState(s)}</div>
        <div class="row small"><span>${escapeHtml(s.action)}${s.location ? " @ " + escapeHtml(s.location) : ""} · ${new Date(s.scanned_at).toLocaleTimeString()}</span>${describeCheck(s.check, s.verdict)}</div>
      </li>`)
    .join("");
}

function beep(good) {
  try {
    const ctx = (beep.ctx ||= new AudioContext());
    const osc = ctx.createOscillator();
    osc.frequency.value = good ? 1200 : 300;
    osc.connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + (good ? 0.07 : 0.3));
  } catch {
    /* no audio: the colours still tell */
  }
}

async function validate(id, scan) {
  let check = { status: "not_validated" };
  try {
    const response = await fetchWithin(3000, "v1/validate", {
      method: "POST",
      headers: { "Content-Type": "application/json", ...authHeaders(device) },
      body: JSON.stringify({ raw_data: scan.raw_data, scanned_at: scan.scanned_at, action: scan.action, ...(scan.location ? { location: scan.location } : {}) }),
    });
    if (response.ok) check = await response.json();
    else if (response.status === 401) setConnection("error", "device token refused");
  } catch {
    setConnection("offline", "offline: scans are kept on this device");
  }
  await queue.patch(id, { check });
  const last = $("last");
  last.dataset.status = check.status;
  last.innerHTML = `<code>${escapeHtml(visible(scan.raw_data))}</code> ${describeCheck(check)}`;
  if (check.status !== "not_validated") beep(check.status === "parsed");
  await render();
}

async function onScan(raw) {
  const text = scannedText(raw);
  if (!text) return;
  if (!station.action) {
    $("last").textContent = "pick an action first";
    return;
  }
  if (transactionDirection(station.action) && isTransactionBarcode(text, station.settings?.gs_substitute)) {
    return transactions.scanned(text, station.action); // a shipment label or PO: opens or closes, not an item scan
  }
  const scan = { raw_data: text, action: station.action, location: station.location || null, scanned_at: new Date().toISOString(), device_id: device.deviceId, check: null };
  const id = await queue.add(scan); // stored before anything else: a crash from here on loses nothing
  await render();
  validate(id, scan).finally(() => sender.flush());
}

function wedgeInput(input, onValue) {
  // Some wedges end a barcode with Tab instead of Enter: treat it the same, and keep focus here.
  input.addEventListener("keydown", (e) => {
    if (e.key === "Tab" && input.value) {
      e.preventDefault();
      input.form.requestSubmit();
    }
  });
  input.form.addEventListener("submit", (e) => {
    e.preventDefault();
    const value = input.value;
    input.value = "";
    onValue(value);
  });
}

async function start() {
  if (!device) return showSetup();
  $("setup").hidden = true;
  $("station").hidden = false;
  queue ||= await openQueue();
  const problem = await loadStationSettings();
  if (problem) return showSetup(problem);
  const maxScans = Math.min(200, station.settings?.max_scans_per_upload || 200);
  sender ||= new Sender(queue, {
    getDevice: () => device,
    maxScans,
    onChange: render,
    onStatus: (state, text) => {
      setConnection(state, state === "online" ? "online" : text);
      render();
    },
  });
  transactions ||= new TransactionPanel({
    getDevice: () => device,
    getLocation: () => station.location || station.settings?.home_location || null,
    show: (status, html) => {
      const last = $("last");
      last.dataset.status = status;
      last.innerHTML = html;
      if (status !== "not_validated") beep(status === "parsed");
    },
  });
  renderActions();
  renderFooter();
  await render();
  transactions.refresh();
  focusNext();
  sender.flush(); // whatever a previous page load left queued or unacknowledged
}

wedgeInput($("location-input"), (value) => {
  const text = scannedText(value);
  station.location = text || null;
  remember();
  renderFooter();
  if (transactions) transactions.refresh();
  focusNext();
});
wedgeInput($("scan-input"), onScan);

$("setup-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  saveDevice($("device-id").value, $("device-token").value);
  device = loadDevice();
  await start();
});
$("change-device").addEventListener("click", () => {
  forgetDevice();
  showSetup();
});
$("send-now").addEventListener("click", () => sender && sender.soon());
// A tap anywhere outside a field returns focus to the scan field, so the next trigger pull lands there.
document.addEventListener("click", (e) => {
  if (!$("station").hidden && !(e.target.closest("input, button, a"))) focusNext();
});

start();
registerShell();
