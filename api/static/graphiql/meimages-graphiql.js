/*
 * meimages GraphiQL bootstrap (no inline script, works with CSP script-src 'self').
 *
 * Needs the UMD globals React, ReactDOM and GraphiQL loaded before this file.
 * Token sources, in order: URL fragment "#token=...", then localStorage
 * "meimages.token". The fragment is removed from the address bar right away.
 */
(function () {
  'use strict';

  var TOKEN_KEY = 'meimages.token';
  var HTTP_URL = '/graphql';
  var WS_URL = (window.location.protocol === 'https:' ? 'wss://' : 'ws://') +
    window.location.host + '/graphql';

  function cleanToken(value) {
    var t = String(value || '').trim();
    if (/^bearer\s+/i.test(t)) t = t.replace(/^bearer\s+/i, '').trim();
    return t;
  }

  function loadToken() {
    try { return cleanToken(window.localStorage.getItem(TOKEN_KEY)); } catch (e) { return ''; }
  }

  function saveToken(token) {
    try {
      if (token) window.localStorage.setItem(TOKEN_KEY, token);
      else window.localStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage disabled: token lives for this page only */ }
  }

  // 1. Token from "#token=..." (fragment is never sent to the server).
  var token = '';
  var hash = window.location.hash ? window.location.hash.slice(1) : '';
  // Parsed by hand (not URLSearchParams) so a literal "+" in a token stays "+".
  var m = /(?:^|&)token=([^&]*)/.exec(hash);
  if (m) {
    var raw = m[1];
    try { raw = decodeURIComponent(raw); } catch (e) { /* keep raw */ }
    if (cleanToken(raw)) {
      token = cleanToken(raw);
      saveToken(token);
    }
    window.history.replaceState(null, '',
      window.location.pathname + window.location.search);
  }
  // 2. Otherwise from localStorage.
  if (!token) token = loadToken();

  // Token bar.
  var form = document.getElementById('meimages-tokenbar');
  var input = document.getElementById('meimages-token-input');
  var forget = document.getElementById('meimages-token-forget');
  var status = document.getElementById('meimages-token-status');

  if (token) {
    status.textContent = 'using token \u2026' + token.slice(-4);
    status.className = 'meimages-status';
  } else {
    status.textContent = 'no token set \u2013 requests will be rejected';
    status.className = 'meimages-status meimages-missing';
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var t = cleanToken(input.value);
    if (!t) { input.focus(); return; }
    saveToken(t);
    // Reload so the fetcher, the websocket params and every tab's
    // Headers pane start from the new token.
    window.location.reload();
  });
  forget.addEventListener('click', function () {
    saveToken('');
    window.location.reload();
  });

  // GraphiQL.
  // X-GraphiQL: under MEIMAGES_TRUSTED_DOCUMENTS=require a development server still
  // runs what is typed here (production never honours it).
  var httpHeaders = { 'GraphQL-Require-Preflight': '1', 'X-GraphiQL': '1' };
  var wsParams = { 'X-GraphiQL': '1' };
  var headersPane;
  if (token) {
    httpHeaders.Authorization = 'Bearer ' + token;
    wsParams.Authorization = 'Bearer ' + token;
    headersPane = JSON.stringify({ Authorization: 'Bearer ' + token }, null, 2);
  }

  // Headers typed in the Headers pane are merged over these for HTTP and are
  // also merged into the graphql-ws connectionParams by GraphiQL.
  var fetcher = GraphiQL.createFetcher({
    url: HTTP_URL,
    subscriptionUrl: WS_URL,
    headers: httpHeaders,
    wsConnectionParams: wsParams
  });

  // What a first visit (and every new tab) opens with, instead of GraphiQL's generic
  // welcome comment: this server's own first steps.
  var DEFAULT_QUERY = [
    '# meimages: your pool of reference images over GraphQL.',
    '#',
    '# Set a token above (or open /graphiql#token=...), then press Run (Ctrl-Enter).',
    '# The Docs pane lists every field; `subscription { meImageEvents { ... } }`',
    '# streams changes live. AI may use an image only once you opt it in',
    '# (setAiReferenceEnabled), and never while aiUsesReferenceImages is off.',
    '',
    'query MyPool {',
    '  profile {',
    '    aiUsesReferenceImages',
    '    credits',
    '  }',
    '  meImages {',
    '    id',
    '    kind',
    '    label',
    '    usage { aiReference aiReferenceUntil }',
    '    primaryFor',
    '    thumbnailUrl',
    '  }',
    '}',
    ''
  ].join('\n');

  var props = {
    fetcher: fetcher,
    defaultQuery: DEFAULT_QUERY,
    // Never write the Headers pane (which holds the token) to localStorage;
    // the token is kept only under "meimages.token".
    shouldPersistHeaders: false
  };
  if (headersPane) {
    props.headers = headersPane;        // active tab on load
    props.defaultHeaders = headersPane; // new / restored tabs
  }

  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, props));
})();
