// What the browser scripts here share: their config (the JSON file named on the command
// line: base, chromium, profile, shots, and axe where a script runs axe), headless Chromium
// (puppeteer-core), the waits, watching a page, screenshots at two widths, axe, and the
// one JSON report printed on stdout (a failed step exits non-zero with the step's name).
const fs = require('node:fs');
const path = require('node:path');
const puppeteer = require(path.join(__dirname, '../../web/node_modules/puppeteer-core'));

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
// Waits observe DOM mutations (not animation frames, which stop in a background tab); the
// timeout is only a safety net.
const WAIT = { timeout: 90000, polling: 'mutation' };
// What every script reports; each adds its own fields. `watch` also fills `external` and
// `cspViolations` where a script's report has them.
const report = { failed: [], pageErrors: [] };

const sel = (testid) => `[data-testid="${testid}"]`;
const present = (page, selector, options = WAIT) =>
  page.waitForFunction((s) => Boolean(document.querySelector(s)), options, selector);
const textOf = (page, selector) => page.$eval(selector, (e) => e.textContent.replace(/\s+/g, ' ').trim());

/** Record a page's errors, failed responses (but the `expected` statuses), and where the
 * report has room for them, requests leaving the server and CSP violations; `name`
 * prefixes each entry where a script has several pages. */
function watch(page, { name = null, expected = [] } = {}) {
  const who = name === null ? '' : `${name}: `;
  const base = config.base;
  page.on('pageerror', (e) => report.pageErrors.push(`${who}${e.message}`));
  if (report.cspViolations) {
    page.on('console', (m) => {
      if (/Content[- ]Security[- ]Policy/i.test(m.text())) report.cspViolations.push(`${who}${m.text()}`);
    });
  }
  if (report.external) {
    page.on('request', (r) => {
      const url = r.url();
      if (!url.startsWith(base) && !url.startsWith('data:') && !url.startsWith('blob:') && !url.startsWith(base.replace('http', 'ws'))) {
        report.external.push(url);
      }
    });
  }
  page.on('response', (r) => {
    if (r.status() >= 400 && !expected.includes(r.status())) report.failed.push(`${who}${r.status()} ${r.url()}`);
  });
}

/** A new watched page at desktop width (`viewport` adds to or overrides 1280 x 900). */
async function newPage(browser, watching = {}, viewport = {}) {
  const page = await browser.newPage();
  watch(page, watching);
  await page.setViewport({ width: 1280, height: 900, ...viewport });
  return page;
}

/** Screenshots at desktop width and at 375 px, and how far a phone's page sticks out
 * sideways (`overflow_<name>`); `viewport` adds to both (hasTouch, say). */
async function shot(page, name, viewport = {}) {
  await page.bringToFront();
  for (const [label, width] of [['desktop', 1280], ['phone', 375]]) {
    await page.setViewport({ width, height: label === 'phone' ? 812 : 900, ...viewport });
    // A relayout has no event of its own; two animation frames after the resize it is done.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const file = path.join(config.shots, `${name}-${label}.png`);
    await page.screenshot({ path: file, fullPage: true });
    report.shots.push(file);
    if (label === 'phone') {
      // Nothing may stick out sideways on a phone.
      report[`overflow_${name}`] = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    }
  }
  await page.setViewport({ width: 1280, height: 900, ...viewport });
}

/** Follow the app's navigation to `route`. */
async function nav(page, route) {
  await page.click(`nav a[href="${route}"]`);
  await page.waitForFunction((r) => window.location.pathname === r, WAIT, route);
}

let axeSource = null;

/** axe's violations on the page as it is, in `report.axe[name]`. */
async function axe(page, name) {
  axeSource ??= fs.readFileSync(config.axe, 'utf8');
  await page.evaluate(axeSource); // through the debugger protocol: the page's CSP stays strict
  report.axe[name] = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help, targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
}

/** Launch Chromium, run `steps(browser, step)` (it names each step with `step('...')`),
 * close it, print the report; on a failure the report says which step and why, each page
 * is screenshot to `failure-<i>.png`, and the process exits 1. */
function run(steps) {
  let current = 'launch';
  const step = (name) => {
    current = name;
  };
  (async () => {
    const browser = await puppeteer.launch({
      executablePath: config.chromium,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        `--user-data-dir=${config.profile}`, '--lang=en-US'],
    });
    try {
      await steps(browser, step);
      step('done');
    } catch (error) {
      report.error = `${current}: ${error && error.stack ? error.stack : error}`;
      for (const [i, page] of (await browser.pages()).entries()) {
        await page.screenshot({ path: path.join(config.shots, `failure-${i}.png`), fullPage: true }).catch(() => {});
      }
    } finally {
      await browser.close();
    }
    console.log(JSON.stringify(report));
    if (report.error) process.exit(1);
  })();
}

module.exports = { config, WAIT, report, sel, present, textOf, watch, newPage, shot, axe, nav, run };
