// A card of one image; refetchable by id through `node(id:)`.
import { graphql } from "react-relay";

export const image = graphql`
  fragment MeImageCard_image on MeImage
  @refetchable(queryName: "MeImageCardRefetchQuery") {
    id
    kind
    label
    thumbnailUrl
    usage {
      aiReference
    }
  }
`;
