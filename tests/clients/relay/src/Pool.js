// The pool as a connection; a deleted image leaves every connection it is in.
import { graphql } from "react-relay";

export const pool = graphql`
  fragment Pool_query on Query
  @argumentDefinitions(count: { type: "Int", defaultValue: 10 }, cursor: { type: "String" })
  @refetchable(queryName: "PoolPaginationQuery") {
    pool(first: $count, after: $cursor) @connection(key: "Pool_pool") {
      __id
      edges {
        node {
          id
          ...MeImageCard_image
        }
      }
    }
  }
`;

export const query = graphql`
  query PoolQuery {
    ...Pool_query
    ...History_query
  }
`;

export const remove = graphql`
  mutation PoolDeleteMutation($id: ID!) {
    deleteMeImage(id: $id) {
      ... on DeletedMeImage {
        id @deleteRecord
      }
      ... on NotFoundError {
        code
      }
    }
  }
`;
