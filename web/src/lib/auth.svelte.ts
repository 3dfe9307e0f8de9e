// The bearer token: from the sign-in link's `#token=` (taken out of the address bar at once,
// as GraphiQL does), else from storage, else pasted by the person. The same storage key as
// GraphiQL, so signing in to one signs in to the other.

const TOKEN_KEY = 'meimages.token';

export type SignOutReason = 'signedOut' | 'expired' | 'invalid' | null | 'deleted';

function clean(value: string | null | undefined): string {
  return String(value ?? '')
    .trim()
    .replace(/^bearer\s+/i, '')
    .trim();
}

function load(): string {
  try {
    return clean(window.localStorage.getItem(TOKEN_KEY));
  } catch {
    return '';
  }
}

function store(token: string): void {
  try {
    if (token) window.localStorage.setItem(TOKEN_KEY, token);
    else window.localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage disabled: the token lives for this page only */
  }
}

/** Seconds since the epoch at which the JWT expires, or null if it does not say. */
export function tokenExpiry(token: string): number | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp : null;
  } catch {
    return null;
  }
}

function isExpired(token: string): boolean {
  const exp = tokenExpiry(token);
  return exp !== null && exp * 1000 <= Date.now();
}

/** Reads `#token=` once and removes it from the address bar (and from history). */
function takeTokenFromAddress(): string {
  const hash = window.location.hash.slice(1);
  // By hand, not URLSearchParams: a literal "+" in a token stays a "+".
  const match = /(?:^|&)token=([^&]*)/.exec(hash);
  if (!match) return '';
  let raw = match[1] ?? '';
  try {
    raw = decodeURIComponent(raw);
  } catch {
    /* keep it raw */
  }
  window.history.replaceState(null, '', window.location.pathname + window.location.search);
  return clean(raw);
}

class Auth {
  token = $state('');
  reason = $state<SignOutReason>(null);

  constructor() {
    const fromAddress = takeTokenFromAddress();
    if (fromAddress) store(fromAddress);
    const token = fromAddress || load();
    if (token && isExpired(token)) {
      store('');
      this.reason = 'expired';
    } else {
      this.token = token;
    }
  }

  /** A sign-in link opened in a tab that already shows the app changes only the hash. */
  listen(): void {
    window.addEventListener('hashchange', () => {
      const token = takeTokenFromAddress();
      if (token) this.signIn(token);
    });
  }

  signIn(value: string): boolean {
    const token = clean(value);
    if (!token) return false;
    if (isExpired(token)) {
      this.reason = 'expired';
      return false;
    }
    store(token);
    this.reason = null;
    this.token = token;
    return true;
  }

  signOut(reason: SignOutReason = 'signedOut'): void {
    if (!this.token) return;
    store('');
    this.reason = reason;
    this.token = '';
  }

  /** The server refused the token (HTTP 401 or a TOKEN_EXPIRED error on the stream). */
  refused(message?: string): void {
    const expired = isExpired(this.token) || /expired/i.test(message ?? '');
    this.signOut(expired ? 'expired' : 'invalid');
  }
}

export const auth = new Auth();
auth.listen();
