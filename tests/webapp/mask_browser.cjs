// The mask editor and "From my generations" as a person uses them, in headless Chromium
// (puppeteer-core) against a live `meimages serve`: mouse, touch and pen strokes, undo,
// eraser, keyboard-only presets, invert, clear, the preview, then a masked generation
// with a chained output. Usage: node mask_browser.cjs <config.json>
// config: { base, token, chromium, shots, axe, profile }
// Every wait is on a DOM state, bounded by a generous timeout as a safety net.
const { config, WAIT, report, sel, present, newPage, shot, axe, run } = require('./browser.cjs');

const { base: BASE, token: TOKEN } = config;
Object.assign(report, { steps: [], cspViolations: [], axe: {}, shots: [], percents: {} });
const TOUCH = { hasTouch: true }; // every viewport here takes touch, for the touch strokes

async function percent(page) {
  return page.$eval(sel('mask-percent'), (e) => Number((e.textContent.match(/\d+/) || ['-1'])[0]));
}

/** Until the editor reports a share that satisfies `test` (it updates after each stroke). */
async function percentWhere(page, test) {
  await page.waitForFunction(
    (s, src) => {
      const m = (document.querySelector(s)?.textContent || '').match(/\d+/);
      return m !== null && new Function('p', `return ${src}`)(Number(m[0]));
    },
    WAIT,
    sel('mask-percent'),
    test,
  );
  return percent(page);
}

async function box(page) {
  const b = await page.$eval(sel('mask-canvas'), (c) => {
    c.scrollIntoView({ block: 'center' });
    const r = c.getBoundingClientRect();
    return { x: r.left, y: r.top, w: r.width, h: r.height };
  });
  return b;
}

// The held messages are in no DOM change, so this wait polls.
const POLLED = { timeout: WAIT.timeout, polling: 50 };

/** Runs in the page before its scripts: the page's WebSockets hand their messages to
 * `onmessage` at once, or while `__socketGate.hold` is set, only when `release` lets them
 * through (in order, those `which` picks; `hold` then says whether to go on holding). */
function gateSocketMessages() {
  const gate = { hold: false, held: [] };
  gate.release = (which, hold = true) => {
    gate.hold = hold;
    const now = gate.held.filter((m) => which(m.data));
    gate.held = gate.held.filter((m) => !now.includes(m));
    for (const m of now) m.deliver();
    return new Promise((resolve) => setTimeout(resolve)); // after the app's own microtasks
  };
  window.__socketGate = gate;
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    set onmessage(handler) {
      super.onmessage = handler && ((event) => {
        if (gate.hold) gate.held.push({ data: String(event.data), deliver: () => handler.call(this, event) });
        else handler.call(this, event);
      });
    }
    get onmessage() {
      return super.onmessage;
    }
  };
}

/** Press a control with the keyboard only: focus by Tab order, then Space or Enter. */
async function keyPress(page, testid, key = 'Enter') {
  await page.focus(sel(testid));
  const focused = await page.evaluate(() => document.activeElement?.dataset?.testid ?? '');
  if (focused !== testid) throw new Error(`could not focus ${testid}`);
  await page.keyboard.press(key);
}

run(async (browser, step) => {
  const page = await newPage(browser, {}, TOUCH);
  await page.evaluateOnNewDocument(gateSocketMessages);

  step('sign in and open the generator');
  await page.goto(`${BASE}/#token=${TOKEN}`);
  await present(page, sel('global-toggle'));
  await page.click('nav a[href="/generate"]');
  await present(page, sel('pick'));
  await page.click(sel('pick'));
  await page.waitForFunction((s) => document.querySelector(s)?.textContent.startsWith('1 of'), WAIT, sel('picker-count'));

  step('from my generations');
  await present(page, sel('allow-generated'));
  report.generatedBefore = await page.$$eval(sel('generated'), (items) => items.length);
  // Allowing an output answers over HTTP twice (create, then switch AI use on) while the
  // two events come over the socket. Held back here, the events arrive after both answers,
  // as from a slow socket; the older one (ADDED, AI use still off) must not undo the newer.
  await page.evaluate(() => { window.__socketGate.hold = true; });
  await page.click(sel('allow-generated'));
  const chained = (s) => document.querySelector(s)?.querySelector('input')?.checked === true;
  await page.waitForFunction(chained, WAIT, sel('pick-generated'));
  await page.waitForFunction(() => ['"ADDED"', '"AI_REFERENCE_TOGGLED"'].every((type) => window.__socketGate.held.some((m) => m.data.includes(type))), POLLED);
  report.chainedId = await page.$eval(sel('pick-generated'), (e) => e.dataset.imageId);
  report.pickedBeforeEvents = await page.$eval(sel('picker-count'), (e) => e.textContent);
  await page.evaluate(() => window.__socketGate.release((data) => data.includes('"ADDED"')));
  report.pickedAfterStaleEvent = await page.$eval(sel('picker-count'), (e) => e.textContent);
  report.chainedAfterStaleEvent = await page.evaluate(chained, sel('pick-generated'));
  await page.evaluate(() => window.__socketGate.release(() => true, false));
  report.pickedAfterChain = await page.$eval(sel('picker-count'), (e) => e.textContent);

  step('mask editor');
  await page.click(sel('mask-on'));
  await present(page, sel('mask-canvas'));
  report.percents.start = await percent(page);
  report.priceNoMask = await page.$eval(sel('price'), (e) => e.textContent);
  report.buttonNoMask = await page.$eval(sel('generate'), (e) => e.textContent.trim());
  report.canvasSize = await page.$eval(sel('mask-canvas'), (c) => [c.width, c.height]);

  step('mouse stroke');
  await page.click(sel('mask-brush-L'));
  let b = await box(page);
  await page.mouse.move(b.x + b.w * 0.2, b.y + b.h * 0.5);
  await page.mouse.down();
  for (let i = 1; i <= 10; i++) await page.mouse.move(b.x + b.w * (0.2 + 0.06 * i), b.y + b.h * 0.5);
  await page.mouse.up();
  report.percents.mouse = await percentWhere(page, 'p > 0');
  await shot(page, 'mask-mouse', TOUCH);

  step('undo');
  await page.click(sel('mask-undo'));
  report.percents.undone = await percentWhere(page, 'p === 0');

  step('touch stroke');
  b = await box(page);
  await page.touchscreen.touchStart(b.x + b.w * 0.5, b.y + b.h * 0.2);
  for (let i = 1; i <= 8; i++) await page.touchscreen.touchMove(b.x + b.w * 0.5, b.y + b.h * (0.2 + 0.07 * i));
  await page.touchscreen.touchEnd();
  report.percents.touch = await percentWhere(page, 'p > 0');

  step('pen stroke');
  const cdp = await page.createCDPSession();
  const before = await percent(page);
  const pen = (type, fx, fy) =>
    cdp.send('Input.dispatchMouseEvent', {
      type, x: b.x + b.w * fx, y: b.y + b.h * fy, button: 'left', buttons: type === 'mouseReleased' ? 0 : 1,
      clickCount: 1, pointerType: 'pen', force: 0.8,
    });
  await pen('mousePressed', 0.1, 0.85);
  for (let i = 1; i <= 8; i++) await pen('mouseMoved', 0.1 + 0.1 * i, 0.85);
  await pen('mouseReleased', 0.9, 0.85);
  report.percents.pen = await percentWhere(page, `p > ${before}`);

  step('eraser');
  await page.click(sel('mask-eraser'));
  const painted = await percent(page);
  await page.mouse.move(b.x + b.w * 0.5, b.y + b.h * 0.1);
  await page.mouse.down();
  for (let i = 1; i <= 8; i++) await page.mouse.move(b.x + b.w * 0.5, b.y + b.h * (0.1 + 0.1 * i));
  await page.mouse.up();
  report.percents.erased = await percentWhere(page, `p < ${painted}`);
  await page.click(sel('mask-eraser'));

  step('keyboard presets');
  await keyPress(page, 'mask-preset-all');
  report.percents.all = await percentWhere(page, 'p === 100');
  await keyPress(page, 'mask-clear', 'Space');
  report.percents.cleared = await percentWhere(page, 'p === 0');
  await keyPress(page, 'mask-preset-bottom');
  report.percents.bottom = await percentWhere(page, 'p === 50');
  await keyPress(page, 'mask-invert', 'Space');
  // Inverted bottom half: the top half may change.
  report.percents.inverted = await percentWhere(page, 'p === 50');
  report.invertedTop = await page.$eval(sel('mask-canvas'), (c) => {
    const ctx = c.getContext('2d');
    return [ctx.getImageData(5, 5, 1, 1).data[3], ctx.getImageData(5, c.height - 5, 1, 1).data[3]];
  });
  await keyPress(page, 'mask-preset-all');
  await percentWhere(page, 'p === 100');
  await keyPress(page, 'mask-undo');
  report.percents.undoPreset = await percentWhere(page, 'p === 50');
  await keyPress(page, 'mask-preset-top');
  report.percents.top = await percentWhere(page, 'p === 50');

  step('preview');
  await page.focus(sel('mask-preview'));
  await page.keyboard.press('Space');
  await present(page, 'canvas.mask-preview');
  await page.waitForFunction(
    () => {
      const c = document.querySelector('canvas.mask-preview');
      if (!c) return false;
      const ctx = c.getContext('2d');
      return ctx.getImageData(5, 5, 1, 1).data[3] === 255 && ctx.getImageData(5, c.height - 5, 1, 1).data[3] === 0;
    },
    { timeout: WAIT.timeout, polling: 100 },
  );
  report.preview = true;
  report.priceMasked = await page.$eval(sel('price'), (e) => e.textContent);
  report.buttonMasked = await page.$eval(sel('generate'), (e) => e.textContent.trim());
  await axe(page, 'generate-mask');
  await shot(page, 'mask-preview', TOUCH);

  step('masked generation');
  await page.type('#gen-prompt', 'me in a red coat, only the top changes');
  await page.click(sel('generate'));
  await present(page, sel('sent-mask'));
  report.charged = await page.$eval(sel('charged'), (e) => e.textContent);
  report.sentMask = await page.$eval(`${sel('sent-mask')} img`, (i) => i.alt);
  await axe(page, 'generate-result-mask');
  await shot(page, 'mask-result', TOUCH);

  step('german');
  await page.evaluate(() => window.localStorage.setItem('meimages.locale', 'de'));
  await page.reload();
  await present(page, sel('mask-on'));
  report.germanMask = await page.$eval(`${sel('mask')} legend`, (e) => e.textContent);
  report.germanFromGenerations = await page.$eval('#from-generations', (e) => e.textContent);
});
