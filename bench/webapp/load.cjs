// First load of the main page from a warm server: bytes on the wire per type and the time
// until the images are shown.
// Usage: node load.cjs <base> <token> <chromium> <profile-dir> [<images> [<loads>]]
const path = require('node:path');
const puppeteer = require(path.join(__dirname, 'node_modules/puppeteer-core'));
const [BASE, TOKEN, CHROMIUM, PROFILE, IMAGES = '50', LOADS = '5'] = process.argv.slice(2);
const images = Number(IMAGES);
const loads = Number(LOADS);

(async () => {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${PROFILE}`],
  });
  const out = { bytes: {}, runs: [] };
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const cdp = await page.createCDPSession();
    await cdp.send('Network.enable');
    const types = new Map();
    cdp.on('Network.responseReceived', (e) => types.set(e.requestId, e.type));
    cdp.on('Network.loadingFinished', (e) => {
      const type = types.get(e.requestId) ?? 'Other';
      out.bytes[type] = (out.bytes[type] ?? 0) + e.encodedDataLength;
    });
    // Sign in once (the token moves to storage), then measure clean loads.
    await page.goto(`${BASE}/#token=${TOKEN}`);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="grid"] img').length >= n, { timeout: 120000, polling: 'mutation' }, images);
    for (const key of Object.keys(out.bytes)) delete out.bytes[key];
    await cdp.send('Network.clearBrowserCache');
    for (let run = 0; run < loads; run += 1) {
      if (run > 0) for (const key of Object.keys(out.bytes)) delete out.bytes[key];
      await cdp.send('Network.clearBrowserCache');
      await page.goto(`${BASE}/`);
      // Time from navigation start until `images` grid images have loaded (their load events).
      const ms = await page.evaluate(
        (n) =>
          new Promise((resolve) => {
            const done = () => {
              const imgs = [...document.querySelectorAll('[data-testid="grid"] img')];
              if (imgs.length >= n && imgs.slice(0, n).every((i) => { i.loading = 'eager'; return i.complete && i.naturalWidth > 0; })) {
                resolve(performance.now());
                return true;
              }
              return false;
            };
            if (done()) return;
            const observer = new MutationObserver(() => done() && observer.disconnect());
            observer.observe(document.body, { childList: true, subtree: true });
            document.addEventListener('load', () => done() && observer.disconnect(), true);
          }),
        images,
      );
      out.runs.push(Math.round(ms));
      if (run === 0) out.firstBytes = { ...out.bytes };
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
