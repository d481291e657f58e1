// The offline scan queue: every scan is written to IndexedDB before anything else happens, then sent
// in batches through POST /v1/scans. A batch gets its upload id (the service's idempotency key) and its
// members *before* the first attempt, and is re-sent with exactly the same id and scans until the service
// answers 202, so a retry after a timeout, a crash or a reload can never store a scan twice.
//
// Scan states: queued (not yet in a batch) -> sending (in a batch, not acknowledged) -> accepted | rejected
// (per the service's verdict) ; failed (the service refused the whole batch as malformed: kept, shown).

const DB_NAME = "tagtrail-station";
const STORE = "scans";

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
  });
}

export async function openQueue() {
  const open = indexedDB.open(DB_NAME, 1);
  open.onupgradeneeded = () => {
    const store = open.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
    store.createIndex("state", "state");
  };
  return new ScanQueue(await request(open));
}

export class ScanQueue {
  constructor(db) {
    this.db = db;
  }

  async add(scan) {
    const tx = this.db.transaction(STORE, "readwrite");
    const id = await request(tx.objectStore(STORE).add({ ...scan, state: "queued", upload_id: null }));
    await done(tx);
    return id;
  }

  // Read-modify-write in one transaction: validation and sending update the same record concurrently.
  async patch(id, fields) {
    const tx = this.db.transaction(STORE, "readwrite");
    const store = tx.objectStore(STORE);
    const record = await request(store.get(id));
    if (record) store.put({ ...record, ...fields });
    await done(tx);
  }

  async all() {
    const tx = this.db.transaction(STORE, "readonly");
    return request(tx.objectStore(STORE).getAll());
  }

  async inState(state) {
    const tx = this.db.transaction(STORE, "readonly");
    return request(tx.objectStore(STORE).index("state").getAll(state));
  }

  // The batch to send next for `deviceId`: an unacknowledged one first (same id, same scans, same
  // order), else a new one made of the oldest queued scans, written before it is sent.
  async nextBatch(deviceId, maxScans) {
    const sending = (await this.inState("sending")).filter((s) => s.device_id === deviceId);
    if (sending.length) {
      const uploadId = sending.reduce((a, s) => (s.id < a.id ? s : a)).upload_id;
      const scans = sending.filter((s) => s.upload_id === uploadId).sort((a, b) => a.upload_index - b.upload_index);
      return { uploadId, scans };
    }
    const tx = this.db.transaction(STORE, "readwrite");
    const store = tx.objectStore(STORE);
    const queued = (await request(store.index("state").getAll("queued")))
      .filter((s) => s.device_id === deviceId)
      .sort((a, b) => a.id - b.id)
      .slice(0, maxScans);
    if (!queued.length) {
      await done(tx);
      return null;
    }
    const uploadId = `${deviceId}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 10)}`.replace(/[^A-Za-z0-9._:-]/g, "-").slice(0, 128);
    queued.forEach((s, i) => store.put({ ...s, state: "sending", upload_id: uploadId, upload_index: i }));
    await done(tx);
    return { uploadId, scans: queued.map((s, i) => ({ ...s, state: "sending", upload_id: uploadId, upload_index: i })) };
  }

  async settle(batch, verdict) {
    const tx = this.db.transaction(STORE, "readwrite");
    const store = tx.objectStore(STORE);
    for (const scan of batch.scans) {
      const v = verdict.scans[scan.upload_index] || {};
      store.put({ ...scan, ...(await request(store.get(scan.id))), state: v.status === "accepted" ? "accepted" : "rejected",
        verdict: { status: v.status, reason: v.reason || null, error: v.error || null, item_key: v.item_key || null } });
    }
    await done(tx);
  }

  async fail(batch, error) {
    const tx = this.db.transaction(STORE, "readwrite");
    const store = tx.objectStore(STORE);
    for (const scan of batch.scans) {
      store.put({ ...(await request(store.get(scan.id))), state: "failed", verdict: { status: "failed", reason: error.error, error: error.detail } });
    }
    await done(tx);
  }
}

// Sends batches until the queue is empty or the service is unreachable; then waits (1 s doubling to
// 15 s) and tries again. `onChange` is called whenever states change, `onStatus` with a short text.
export class Sender {
  constructor(queue, { getDevice, maxScans = 200, onChange = () => {}, onStatus = () => {} }) {
    Object.assign(this, { queue, getDevice, maxScans, onChange, onStatus });
    this.busy = false;
    this.inFlight = null; // the upload id on the wire right now: its scans show as "sent"
    this.delay = 0;
    this.nextAttempt = 0;
    this.timer = setInterval(() => this.due() && this.flush(), 500);
    addEventListener("online", () => this.soon());
  }

  due() {
    return Date.now() >= this.nextAttempt;
  }

  soon() {
    this.nextAttempt = 0;
    this.flush();
  }

  async flush() {
    if (this.busy) return;
    const device = this.getDevice();
    if (!device) return;
    this.busy = true;
    try {
      for (;;) {
        const batch = await this.queue.nextBatch(device.deviceId, this.maxScans);
        if (!batch) break;
        this.onChange();
        const outcome = await this.send(device, batch);
        if (outcome === "retry") return this.backOff();
        this.onChange();
      }
      this.delay = 0;
      this.onStatus("online", "all scans sent");
    } catch (err) {
      this.onStatus("offline", `not sent: ${err.message || err}`);
      this.backOff();
    } finally {
      this.busy = false;
    }
  }

  backOff() {
    this.delay = Math.min(15000, this.delay ? this.delay * 2 : 1000);
    this.nextAttempt = Date.now() + this.delay;
  }

  async send(device, batch) {
    const body = {
      device_id: device.deviceId,
      upload_id: batch.uploadId,
      scans: batch.scans.map((s) => ({ raw_data: s.raw_data, scanned_at: s.scanned_at, action: s.action, ...(s.location ? { location: s.location } : {}) })),
    };
    let response;
    this.inFlight = batch.uploadId;
    this.onChange();
    try {
      response = await fetch("v1/scans", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${device.token}` },
        body: JSON.stringify(body),
        cache: "no-store",
      });
    } catch (err) {
      this.onStatus("offline", "service unreachable: scans stay queued on this device");
      return "retry";
    } finally {
      this.inFlight = null;
    }
    if (response.status === 202) {
      await this.queue.settle(batch, await response.json());
      return "sent";
    }
    const error = await response.json().catch(() => ({ error: `http_${response.status}`, detail: response.statusText }));
    if (response.status === 400 || response.status === 413 || response.status === 415 || response.status === 422) {
      await this.queue.fail(batch, error); // a malformed batch never gets better by retrying: keep it, show it
      this.onStatus("error", `upload refused: ${error.detail}`);
      return "sent";
    }
    // 401/403 (token changed on the server?), 503 (Kafka down), anything else: keep and retry.
    this.onStatus(response.status >= 500 ? "offline" : "error", `${response.status}: ${error.detail || error.error}`);
    return "retry";
  }
}
