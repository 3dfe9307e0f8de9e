// Subscribes to meImageEvents with real npm clients and prints what arrived as JSON.
//   node clients.mjs <graphql url> <token> <after cursor> <event count> <ws|sse>...
// ws: the graphql-ws client (graphql-transport-ws protocol) over the `ws` package;
// sse: the graphql-sse client in distinct-connections mode (one POST per subscription).
// Each client named subscribes at once, on a connection of its own (one Node process for
// all of them, not one each); prints {"<ws|sse>": outcome, ...} once every client has its
// outcome: {"events": [...]} once <event count> events arrived, or {"error": ...}.
import { createClient as createSseClient } from "graphql-sse";
import { createClient as createWsClient } from "graphql-ws";
import WebSocket from "ws";

const [, , url, token, after, countText, ...protocols] = process.argv;
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

function createClient(protocol) {
  return protocol === "ws"
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
}

function outcomeOf(client) {
  return new Promise((resolve) => {
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
}

const clients = protocols.map(createClient);
const outcomes = await Promise.all(clients.map(outcomeOf));

process.stdout.write(JSON.stringify(Object.fromEntries(protocols.map((p, i) => [p, outcomes[i]]))) + "\n");
await Promise.all(clients.map((client) => client.dispose()));
process.exit(0);
