// The person's rights in the browser, in headless Chromium (puppeteer-core), against a live
// `meimages serve` with no image provider: the global switch followed live by a second tab,
// paused switches, the Generate page saying why, consent until a date and the usage ledger,
// the My data page (download, import, providers, delete everything), in English and German,
// at desktop width and 375 px, with axe on every page and state.
// Usage: node my_data_browser.cjs <config.json>
// config: { base, token, chromium, files: {name: path}, shots, axe, profile }
// Every wait is on a DOM state, bounded by a generous timeout as a safety net.
const { config, WAIT, report, sel, present, textOf, newPage, shot, axe, nav, run } = require('./browser.cjs');

const { base: BASE, token: TOKEN, files: FILES } = config;
Object.assign(report, { external: [], axe: {}, shots: [], texts: {} });

const waitText = (page, selector, pattern) =>
  page.waitForFunction(
    (s, p) => new RegExp(p).test(document.querySelector(s)?.textContent ?? ''),
    WAIT,
    selector,
    pattern,
  );

/** axe and screenshots of one page or state, both widths. */
async function look(page, name) {
  await axe(page, name);
  await shot(page, name);
}

async function setLocale(page, locale) {
  await page.select('#locale', locale);
  await page.waitForFunction((l) => document.documentElement.lang === l, WAIT, locale);
}

run(async (browser, step) => {
  step('sign in');
  const a = await newPage(browser, { name: 'A' });
  await a.goto(`${BASE}/#token=${TOKEN}`);
  await present(a, `${sel('live')}[data-state="live"]`);
  await a.waitForFunction((s) => document.querySelectorAll(s).length === 2, WAIT, `${sel('grid')} ${sel('image-card')}`);
  report.switchNames = await a.$$eval(`${sel('grid')} ${sel('ai-toggle')}`, (switches) =>
    switches.map((s) => document.getElementById(s.getAttribute('aria-labelledby')).textContent),
  );
  report.perCardHelp = await a.$$eval(`${sel('grid')} ${sel('image-card')} .switch-row .help`, (h) => h.length);

  // --- a second tab on the generator, following the global switch live
  step('second tab');
  const b = await newPage(browser, { name: 'B' });
  await b.goto(`${BASE}/generate`);
  await present(b, `${sel('live')}[data-state="live"]`);
  await present(b, sel('pick'));
  await present(b, sel('no-provider')); // once the models are known
  report.texts.noProvider = await textOf(b, sel('no-provider'));
  report.texts.whyOff = await textOf(b, sel('gen-why'));
  await look(b, 'generate-no-provider');

  step('kill switch off');
  await a.bringToFront();
  await a.click(sel('global-toggle'));
  await present(a, sel('paused-line'));
  await present(b, sel('picker-off')); // the other tab follows without a reload
  report.pausedSwitches = await a.$$eval(`${sel('ai-toggle')}[data-paused="true"]`, (s) => s.length);
  report.texts.pausedLine = await textOf(a, sel('paused-line'));
  report.texts.pickerOff = await textOf(b, sel('picker-off'));
  report.texts.whySwitchOff = await textOf(b, sel('gen-why'));
  await look(a, 'images-paused');
  step('kill switch on');
  await a.click(sel('global-toggle'));
  await present(b, sel('pick'));
  report.pickerBack = await b.$$eval(sel('pick'), (p) => p.length);

  // --- consent until a date, and where the image went
  step('details');
  const card = `${sel('grid')} ${sel('image-card')}:first-child`;
  await a.click(`${card} ${sel('details')}`);
  await present(a, sel('details-dialog'));
  await present(a, sel('details-no-uses'));
  const until = await a.$eval(sel('details-until'), (input) => {
    const d = new Date();
    d.setDate(d.getDate() + 30);
    const pad = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  });
  await a.$eval(sel('details-until'), (input, v) => {
    input.value = v;
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }, until);
  await a.click(sel('details-save'));
  await waitText(a, sel('details-state'), 'Until');
  report.texts.until = await textOf(a, sel('details-state'));
  await look(a, 'details');
  await a.click(sel('details-clear'));
  await waitText(a, sel('details-state'), 'until you turn it off');
  await a.keyboard.press('Escape');
  await a.waitForFunction((s) => !document.querySelector(s), WAIT, sel('details-dialog'));
  await present(a, `${card} ${sel('ai-toggle')}[aria-checked="true"]`);
  await look(a, 'images');

  // --- My data
  step('my data');
  await nav(a, '/data');
  await present(a, sel('export'));
  report.texts.deleteWhy = await textOf(a, '#delete-why');
  report.deleteDisabled = await a.$eval(sel('delete-start'), (button) => button.disabled);
  await look(a, 'data');
  step('export');
  await a.click(sel('export-start'));
  await present(a, sel('export-link'));
  report.texts.exportLink = await textOf(a, sel('export-link'));
  report.exportHref = await a.$eval(sel('export-link'), (link) => link.getAttribute('href'));
  step('providers');
  await a.click(sel('provider-GEMINI'));
  await a.click(sel('providers-save'));
  await waitText(a, `${sel('providers')} ${sel('inline-notice')}`, 'Saved');
  report.texts.providersSaved = await textOf(a, `${sel('providers')} ${sel('inline-notice')}`);
  step('import');
  const input = await a.$(sel('import-file'));
  await input.uploadFile(FILES.other);
  await a.waitForFunction((s) => !document.querySelector(s).disabled, WAIT, sel('import-start'));
  await a.click(sel('import-start'));
  await waitText(a, `${sel('import')} ${sel('inline-notice')}`, 'imported');
  report.texts.imported = await textOf(a, `${sel('import')} ${sel('inline-notice')}`);
  await input.uploadFile(FILES.own);
  await a.waitForFunction((s) => !document.querySelector(s).disabled, WAIT, sel('import-start'));
  await a.click(sel('import-start'));
  await waitText(a, `${sel('import')} ${sel('inline-notice')}`, 'already');
  report.texts.already = await textOf(a, `${sel('import')} ${sel('inline-notice')}`);
  await look(a, 'data-done');

  // --- German
  step('german');
  await setLocale(a, 'de');
  report.texts.deTitle = await textOf(a, 'h1');
  report.texts.deDelete = await textOf(a, '#delete-why');
  await look(a, 'data-de');
  await nav(a, '/generate');
  await present(a, sel('no-provider'));
  report.texts.deNoProvider = await textOf(a, sel('no-provider'));
  await look(a, 'generate-de');
  await nav(a, '/');
  await present(a, sel('global-toggle'));
  report.texts.deAvatarHelp = await a.$eval(`${sel('slot-AVATAR')} [id$="-replace-help"]`, (e) => e.textContent);
  report.texts.deGlobalHelp = await a.$eval('.consent .switch-row', (e) => e.outerHTML);
  await look(a, 'images-de');
  await setLocale(a, 'en');

  // --- the avatar card shows the face reference standing in, not "Empty"
  step('avatar stand-in');
  await a.click(`${sel('grid')} ${sel('star')}`); // the first face photo becomes the face reference
  await present(a, `${sel('slot-AVATAR')} ${sel('avatar-stand-in')}`);
  report.texts.standIn = await textOf(a, `${sel('slot-AVATAR')} .card-body .help`);
  await look(a, 'images-stand-in');

  // --- delete everything: the phrase first, then gone and signed out
  step('delete');
  await nav(a, '/data');
  await a.type(sel('delete-phrase'), 'delete my data');
  report.deleteDisabledWrong = await a.$eval(sel('delete-start'), (button) => button.disabled);
  await a.$eval(sel('delete-phrase'), (e) => (e.value = ''));
  await a.type(sel('delete-phrase'), 'DELETE MY DATA');
  await a.waitForFunction((s) => !document.querySelector(s).disabled, WAIT, sel('delete-start'));
  await a.click(sel('delete-start'));
  await present(a, sel('signin-reason'));
  report.texts.deleted = await textOf(a, sel('signin-reason'));
  await look(a, 'signed-out-deleted');
  await b.close();
});
