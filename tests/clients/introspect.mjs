// graphql-js 16, what most tools still run (most on a release before 16.14): build a client schema from a live server's
// introspection answer, introspect and print that schema again, and compare it with the
// checked-in schema.graphql. Prints a JSON report; throws (exit 1) where graphql-js does.
import { readFileSync } from "node:fs";

// `graphql` (16.15) or `graphql-16-8` (16.8.1, before graphql-js knew DIRECTIVE_DEFINITION).
const [library, url, token, sdlPath, inject] = process.argv.slice(2);
const {
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  graphqlSync,
  lexicographicSortSchema,
  printType,
  version,
} = await import(library);
const query = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
});
const response = await fetch(url, {
  method: "POST",
  headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
  body: JSON.stringify({ query }),
});
const { data, errors } = await response.json();
if (errors) throw new Error(JSON.stringify(errors));
if (inject) {
  // What graphql-core 3.3 answers by itself: proves this script catches it.
  data.__schema.directives.find((d) => d.name === "deprecated").locations.push(inject);
}
const client = buildClientSchema(data);
// The second introspection, as graphql-inspector's `introspect` runs it.
const second = graphqlSync({ schema: client, source: query });
if (second.errors) throw new Error(second.errors.map((e) => e.message).join("; "));
const again = buildClientSchema(second.data);
// Every type as graphql-js prints it (the directives aside: 16.8 counts @oneOf as custom).
const types = (schema) =>
  Object.values(lexicographicSortSchema(schema).getTypeMap())
    .filter((type) => !type.name.startsWith("__"))
    .map(printType)
    .join("\n\n");
const printed = types(again);
const file = types(buildSchema(readFileSync(sdlPath, "utf8")));
console.log(
  JSON.stringify({
    version,
    sameAsFile: printed === file,
    types: Object.keys(again.getTypeMap()).length,
    deprecatedLocations: again.getDirective("deprecated").locations,
  }),
);
