// Subscribes to meImageEvents with a real npm client and prints what arrived as JSON.
//   node clients.mjs <ws|sse> <graphql url> <token> <after cursor> <event count>
// ws: the graphql-ws client (graphql-transport-ws protocol) over the `ws` package;
// sse: the graphql-sse client in distinct-connections mode (one POST per subscription).
// Prints {"events": [...]} once <event count> events arrived, or {"error": ...}.
import { createClient as createSseClient } from "graphql-sse";
import { createClient as createWsClient } from "graphql-ws";
import WebSocket from "ws";

const [, , protocol, url, token, after, countText] = process.argv;
const count = Number(countText);
const query = `subscription($after: String) {
  meImageEvents(after: $after) {
    __typename
    ... on MeImageEvent { type imageId cursor enabled image { id usage { aiReference } } }
    ... on Error { code message }
  }
}`;

function describe(error) {
  if (error && typeof error === "object" && "code" in error && "reason" in error) {
    return { closeCode: error.code, reason: error.reason };
  }
  if (Array.isArray(error)) return { graphqlErrors: error };
  return { message: String(error && error.message ? error.message : error) };
}

const client =
  protocol === "ws"
    ? createWsClient({
        url: url.replace(/^http/, "ws"),
        webSocketImpl: WebSocket,
        connectionParams: { Authorization: `Bearer ${token}` },
        retryAttempts: 0,
        shouldRetry: () => false,
      })
    : createSseClient({
        url,
        singleConnection: false,
        headers: { Authorization: `Bearer ${token}` },
        retryAttempts: 0,
      });

const outcome = await new Promise((resolve) => {
  const events = [];
  const timer = setTimeout(
    () => resolve({ error: { message: `timed out after ${events.length}/${count} events` } }),
    30000,
  );
  const finish = (value) => {
    clearTimeout(timer);
    resolve(value);
  };
  const variables = after ? { after } : {};
  client.subscribe(
    { query, variables },
    {
      next(result) {
        if (result.errors) return finish({ error: describe(result.errors) });
        events.push(result.data.meImageEvents);
        if (events.length >= count) finish({ events });
      },
      error: (error) => finish({ error: describe(error) }),
      complete: () => finish({ events, completed: true }),
    },
  );
});

process.stdout.write(JSON.stringify(outcome) + "\n");
await client.dispose();
process.exit(0);
