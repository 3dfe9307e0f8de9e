// GraphQL over HTTP conformance: the graphql-http audit suite against a live server.
// Usage: node audit.mjs <url> <token>   → prints one JSON object with every audit result.
import { auditServer } from 'graphql-http';

const [url, token] = process.argv.slice(2);

// A real client sends its credentials and, for GET/multipart, the CSRF preflight header.
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  headers.set('graphql-require-preflight', '1');
  return fetch(input, { ...init, headers });
};

const results = await auditServer({ url, fetchFn });
const out = [];
for (const r of results) {
  const entry = { id: r.id, name: r.name, status: r.status };
  if (r.status !== 'ok') {
    entry.reason = r.reason;
    try {
      entry.response = await r.response.text();
    } catch {
      // the body was already read by the audit
    }
  }
  out.push(entry);
}
console.log(JSON.stringify(out));
