// The device id and token, entered once per handheld and kept in localStorage (both pages share them).
const KEY = "tagtrail.device";

export function loadDevice() {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) || "null");
    return saved && saved.deviceId && saved.token ? saved : null;
  } catch {
    return null;
  }
}

export function saveDevice(deviceId, token) {
  localStorage.setItem(KEY, JSON.stringify({ deviceId: deviceId.trim(), token: token.trim() }));
}

export function forgetDevice() {
  localStorage.removeItem(KEY);
}

export function authHeaders(device) {
  return { Authorization: `Bearer ${device.token}` };
}

// fetch that gives up after `ms`: a handheld at the edge of Wi-Fi must not hang on a request.
export async function fetchWithin(ms, url, options = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  try {
    return await fetch(url, { ...options, signal: controller.signal, cache: "no-store" });
  } finally {
    clearTimeout(timer);
  }
}

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// Control characters (a real GS, say) made visible: what the operator sees must show what was scanned.
export function visible(text) {
  return String(text ?? "").replace(/[\x00-\x1f]/g, (c) => (c === "\x1d" ? "␝" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
}

// The offline app shell (sw.js); without service workers (plain http on a LAN address) the pages
// still work online, and queued scans survive in IndexedDB either way.
export function registerShell() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("sw.js", { scope: "./" }).catch(() => {});
  }
}
