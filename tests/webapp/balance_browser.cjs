// The balance after two generations in a row on a slow connection, in headless Chromium
// (puppeteer-core) against a live `meimages serve`. The answers to the page's balance reads
// (GenerationSetup) are held in the page after the server made them, as a slow download
// would: the first generation's read is still on its way when the second is charged.
// Usage: node balance_browser.cjs <config.json>   config: { base, token, chromium, profile }
// Every wait is on a DOM state or an event the gate records, bounded by a generous timeout
// as a safety net.
const { config, WAIT, report, sel, present, textOf, newPage, run } = require('./browser.cjs');

const { base: BASE, token: TOKEN } = config;
Object.assign(report, { steps: [] });

// The gate's records are in no DOM change, so these waits poll.
const POLLED = { timeout: WAIT.timeout, polling: 50 };

/** Runs in the page before its scripts: while `__readGate.hold` is set, the answer to each
 * GenerationSetup request is taken from the server at once (so it is the server's state
 * of that moment) and handed to the page only when `release` lets it through. `sent`
 * counts those requests; `release(order)` hands over the held answers in `order` (indexes
 * into `held`) and resolves once the page has read each and everything it then queued
 * in microtasks (Svelte's update included) has run. */
function gateBalanceReads() {
  const gate = { hold: false, held: [], sent: 0 };
  const native = window.fetch.bind(window);
  gate.release = async (order) => {
    const now = order.map((i) => gate.held[i]);
    gate.held = gate.held.filter((entry) => !now.includes(entry));
    for (const entry of now) {
      entry.deliver();
      await entry.read;
    }
    await new Promise((resolve) => setTimeout(resolve)); // a task: the microtasks ran before it
  };
  window.__readGate = gate;
  window.fetch = async (input, init) => {
    const body = typeof init?.body === 'string' ? init.body : '';
    const gated = gate.hold && body.includes('GenerationSetup');
    if (gated) gate.sent += 1;
    const response = await native(input, init);
    if (!gated) return response;
    const text = await response.text();
    const entry = { answer: text };
    let read;
    entry.read = new Promise((resolve) => (read = resolve));
    const delivered = new Promise((resolve) => (entry.deliver = resolve));
    gate.held.push(entry);
    await delivered;
    const copy = new Response(text, { status: response.status, statusText: response.statusText, headers: response.headers });
    const readText = copy.text.bind(copy);
    copy.text = () => readText().finally(read);
    return copy;
  };
}

const number = (text) => Number((text.match(/-?\d+/) || ['NaN'])[0]);

run(async (browser, step) => {
  const page = await newPage(browser);
  await page.evaluateOnNewDocument(gateBalanceReads);

  step('open the generator');
  await page.goto(`${BASE}/#token=${TOKEN}`);
  await present(page, sel('global-toggle'));
  await page.click('nav a[href="/generate"]');
  await present(page, sel('pick'));
  await page.click(`${sel('pick')} input`);
  await page.type(sel('prompt'), 'me, twice');
  await page.select('#gen-quality', 'LOW');
  // The price needs the models: the page's own first read has been answered.
  await page.waitForFunction((s) => /Price: 3 credits/.test(document.querySelector(s)?.textContent ?? ''), WAIT, sel('price'));
  report.balanceBefore = number(await textOf(page, sel('balance')));

  step('first generation, its balance read held');
  await page.evaluate(() => { window.__readGate.hold = true; });
  await page.click(sel('generate'));
  await present(page, sel('charged'), { timeout: 300000, polling: 'mutation' });
  report.firstCharged = await textOf(page, sel('charged'));
  await page.waitForFunction(() => window.__readGate.held.length === 1, POLLED);

  step('second generation while that read is on its way');
  await page.evaluate((s) => { window.__firstResult = document.querySelector(s); }, sel('result'));
  await page.waitForFunction((s) => !document.querySelector(`${s}[disabled]`), WAIT, sel('generate'));
  await page.click(sel('generate'));
  await page.waitForFunction(
    (s) => document.querySelector(s) !== null && document.querySelector(s) !== window.__firstResult,
    { timeout: 300000, polling: 'mutation' },
    sel('result'),
  );
  report.secondCharged = await textOf(page, sel('charged'));
  // The page asks for the balance in the same turn as it shows the result; a task later
  // that request has been made (or joined to the one already on its way).
  await page.evaluate(() => new Promise((resolve) => setTimeout(resolve)));
  // Every read sent has its answer from the server, held here (an answer is held only once
  // it has come back in full).
  await page.waitForFunction(() => window.__readGate.held.length === window.__readGate.sent, POLLED);
  report.balanceWhileHeld = number(await textOf(page, sel('balance')));
  report.readsSent = await page.evaluate(() => window.__readGate.sent);
  report.heldAnswers = await page.evaluate(() =>
    window.__readGate.held.map((entry) => JSON.parse(entry.answer).data.profile.credits),
  );

  step('the answers arrive, newest first');
  await page.evaluate(() => window.__readGate.release(window.__readGate.held.map((_, i) => i).reverse()));
  report.balanceAfter = number(await textOf(page, sel('balance')));
  await page.evaluate(() => { window.__readGate.hold = false; });
});
