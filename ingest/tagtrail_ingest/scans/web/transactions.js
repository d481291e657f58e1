// Shipments and receipts at the station: with action ship or receive, a shipment label or PO barcode
// (GS1 AI 400 customer PO, 401 GINC, 402 GSIN, with 410 ship-to) opens the transaction here through
// POST /v1/transactions; scanning it again, or its Close button, closes it. They need the service:
// unlike item scans they are not queued (an open must be confirmed before the loading starts).
import { authHeaders, escapeHtml, fetchWithin } from "./settings.js";

const DIRECTIONS = { ship: "outbound", receive: "inbound" };
const $ = (id) => document.getElementById(id);

// Is this scan a transaction barcode? The first AI of a GS1 element string names it exactly (AIs are
// prefix-free): item labels start with 01 or 00. The service parses it for real (biip).
export function isTransactionBarcode(text, gsSubstitute) {
  let body = text.trim();
  if (body.startsWith("]") && body.length > 3) body = body.slice(3);
  body = body.replace(new RegExp(`^[\\x1d${gsSubstitute ? gsSubstitute.replace(/[\\^\]-]/g, "\\$&") : ""}]+`), "");
  return /^\((400|401|402|410)\)/.test(body) || /^https?:\/\/[^/]+\/(401|402)\//i.test(body) || /^(400|401|402|410)/.test(body);
}

export function transactionDirection(action) {
  return DIRECTIONS[action] || null;
}

function idempotencyKey() {
  // crypto.randomUUID needs a secure context, which a LAN http address is not.
  return `st-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

function label(t) {
  const kind = t.direction === "outbound" ? "shipment" : "receipt";
  return `${kind} ${t.type} ${t.id}`;
}

export class TransactionPanel {
  constructor({ getDevice, getLocation, show }) {
    this.getDevice = getDevice;
    this.getLocation = getLocation; // the station's location (scanned, else the device's home)
    this.show = show; // (status, html) for the "last" line
  }

  async call(url, options = {}) {
    const headers = { "Content-Type": "application/json", ...authHeaders(this.getDevice()), ...(options.headers || {}) };
    return fetchWithin(5000, url, { ...options, headers });
  }

  // Opens the transaction the barcode names; if it is already open here, closes it.
  async scanned(text, action) {
    const location = this.getLocation();
    if (!location) return this.show("rejected", "scan the location (the door) first");
    const body = { barcode: text, direction: transactionDirection(action), location };
    try {
      const opened = await this.call("v1/transactions", { method: "POST", body: JSON.stringify(body), headers: { "Idempotency-Key": idempotencyKey() } });
      const answer = await opened.json();
      if (opened.status === 201) this.show("parsed", `opened ${escapeHtml(label(answer))}`);
      else if (opened.status === 200) await this.close(answer.transaction_id);
      else this.show("rejected", `${escapeHtml(answer.error)}: ${escapeHtml(answer.detail)}`);
    } catch {
      this.show("not_validated", "the service is unreachable: shipments and receipts need it (nothing opened)");
    }
    await this.refresh();
  }

  async close(transactionId) {
    try {
      const response = await this.call(`v1/transactions/${encodeURIComponent(transactionId)}/close`, { method: "POST", headers: { "Idempotency-Key": idempotencyKey() } });
      const answer = await response.json();
      if (response.ok) this.show("parsed", `closed ${escapeHtml(label(answer))}`);
      else this.show("rejected", `${escapeHtml(answer.error)}: ${escapeHtml(answer.detail)}`);
    } catch {
      this.show("not_validated", "the service is unreachable: not closed yet");
    }
    await this.refresh();
  }

  async refresh() {
    const location = this.getLocation();
    const list = $("open-transactions");
    if (!location) {
      list.innerHTML = "";
      return;
    }
    let open = [];
    try {
      const response = await this.call(`v1/transactions?status=open&location=${encodeURIComponent(location)}`);
      if (!response.ok) return;
      open = (await response.json()).transactions;
    } catch {
      return; // offline: keep what is shown
    }
    $("transactions").hidden = open.length === 0;
    list.innerHTML = open
      .map((t) => `<li data-transaction-id="${escapeHtml(t.transaction_id)}">
          <div class="row"><span><b>${escapeHtml(label(t))}</b></span>
          <button type="button" class="secondary close-transaction">Close</button></div>
          <div class="row small"><span>open since ${escapeHtml(new Date(t.opened_at).toLocaleTimeString())} @ ${escapeHtml(t.location)}</span></div>
        </li>`)
      .join("");
    list.querySelectorAll("button.close-transaction").forEach((button) => {
      button.addEventListener("click", () => this.close(button.closest("li").dataset.transactionId));
    });
  }
}
