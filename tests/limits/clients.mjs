// Real urql clients against a live meimages server; prints one JSON object.
//   node clients.mjs apq <graphql url> <token> <runs>
//     urql with @urql/exchange-persisted (hashed queries over GET) runs one query <runs>
//     times; prints each result and every HTTP request the client made.
//   node clients.mjs web <graphql url> <token> <web/src/generated/graphql.ts>
//     sends each of the web app's generated queries and mutations through urql as the
//     web app does, and prints what came back and each document's text.
import { Client, fetchExchange, gql, stringifyDocument } from "@urql/core";
import { persistedExchange } from "@urql/exchange-persisted";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

const [, , mode, url, token, arg] = process.argv;
const headers = {
  accept: "application/graphql-response+json, application/json",
  Authorization: `Bearer ${token}`,
  "GraphQL-Require-Preflight": "1",
};

async function apq(runs) {
  const requests = [];
  const recordingFetch = async (input, init) => {
    const response = await fetch(input, init);
    const text = await response.clone().text();
    requests.push({
      method: init?.method ?? "GET",
      url: String(input),
      body: init?.body ?? null,
      status: response.status,
      response: text,
    });
    return response;
  };
  const client = new Client({
    url,
    fetch: recordingFetch,
    fetchOptions: () => ({ headers }),
    requestPolicy: "network-only",
    exchanges: [
      persistedExchange({
        preferGetForPersistedQueries: true,
        generateHash: async (query) => createHash("sha256").update(query).digest("hex"),
      }),
      fetchExchange,
    ],
  });
  const query = gql`
    query OwnerSettings {
      profile {
        ownerId
        aiUsesReferenceImages
      }
    }
  `;
  const results = [];
  for (let n = 0; n < runs; n++) {
    const before = requests.length;
    const result = await client.query(query, {}).toPromise();
    results.push({
      data: result.data ?? null,
      error: result.error ? result.error.message : null,
      requests: requests.slice(before),
    });
  }
  return { results };
}

function webDocuments(path) {
  const source = readFileSync(path, "utf8");
  const documents = [];
  const pattern = /^export const (\w+)Document = (\{.*\}) as unknown as DocumentNode/gm;
  for (const match of source.matchAll(pattern)) {
    documents.push({ name: match[1], document: JSON.parse(match[2]) });
  }
  return documents;
}

async function web(path) {
  // The web app's client (web/src/lib/client.ts): urql with fetchExchange only, so the
  // documents go out as stringifyDocument prints them, with no __typename added.
  const sent = [];
  const client = new Client({
    url,
    exchanges: [fetchExchange],
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      sent.push({ status: response.status, body: await response.clone().json() });
      return response;
    },
    fetchOptions: () => ({ headers }),
    requestPolicy: "network-only",
    preferGetMethod: false,
  });
  const out = [];
  for (const { name, document } of webDocuments(path)) {
    const operation = document.definitions.find((d) => d.kind === "OperationDefinition");
    const entry = { name, type: operation.operation, text: stringifyDocument(document) };
    if (operation.operation !== "subscription") {
      // Variables left out: a required one fails coercion after the trusted check.
      const before = sent.length;
      const run = operation.operation === "query" ? client.query : client.mutation;
      await run.call(client, document, {}).toPromise();
      entry.responses = sent.slice(before);
    }
    out.push(entry);
  }
  return { documents: out };
}

const output = mode === "apq" ? await apq(Number(arg)) : await web(arg);
process.stdout.write(JSON.stringify(output));
