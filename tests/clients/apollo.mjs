// Apollo Client 4 (npm, pinned) against a live server: each kind of refusal must reach
// the application as GraphQL errors with a stable `extensions.code` (CombinedGraphQLErrors),
// not as an unreadable ServerError. Prints one JSON line per case.
import {
  ApolloClient,
  CombinedGraphQLErrors,
  HttpLink,
  InMemoryCache,
  ServerError,
  gql,
} from "@apollo/client";

const [url, token] = process.argv.slice(2);

function client({ headers = { authorization: `Bearer ${token}` }, ...link } = {}) {
  return new ApolloClient({ link: new HttpLink({ uri: url, headers, ...link }), cache: new InMemoryCache() });
}

const POOL = gql`
  query Pool($kind: MeImageKind) {
    meImages(kind: $kind) {
      id
    }
  }
`;

const cases = {
  parse: () => client({ print: () => "{ meImages { id " }).query({ query: POOL }),
  validation: () => client().query({ query: gql`query Nope { nope }` }),
  variables: () => client().query({ query: POOL, variables: { kind: "ELBOW" } }),
  invalidInput: () =>
    client().query({
      query: gql`
        query Page {
          generationHistory(first: 0) {
            edges {
              cursor
            }
          }
        }
      `,
    }),
  unauthenticated: () => client({ headers: { authorization: "Bearer not-a-token" } }).query({ query: POOL }),
  // A GET without a preflight header is what a cross-site <img> or form could send.
  csrf: () => client({ useGETForQueries: true }).query({ query: POOL }),
  subscriptionOverPost: () =>
    new Promise((resolve, reject) => {
      client()
        .subscribe({
          query: gql`
            subscription Events {
              meImageEvents {
                __typename
              }
            }
          `,
        })
        .subscribe({
          next: (result) => (result.error ? reject(result.error) : resolve(result)),
          error: reject,
          complete: () => resolve(null),
        });
    }),
};

for (const [name, run] of Object.entries(cases)) {
  try {
    const result = await run();
    console.log(JSON.stringify({ case: name, outcome: "data", result }));
  } catch (error) {
    const report = { case: name, outcome: error.constructor.name };
    if (CombinedGraphQLErrors.is(error)) {
      report.codes = error.errors.map((e) => e.extensions?.code);
      report.messages = error.errors.map((e) => e.message);
    } else if (ServerError.is(error)) {
      report.status = error.statusCode;
    } else {
      report.message = String(error.message ?? error);
    }
    console.log(JSON.stringify(report));
  }
}
