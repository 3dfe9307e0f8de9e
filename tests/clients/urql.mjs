// urql (npm @urql/core, pinned) against a live server: each refusal arrives in
// CombinedError.graphQLErrors with its `extensions.code`. One JSON line per case.
import { Client, fetchExchange, gql } from "@urql/core";

const [url, token] = process.argv.slice(2);

function client(headers = { authorization: `Bearer ${token}` }, preferGetMethod = false) {
  return new Client({ url, exchanges: [fetchExchange], fetchOptions: { headers }, preferGetMethod });
}

const POOL = gql`
  query Pool($kind: MeImageKind) {
    meImages(kind: $kind) {
      id
    }
  }
`;

const cases = {
  validation: () => client().query(gql`query Nope { nope }`, {}).toPromise(),
  variables: () => client().query(POOL, { kind: "ELBOW" }).toPromise(),
  invalidInput: () =>
    client().query(gql`query Page { generationHistory(first: 0) { edges { cursor } } }`, {}).toPromise(),
  unauthenticated: () => client({ authorization: "Bearer not-a-token" }).query(POOL, {}).toPromise(),
  csrf: () => client(undefined, "force").query(POOL, {}).toPromise(),
};

for (const [name, run] of Object.entries(cases)) {
  const result = await run();
  const errors = result.error?.graphQLErrors ?? [];
  console.log(
    JSON.stringify({
      case: name,
      codes: errors.map((e) => e.extensions?.code),
      network: result.error?.networkError?.message ?? null,
    }),
  );
}
