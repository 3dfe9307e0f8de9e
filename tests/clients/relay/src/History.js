// The generation history, paged both ways with usePaginationFragment (loadNext and
// loadPrevious): Relay sends null for the direction it is not paging.
import { graphql } from "react-relay";

export const history = graphql`
  fragment History_query on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 2 }
    cursor: { type: "String" }
    last: { type: "Int" }
    before: { type: "String" }
  )
  @refetchable(queryName: "HistoryPaginationQuery") {
    generationHistory(first: $count, after: $cursor, last: $last, before: $before)
      @connection(key: "History_generationHistory") {
      edges {
        node {
          id
          prompt
          status
          references {
            ...MeImageCard_image
          }
        }
      }
    }
  }
`;
