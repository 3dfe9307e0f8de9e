// The web app as a person uses it, in headless Chromium (puppeteer-core), against a live
// `meimages serve`. Usage: node app_browser.cjs <config.json>
// config: { base, token, expiredToken, chromium, files: {name: path}, shots, axe }
// Every wait is on a DOM state or an event, bounded by a generous timeout as a safety net.
// Prints one JSON report on stdout; a failed step exits non-zero with the step's name.
const { config, WAIT, report, sel, present, newPage, shot, axe, nav, run } = require('./browser.cjs');

const { base: BASE, token: TOKEN, files: FILES } = config;
Object.assign(report, { steps: [], external: [], cspViolations: [], axe: {}, shots: [] });

// 401 is expected once: the expired-token step.
const watching = (name) => ({ name, expected: [401] });

async function gridCards(page) {
  return page.$$eval(`${sel('grid')} ${sel('image-card')}`, (cards) =>
    cards.map((c) => ({ id: c.dataset.imageId, label: c.dataset.label })),
  );
}

async function cardFor(page, id) {
  return `${sel('image-card')}[data-image-id="${id}"]`;
}

async function waitImagesLoaded(page, selector, count) {
  await page.waitForFunction((s, n) => document.querySelectorAll(s).length >= n, WAIT, selector, count);
  // Lazy images below the fold would wait for a scroll that never comes: load them now.
  await page.$$eval(selector, (imgs) => imgs.forEach((img) => (img.loading = 'eager')));
  // An image finishing its load is no DOM mutation: check its state every 100 ms instead.
  await page.waitForFunction(
    (s) => [...document.querySelectorAll(s)].every((img) => img.complete && img.naturalWidth > 0),
    { timeout: WAIT.timeout, polling: 100 },
    selector,
  );
}

run(async (browser, step) => {
  // --- the sign-in page, before any token
  step('sign-in page');
  const a = await newPage(browser, watching('A'));
  await a.goto(`${BASE}/`);
  await present(a, '#signin-token', WAIT);
  report.signInTitle = await a.$eval('h1', (h) => h.textContent);
  await axe(a, 'sign-in');
  await shot(a, 'sign-in');

  // --- sign in by link; the token leaves the address bar at once
  step('sign in by link');
  await a.goto(`${BASE}/#token=${TOKEN}`);
  await present(a, sel('global-toggle'), WAIT);
  report.addressBar = a.url();
  await present(a, `${sel('live')}[data-state="live"]`, WAIT);

  // --- a second tab, signed in through the shared storage, live too
  step('second page');
  const b = await newPage(browser, watching('B'));
  await b.goto(`${BASE}/`);
  await present(b, `${sel('live')}[data-state="live"]`, WAIT);
  await a.bringToFront();

  // --- upload several files at once: two faces (one with GPS EXIF), one too large, one not an image
  step('upload');
  await a.select(sel('upload-kind'), 'FACE');
  const input = await a.$(sel('upload-input'));
  await input.uploadFile(FILES.gps, FILES.face2, FILES.big, FILES.notImage);
  await a.waitForFunction(
    (s) => {
      const items = [...document.querySelectorAll(s)];
      return items.length === 4 && items.every((i) => ['done', 'failed'].includes(i.dataset.status));
    },
    { timeout: 240000, polling: 'mutation' },
    sel('upload-item'),
  );
  report.uploads = await a.$$eval(sel('upload-item'), (items) =>
    items.map((i) => ({ name: i.dataset.name, status: i.dataset.status, text: i.textContent.replace(/\s+/g, ' ').trim() })),
  );
  await waitImagesLoaded(a, `${sel('grid')} img`, 2);
  await a.select(sel('upload-kind'), 'REFERENCE');
  await (await a.$(sel('upload-input'))).uploadFile(FILES.reference);
  await a.waitForFunction((s) => document.querySelectorAll(s).length === 3, WAIT, `${sel('grid')} ${sel('image-card')}`);
  await waitImagesLoaded(a, `${sel('grid')} img`, 3);
  const cards = await gridCards(a);
  report.gridAfterUpload = cards;
  // Newest first: the reference (uploaded last) leads.
  const [refCard, face2Card, gpsCard] = cards;

  step('second page sees the uploads');
  await b.waitForFunction((s) => document.querySelectorAll(s).length === 3, WAIT, `${sel('grid')} ${sel('image-card')}`);
  await waitImagesLoaded(b, `${sel('grid')} img`, 3);
  report.liveUploads = (await gridCards(b)).map((c) => c.id);

  // --- consent: the GPS face opted in (by keyboard: focus the switch, press Space)
  step('consent toggle');
  const gpsToggle = `${await cardFor(a, gpsCard.id)} ${sel('ai-toggle')}`;
  report.toggleBefore = await a.$eval(gpsToggle, (t) => t.getAttribute('aria-checked'));
  await a.focus(gpsToggle);
  await a.keyboard.press('Space');
  await present(a, `${gpsToggle}[aria-checked="true"]`, WAIT);
  await present(b, `${await cardFor(b, gpsCard.id)} ${sel('ai-toggle')}[aria-checked="true"]`, WAIT);
  report.liveToggle = true;

  // --- set the face primary, then swap it
  step('face primary');
  await a.click(`${await cardFor(a, gpsCard.id)} ${sel('star')}`);
  await present(a, `${sel('slot-FACE_REF')}[data-image-id="${gpsCard.id}"]`, WAIT);
  report.faceAfterFirst = gpsCard.id;
  await a.click(`${await cardFor(a, face2Card.id)} ${sel('star')}`);
  await present(a, `${sel('slot-FACE_REF')}[data-image-id="${face2Card.id}"]`, WAIT);
  await present(a, await cardFor(a, gpsCard.id), WAIT); // the old holder is back in the grid
  await present(b, `${sel('slot-FACE_REF')}[data-image-id="${face2Card.id}"]`, WAIT);
  report.faceSwapped = { slot: face2Card.id, gridHasOld: Boolean(await a.$(await cardFor(a, gpsCard.id))) };
  await waitImagesLoaded(a, `${sel('slot-FACE_REF')} img`, 1);
  await axe(a, 'my-images');
  await shot(a, 'my-images');

  // --- edit a label (and see it on the other page)
  step('edit label');
  await a.click(`${await cardFor(a, refCard.id)} ${sel('edit')}`);
  await present(a, `${sel('edit-dialog')}[open]`, WAIT);
  await axe(a, 'edit-dialog');
  const labelInput = `${sel('edit-dialog')} input[name="label"]`;
  await a.click(labelInput, { clickCount: 3 });
  await a.type(labelInput, 'studio light');
  await a.type(`${sel('edit-dialog')} input[name="tags"]`, 'beach, summer');
  await a.click(sel('edit-save'));
  await present(a, `${await cardFor(a, refCard.id)}[data-label="studio light"]`, WAIT);
  await present(b, `${await cardFor(b, refCard.id)}[data-label="studio light"]`, WAIT);
  report.editedLabel = await a.$eval(`${await cardFor(a, refCard.id)} ${sel('label')}`, (e) => e.textContent);
  report.editedTags = await a.$$eval(`${await cardFor(a, refCard.id)} .tags li`, (l) => l.map((e) => e.textContent));

  // --- the picker: the opted-in face is offered; with the global switch off, nothing is
  step('picker');
  await nav(a, '/generate');
  await present(a, sel('pick'), WAIT);
  report.pickerOn = await a.$$eval(sel('pick'), (p) => p.map((e) => e.dataset.imageId));
  await nav(a, '/');
  await a.click(sel('global-toggle'));
  await present(a, `${sel('global-toggle')}[aria-checked="false"]`, WAIT);
  await nav(a, '/generate');
  await present(a, sel('picker-off'), WAIT);
  report.pickerOff = (await a.$$(sel('pick'))).length;
  report.pickerOffText = await a.$eval(sel('picker-off'), (e) => e.textContent);
  await nav(a, '/');
  await a.click(sel('global-toggle'));
  await present(a, `${sel('global-toggle')}[aria-checked="true"]`, WAIT);

  // --- delete with confirmation (gone on both pages)
  step('delete');
  await a.click(`${await cardFor(a, refCard.id)} ${sel('delete')}`);
  await present(a, `${sel('confirm-dialog')}[open]`, WAIT);
  await axe(a, 'confirm-dialog');
  await a.click(sel('confirm-yes'));
  await a.waitForFunction((s) => !document.querySelector(s), WAIT, await cardFor(a, refCard.id));
  await b.waitForFunction((s) => !document.querySelector(s), WAIT, await cardFor(b, refCard.id));
  report.deleted = refCard.id;
  report.gridAfterDelete = (await gridCards(a)).map((c) => c.id);

  // --- generate against the provider test server
  step('generate');
  await nav(a, '/generate');
  await present(a, `${sel('pick')}[data-image-id="${gpsCard.id}"]`, WAIT);
  await a.waitForFunction((s) => /100/.test(document.querySelector(s)?.textContent ?? ''), WAIT, sel('balance'));
  await a.click(`${sel('pick')}[data-image-id="${gpsCard.id}"] input`);
  await a.waitForFunction((s) => /1 of 8/.test(document.querySelector(s)?.textContent ?? ''), WAIT, sel('picker-count'));
  await a.type(sel('prompt'), 'me as an astronaut, studio light');
  await a.select('#gen-quality', 'LOW');
  await a.waitForFunction((s) => /Price: 3 credits/.test(document.querySelector(s)?.textContent ?? ''), WAIT, sel('price'));
  report.priceBefore = await a.$eval(sel('price'), (e) => e.textContent.replace(/\s+/g, ' ').trim());
  await axe(a, 'generate');
  await shot(a, 'generate');
  await a.click(sel('generate'));
  await present(a, sel('result'), { timeout: 300000, polling: 'mutation' });
  await waitImagesLoaded(a, `${sel('result')} img`, 1);
  report.charged = await a.$eval(sel('charged'), (e) => e.textContent);
  // The balance read after the charge, or the reason the page gives for not having it.
  await a.waitForFunction(
    (s, e) => /97/.test(document.querySelector(s)?.textContent ?? '') || document.querySelector(e) !== null,
    WAIT,
    sel('balance'),
    sel('setup-error'),
  );
  report.balanceAfter = await a.$eval(sel('balance'), (e) => e.textContent);
  report.setupError = await a.$eval(sel('setup-error'), (e) => e.textContent).catch(() => null);
  // Every output says it is AI-generated; its credentials panel opens by a click.
  report.aiLabels = await a.$$eval(`${sel('result')} ${sel('ai-label')}`, (els) => els.map((e) => e.textContent.trim()));
  await a.click(`${sel('result')} ${sel('credentials')} summary`);
  await present(a, `${sel('result')} ${sel('credentials-signer')}`, WAIT);
  report.credentials = await a.$eval(`${sel('result')} ${sel('credentials-signer')}`, (e) => e.textContent.replace(/\s+/g, ' ').trim());
  await shot(a, 'generate-result');
  await a.click(`${sel('result')} ${sel('add-to-pool')}`);
  await present(a, `${sel('result')} ${sel('output')} [role="status"]`, WAIT);
  await b.waitForFunction((s) => document.querySelectorAll(s).length === 2, WAIT, `${sel('grid')} ${sel('image-card')}`);
  report.outputAdded = true;

  // --- an error in words: more credits than the balance
  step('insufficient credits');
  await a.select('#gen-quality', 'HIGH');
  await a.select('#gen-n', '4');
  await a.click(sel('generate'));
  await present(a, sel('gen-error'), WAIT);
  report.generateError = await a.$eval(sel('gen-error'), (e) => e.textContent);

  // --- history: the generation with its reference thumbnail and its output
  step('history');
  await nav(a, '/history');
  await present(a, sel('history-item'), WAIT);
  await waitImagesLoaded(a, `${sel('history-item')} img`, 2);
  report.history = await a.$$eval(sel('history-item'), (items) =>
    items.map((i) => ({
      status: i.dataset.status,
      refs: i.querySelectorAll('[data-testid="history-refs"] img').length,
      outputs: i.querySelectorAll('[data-testid="output"] img').length,
      cost: i.querySelector('[data-testid="history-cost"]').textContent,
      aiLabels: [...i.querySelectorAll('[data-testid="ai-label"]')].map((e) => e.textContent.trim()),
    })),
  );
  await axe(a, 'history');
  await shot(a, 'history');

  // --- German, switched in the header
  step('german');
  await nav(a, '/');
  await a.select('#locale', 'de');
  await a.waitForFunction(() => document.documentElement.lang === 'de' && /Meine Bilder/.test(document.querySelector('h1').textContent), WAIT);
  report.germanTitle = await a.$eval('h1', (h) => h.textContent);
  await axe(a, 'my-images-de');
  await shot(a, 'my-images-de');
  await a.select('#locale', 'en');

  // --- keyboard alone: the skip link comes first and leads to the content
  step('keyboard');
  await a.goto(`${BASE}/`);
  await present(a, sel('global-toggle'), WAIT);
  await a.keyboard.press('Tab');
  report.firstTab = await a.evaluate(() => document.activeElement?.textContent);

  // --- sign out, then an expired token leads back to sign-in with the reason
  step('sign out');
  await a.click(sel('signout'));
  await present(a, '#signin-token', WAIT);
  report.signedOut = await a.$eval(sel('signin-reason'), (e) => e.textContent);
  step('expired token');
  await a.goto(`${BASE}/#token=${config.expiredToken}`);
  await present(a, sel('signin-reason'), WAIT);
  report.expired = await a.$eval(sel('signin-reason'), (e) => e.textContent);
});
