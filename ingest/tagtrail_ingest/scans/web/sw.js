// Keeps the pages loadable without the network: a handheld rebooted (or a page reloaded) in a dead
// zone still opens the station, and the scans queued in IndexedDB are there. Network first, so a new
// release reaches devices as soon as they are online; the API (/v1/...) is never cached.
const CACHE = "tagtrail-station-v1";
// Paths relative to where the service is mounted (sw.js sits at its root), so a reverse-proxy prefix works.
const BASE = new URL("./", self.location).pathname;
const SHELL = ["", "items", "web/style.css", "web/station.js", "web/queue.js", "web/settings.js", "web/transactions.js", "web/items.js"].map((p) => BASE + p);

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  const path = url.pathname;
  const page = path === BASE || path === BASE + "items";
  if (!page && !path.startsWith(BASE + "web/")) return;
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(page ? path : event.request, copy));
        }
        return response;
      })
      .catch(() => caches.match(page ? path : event.request)),
  );
});
