// graphql-yoga answering the list query from memory: the payload meimages gave, served
// by resolvers over plain objects (no auth, no database). Usage: node server.mjs BODY PORT
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createSchema, createYoga } from "graphql-yoga";

const [bodyFile, port] = process.argv.slice(2);
const images = JSON.parse(readFileSync(bodyFile, "utf8")).data.meImages;

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    type MeImageUsage { aiReference: Boolean! showInProfile: Boolean! }
    type MeImage {
      id: ID! kind: String! label: String tags: [String!]! mediaId: ID! storagePath: String!
      publicUrl: String! thumbnailUrl: String! contentType: String! width: Int! height: Int!
      usage: MeImageUsage! primaryFor: String createdAt: String! updatedAt: String!
    }
    type Query { meImages: [MeImage!]! }
  `,
  resolvers: { Query: { meImages: () => images } },
});

const yoga = createYoga({ schema, logging: false, graphiql: false, maskedErrors: true });
createServer(yoga).listen(Number(port), "127.0.0.1");
