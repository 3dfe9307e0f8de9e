// A small consumer of the generated types, compiled with `tsc --strict` in the test suite.
// If the schema changes in a way that breaks front ends, this stops compiling.
import type {
  GenerationHistoryQuery,
  GenerationHistoryQueryVariables,
  NodeQuery,
  PoolPageQuery,
  MeImagesQuery,
  MeImagesQueryVariables,
  ProfileQuery,
  SetPrimaryMutation,
  UploadMeImageMutation,
  UploadMeImageMutationVariables,
  MeImageKind,
  PrimarySlot,
  MeImageUsesQuery,
  ProviderKind,
  RecipientsQuery,
} from "./generated/graphql";
import type { MeImage as MeImageObject, MeImageUsage } from "./generated/schema";

export function pickerLabels(data: MeImagesQuery): string[] {
  return data.meImages
    .filter((image) => image.usage.aiReference)
    .map((image) => `${image.kind}: ${image.label ?? "(no label)"} ${image.width}x${image.height}`);
}

export function avatarSrc(data: ProfileQuery): string | null {
  return data.profile.avatarUrl ?? null;
}

export function uploadOutcome(data: UploadMeImageMutation): string {
  const result = data.uploadMeImage;
  switch (result.__typename) {
    case "MeImage":
      return `uploaded ${result.id} (${result.contentType})`;
    case "TooLargeError":
      return `too large: max ${result.maxBytes} bytes`;
    case "InvalidInputError":
      return `invalid ${result.field ?? "input"}: ${result.message}`;
    case "UnsupportedMediaTypeError":
    case "RateLimitedError":
      return `${result.code}: ${result.message}`;
    case "PoolFullError":
      return `pool full: at most ${result.cap} images`;
  }
}

/** The next page's `after`, or null when the history has been read to its end. */
export function nextHistoryPage(data: GenerationHistoryQuery): GenerationHistoryQueryVariables["after"] {
  const page = data.generationHistory.pageInfo;
  return page.hasNextPage ? page.endCursor : null;
}

export function previousHistoryPage(data: GenerationHistoryQuery): GenerationHistoryQueryVariables {
  const page = data.generationHistory.pageInfo;
  return page.hasPreviousPage ? { last: 20, before: page.startCursor } : {};
}

export function historyPrompts(data: GenerationHistoryQuery): string[] {
  return data.generationHistory.edges.map((edge) => edge.node.prompt);
}

export function refetchedLabel(data: NodeQuery): string | null {
  const node = data.node;
  if (node === null || node === undefined) return null;
  switch (node.__typename) {
    case "MeImage":
      return `${node.kind} ${node.thumbnailUrl}`;
    case "Generation":
      return `${node.status}: ${node.prompt}`;
  }
}

export function poolIds(data: PoolPageQuery): string[] {
  return data.pool.edges.map((edge) => edge.node.id);
}

export const oldestFirst: MeImagesQueryVariables = { order: "OLDEST_FIRST" };

export function slotHolder(data: SetPrimaryMutation): PrimarySlot | null | undefined {
  return data.setPrimary.__typename === "MeImage" ? data.setPrimary.primaryFor : undefined;
}

export const faceKind: MeImageKind = "FACE";

export function uploadVariables(file: File): UploadMeImageMutationVariables {
  return { file, input: { kind: faceKind, label: "studio", tags: ["front"], primaryFor: "FACE_REF" } };
}

export function optedIn(image: Pick<MeImageObject, "usage">): MeImageUsage["aiReference"] {
  return image.usage.aiReference;
}

export function recipientLines(data: RecipientsQuery): string[] {
  return data.profile.recipients.map(
    (r) => `${r.provider} at ${r.host}: ${r.uses} sends of ${r.images} images, last ${r.lastUsedAt}`,
  );
}

export function nextUsesPage(data: MeImageUsesQuery): string | null {
  const uses = data.meImage?.uses;
  return uses?.pageInfo.hasNextPage ? (uses.pageInfo.endCursor ?? null) : null;
}

export const onlySelfHosted: ProviderKind[] = ["OPENAI_COMPATIBLE"];
