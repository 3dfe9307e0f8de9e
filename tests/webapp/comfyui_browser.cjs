// The operator's own engine in the web app, in headless Chromium (puppeteer-core), against
// a live `meimages serve` whose ComfyUI is the stand-in engine. Usage:
// node comfyui_browser.cjs <config.json>; config: { base, token, chromium, profile, shots }
// Every wait is on a DOM state, bounded by a generous timeout as a safety net. Prints one
// JSON report on stdout; a failed step exits non-zero with the step's name.
const path = require('node:path');
const { config, WAIT, report, sel, present, textOf, newPage, run } = require('./browser.cjs');

const { base: BASE, token: TOKEN, shots: SHOTS } = config;

run(async (browser, step) => {
  const page = await newPage(browser);

  step('sign in');
  await page.goto(`${BASE}/#token=${TOKEN}`);
  await present(page, sel('global-toggle'));

  step('model list');
  await page.click('nav a[href="/generate"]');
  await page.waitForFunction((s) => document.querySelectorAll(s).length >= 2, WAIT, `${sel('pick')}`);
  await page.waitForFunction(
    (s) => [...document.querySelectorAll(`${s} option`)].some((o) => o.value.startsWith('local/')),
    WAIT,
    sel('model'),
  );
  report.models = await page.$$eval(`${sel('model')} option`, (os) => os.map((o) => ({ value: o.value, label: o.textContent.trim() })));

  step('two references for a one-face workflow');
  await page.select(sel('model'), 'local/instantid-sdxl');
  const picks = await page.$$eval(sel('pick'), (ls) => ls.map((l) => l.dataset.imageId));
  for (const id of picks) await page.click(`${sel('pick')}[data-image-id="${id}"] input`);
  await present(page, sel('reference-count'));
  report.referenceCount = await textOf(page, sel('reference-count'));
  report.sendDisabled = await page.$eval(sel('generate'), (b) => b.disabled);
  report.counts = await page.$$eval('#gen-n option', (os) => os.map((o) => o.value));
  await page.click(`${sel('pick')}[data-image-id="${picks[1]}"] input`);
  await page.waitForFunction((s) => !document.querySelector(s), WAIT, sel('reference-count'));

  step('generate');
  await page.type(sel('prompt'), 'me as a lighthouse keeper');
  await page.select('#gen-n', '2');
  await page.waitForFunction((s) => /Price: 0 credits/.test(document.querySelector(s)?.textContent ?? ''), WAIT, sel('price'));
  report.price = await textOf(page, sel('price'));
  await page.click(sel('generate'));
  await present(page, sel('result'), { timeout: 300000, polling: 'mutation' });
  await page.waitForFunction((s) => document.querySelectorAll(s).length >= 2, WAIT, `${sel('result')} img`);
  await page.waitForFunction(
    (s) => [...document.querySelectorAll(s)].every((img) => img.complete && img.naturalWidth > 0),
    { timeout: WAIT.timeout, polling: 100 },
    `${sel('result')} img`,
  );
  report.charged = await textOf(page, sel('charged'));
  report.outputs = await page.$$eval(`${sel('result')} img`, (imgs) => imgs.map((i) => [i.naturalWidth, i.naturalHeight]));
  await page.screenshot({ path: path.join(SHOTS, 'comfyui-result.png'), fullPage: true });
});
