/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** Which allowlist refused a provider. */
export type AllowlistRule =
  /** The owner's own allowed providers (setAllowedProviders). */
  | 'OWNER'
  /** The operator's allowed providers (MEIMAGES_ALLOWED_PROVIDERS). */
  | 'SERVER';

/** What is wrong with an archive offered for import. */
export type ArchiveProblem =
  /** Every image of the archive is already in this space's pool (the archive was imported before): importing it again would only duplicate them. */
  | 'ALREADY_IMPORTED'
  /** A field of pool.json is missing or invalid. */
  | 'BAD_FIELD'
  /** An entry inflates far beyond its compressed size or past what it declared. */
  | 'COMPRESSION_BOMB'
  /** Damaged data or JSON. */
  | 'CORRUPT'
  /** Two entries with the same name. */
  | 'DUPLICATE_ENTRY'
  /** Two images with the same id or file. */
  | 'DUPLICATE_ID'
  /** An entry is encrypted. */
  | 'ENCRYPTED'
  /** An image is refused as an upload would be. */
  | 'IMAGE_REJECTED'
  /** A file the archive refers to is not in it. */
  | 'MISSING_FILE'
  /** Not a zip file. */
  | 'NOT_A_ZIP'
  /** An entry is a link. */
  | 'SYMLINK'
  /** An entry, or the whole, unpacks past a limit. */
  | 'TOO_LARGE'
  /** More entries or images than allowed. */
  | 'TOO_MANY_ENTRIES'
  /** A file a meimages export never holds. */
  | 'UNEXPECTED_ENTRY'
  /** An entry name is absolute or climbs out (`..`). */
  | 'UNSAFE_PATH'
  /** A format version this server cannot read. */
  | 'UNSUPPORTED_VERSION'
  /** Not a meimages export (no or another manifest). */
  | 'WRONG_FORMAT';

/** A MeImage for media the caller already uploaded. */
export type CreateMeImageInput = {
  /** What the image shows. */
  kind?: MeImageKind;
  /** Optional label (≤ 200 chars). */
  label?: string | null | undefined;
  /** Id returned by the upload route. */
  mediaId: string | number;
  /** Claim this slot right away (the previous holder loses it). */
  primaryFor?: PrimarySlot | null | undefined;
  /** Show on the profile. */
  showInProfile?: boolean;
  /** Tags (≤ 30, ≤ 64 chars each). */
  tags?: Array<string>;
};

/** Stable machine-readable codes of the errors a client can act on. */
export type ErrorCode =
  /** Events after this cursor are no longer kept: refetch, then subscribe anew. */
  | 'CURSOR_TOO_OLD'
  /** The caller has fewer credits than the call costs. */
  | 'INSUFFICIENT_CREDITS'
  /** An archive offered for import is not a valid meimages export; nothing changed. */
  | 'INVALID_ARCHIVE'
  /** An argument is invalid. */
  | 'INVALID_INPUT'
  /** The model's provider takes no inpainting mask; nothing was held or sent. */
  | 'MASK_NOT_SUPPORTED'
  /** No such object for this caller (foreign ids look the same). */
  | 'NOT_FOUND'
  /** The pool holds as many live images as the server allows (`MEIMAGES_POOL_CAP`). */
  | 'POOL_FULL'
  /** The image provider failed; nothing was charged. */
  | 'PROVIDER_FAILED'
  /** The owner's or the server's allowlist does not include the model's provider. */
  | 'PROVIDER_NOT_ALLOWED'
  /** The server has no credentials for that provider. */
  | 'PROVIDER_NOT_CONFIGURED'
  /** Too many calls of this kind in a window: retry after `retryAfter` seconds. */
  | 'RATE_LIMITED'
  /** A reference image may not be sent to AI (one answer for every reason). */
  | 'REFERENCE_NOT_USABLE'
  /** This server lets only its operator delete a person's data (`MEIMAGES_SELF_DELETION`). */
  | 'SELF_DELETION_DISABLED'
  /** The token expired during a subscription: reconnect with a fresh one. */
  | 'TOKEN_EXPIRED'
  /** The file or image exceeds a size limit. */
  | 'TOO_LARGE'
  /** The file is not an accepted image: JPEG, PNG, WebP, HEIC/HEIF, AVIF or single-frame GIF. */
  | 'UNSUPPORTED_MEDIA_TYPE';

/** Where an export stands. */
export type ExportStatus =
  /** Ready: see downloadUrl. */
  | 'DONE'
  /** Built, but no longer kept: start another. */
  | 'EXPIRED'
  /** Failed: start another. */
  | 'FAILED'
  /** Being built. */
  | 'RUNNING';

/** A prompt and the caller's own consented reference images. */
export type GenerationInput = {
  /** Inpainting mask (a file part of the multipart request): an image with an alpha channel, e.g. a PNG, whose transparent pixels mark what may change in the first reference; the same aspect ratio as that reference, at most the upload size limit. It is scaled with the reference (long side at most 1024 px), stripped of metadata, sent as the provider's `mask` and kept, encrypted, with the generation. Not every provider takes one (MaskNotSupportedError). */
  mask?: File | null | undefined;
  /** Model id, see `generationModels` (default openai/gpt-image-2). */
  model?: string;
  /** Number of images, 1 to 4. */
  n?: number;
  /** What to make (1 to 32000 characters). */
  prompt: string;
  /** Quality; sets the price per image. */
  quality?: GenerationQuality;
  /** 1 to 8 MeImage ids of the caller, each opted in for AI use. */
  referenceImageIds: Array<string | number>;
  /** Output size. */
  size?: GenerationSize;
};

/** How much effort the model spends per image; sets the price. */
export type GenerationQuality =
  /** Best and dearest. */
  | 'HIGH'
  /** Fast and cheap. */
  | 'LOW'
  /** The default. */
  | 'MEDIUM';

/** Pixel size of the output images. */
export type GenerationSize =
  /** The model chooses. */
  | 'AUTO'
  /** 1536 x 1024. */
  | 'LANDSCAPE'
  /** 1024 x 1536. */
  | 'PORTRAIT'
  /** 1024 x 1024. */
  | 'SQUARE';

/** Where a generation stands. */
export type GenerationStatus =
  /** No images; nothing was charged. */
  | 'FAILED'
  /** The provider is working; credits are held. */
  | 'PENDING'
  /** Images were produced and charged. */
  | 'SUCCEEDED';

/** What happened to an image. */
export type MeImageEventType =
  /** An image was added. */
  | 'ADDED'
  /** The AI opt-in of an image changed. */
  | 'AI_REFERENCE_TOGGLED'
  /** An image was deleted. */
  | 'DELETED'
  /** An image gained or lost a primary slot. */
  | 'PRIMARY_CHANGED'
  /** Label, tags, kind or showInProfile changed. */
  | 'UPDATED';

/** What a reference image shows. */
export type MeImageKind =
  /** A face close-up. */
  | 'FACE'
  /** The whole body. */
  | 'FULLBODY'
  /** Waist up. */
  | 'HALFBODY'
  /** Hands. */
  | 'HANDS'
  /** Any other reference. */
  | 'REFERENCE';

/** Why an upload was refused as not an acceptable image. */
export type MediaRejection =
  /** An animated or multi-image file (GIF, APNG, WebP, HEIF/AVIF sequences, several images in one HEIC). */
  | 'ANIMATED'
  /** Embedded text or profile data that inflates far beyond any real photo's. */
  | 'COMPRESSED_TEXT_BOMB'
  /** Truncated or corrupt. */
  | 'CORRUPT'
  /** No longer given: single-frame GIFs are accepted, animated ones are ANIMATED. */
  | 'GIF'
  /** A HEIC/HEIF/AVIF container that does not decode (corrupt or an unsupported variant). */
  | 'HEIF'
  /** HTML or other markup. */
  | 'HTML'
  /** Not an image at all. */
  | 'NOT_AN_IMAGE'
  /** An image format other than JPEG, PNG, WebP, HEIC/HEIF, AVIF, GIF. */
  | 'OTHER_IMAGE'
  /** A PDF document. */
  | 'PDF'
  /** An SVG file (can carry scripts). */
  | 'SVG'
  /** A TIFF image. */
  | 'TIFF'
  /** Took too long to decode; the server may be busy. */
  | 'TIMEOUT';

/** A primary role an image can hold; at most one live image per owner and space holds each. */
export type PrimarySlot =
  /** The profile picture. */
  | 'AVATAR'
  /** The main body reference. */
  | 'BODY_REF'
  /** The main face reference (also the avatar when set). */
  | 'FACE_REF';

/** Who receives reference images. */
export type ProviderKind =
  /** The operator's own ComfyUI engine (models `local/<name>`). */
  | 'COMFYUI'
  /** Google's Gemini API. */
  | 'GEMINI'
  /** OpenAI itself (api.openai.com). */
  | 'OPENAI'
  /** A server speaking OpenAI's protocol at another address (e.g. self-hosted). */
  | 'OPENAI_COMPATIBLE';

/** Fields to change; omitted fields stay as they are, a null label clears it. */
export type UpdateMeImageInput = {
  /** New kind. */
  kind?: MeImageKind | null | undefined;
  /** New label; null clears. */
  label?: string | null | undefined;
  /** Show on the profile. */
  showInProfile?: boolean | null | undefined;
  /** New tags, replacing the old; null clears. */
  tags?: Array<string> | null | undefined;
};

/** Details of an image being uploaded. */
export type UploadMeImageInput = {
  /** What the image shows. */
  kind?: MeImageKind;
  /** Optional label (≤ 200 chars). */
  label?: string | null | undefined;
  /** Claim this slot right away (the previous holder loses it). */
  primaryFor?: PrimarySlot | null | undefined;
  /** Show on the profile. */
  showInProfile?: boolean;
  /** Tags (≤ 30, ≤ 64 chars each). */
  tags?: Array<string>;
};

/** How a send of a reference image ended. */
export type UseOutcome =
  /** The provider failed after receiving it. */
  | 'FAILED'
  /** The call stopped midway; the provider may have received it. */
  | 'INTERRUPTED'
  /** The provider returned images. */
  | 'SUCCEEDED';

export type ImageFieldsFragment = { id: string, kind: MeImageKind, label: string | null, tags: Array<string>, mediaId: string, width: number, height: number, primaryFor: PrimarySlot | null, createdAt: string, updatedAt: string, thumbnailUrl: string, mediumUrl: string, useCount: number, lastUsedAt: string | null, usage: { aiReference: boolean, aiReferenceUntil: string | null, showInProfile: boolean } };

type ErrorFields_CursorTooOldError_Fragment = { code: ErrorCode, message: string };

type ErrorFields_InsufficientCreditsError_Fragment = { code: ErrorCode, message: string };

type ErrorFields_InvalidArchiveError_Fragment = { code: ErrorCode, message: string };

type ErrorFields_InvalidInputError_Fragment = { code: ErrorCode, message: string };

type ErrorFields_MaskNotSupportedError_Fragment = { code: ErrorCode, message: string };

type ErrorFields_NotFoundError_Fragment = { code: ErrorCode, message: string };

type ErrorFields_PoolFullError_Fragment = { code: ErrorCode, message: string };

type ErrorFields_ProviderFailedError_Fragment = { code: ErrorCode, message: string };

type ErrorFields_ProviderNotAllowedError_Fragment = { code: ErrorCode, message: string };

type ErrorFields_ProviderNotConfiguredError_Fragment = { code: ErrorCode, message: string };

type ErrorFields_RateLimitedError_Fragment = { code: ErrorCode, message: string };

type ErrorFields_ReferenceNotUsableError_Fragment = { code: ErrorCode, message: string };

type ErrorFields_SelfDeletionDisabledError_Fragment = { code: ErrorCode, message: string };

type ErrorFields_TokenExpiredError_Fragment = { code: ErrorCode, message: string };

type ErrorFields_TooLargeError_Fragment = { code: ErrorCode, message: string };

type ErrorFields_UnsupportedMediaTypeError_Fragment = { code: ErrorCode, message: string };

export type ErrorFieldsFragment =
  | ErrorFields_CursorTooOldError_Fragment
  | ErrorFields_InsufficientCreditsError_Fragment
  | ErrorFields_InvalidArchiveError_Fragment
  | ErrorFields_InvalidInputError_Fragment
  | ErrorFields_MaskNotSupportedError_Fragment
  | ErrorFields_NotFoundError_Fragment
  | ErrorFields_PoolFullError_Fragment
  | ErrorFields_ProviderFailedError_Fragment
  | ErrorFields_ProviderNotAllowedError_Fragment
  | ErrorFields_ProviderNotConfiguredError_Fragment
  | ErrorFields_RateLimitedError_Fragment
  | ErrorFields_ReferenceNotUsableError_Fragment
  | ErrorFields_SelfDeletionDisabledError_Fragment
  | ErrorFields_TokenExpiredError_Fragment
  | ErrorFields_TooLargeError_Fragment
  | ErrorFields_UnsupportedMediaTypeError_Fragment
;

export type EventCursorQueryVariables = Exact<{ [key: string]: never; }>;


export type EventCursorQuery = { meImageEventCursor: string };

export type PoolQueryVariables = Exact<{ [key: string]: never; }>;


export type PoolQuery = { profile: { ownerId: string, spaceId: string, aiUsesReferenceImages: boolean, credits: number, allowedProviders: Array<ProviderKind> }, meImages: Array<{ id: string, kind: MeImageKind, label: string | null, tags: Array<string>, mediaId: string, width: number, height: number, primaryFor: PrimarySlot | null, createdAt: string, updatedAt: string, thumbnailUrl: string, mediumUrl: string, useCount: number, lastUsedAt: string | null, usage: { aiReference: boolean, aiReferenceUntil: string | null, showInProfile: boolean } }> };

export type GenerationSetupQueryVariables = Exact<{ [key: string]: never; }>;


export type GenerationSetupQuery = { profile: { credits: number, aiUsesReferenceImages: boolean }, generationModels: Array<{ id: string, provider: string, description: string, configured: boolean, referenceCount: number | null, maxImages: number, prices: Array<{ quality: GenerationQuality, credits: number }> }> };

export type GeneratedImageFieldsFragment = { index: number, mediaId: string | null, url: string | null, thumbnailUrl: string | null, contentType: string, width: number, height: number, base64: string | null, poolImage: { id: string, kind: MeImageKind, label: string | null, tags: Array<string>, mediaId: string, width: number, height: number, primaryFor: PrimarySlot | null, createdAt: string, updatedAt: string, thumbnailUrl: string, mediumUrl: string, useCount: number, lastUsedAt: string | null, usage: { aiReference: boolean, aiReferenceUntil: string | null, showInProfile: boolean } } | null };

export type GenerationFieldsFragment = { id: string, status: GenerationStatus, prompt: string, modelRequested: string, modelUsed: string | null, quality: GenerationQuality, size: GenerationSize, n: number, referenceIds: Array<string>, cost: number, failure: string | null, warning: string | null, createdAt: string, completedAt: string | null, references: Array<{ id: string, kind: MeImageKind, label: string | null, thumbnailUrl: string }>, images: Array<{ index: number, mediaId: string | null, url: string | null, thumbnailUrl: string | null, contentType: string, width: number, height: number, base64: string | null, poolImage: { id: string, kind: MeImageKind, label: string | null, tags: Array<string>, mediaId: string, width: number, height: number, primaryFor: PrimarySlot | null, createdAt: string, updatedAt: string, thumbnailUrl: string, mediumUrl: string, useCount: number, lastUsedAt: string | null, usage: { aiReference: boolean, aiReferenceUntil: string | null, showInProfile: boolean } } | null }>, mask: { width: number, height: number, base64: string } | null };

export type GenerationsQueryVariables = Exact<{
  first: number;
  after?: string | null | undefined;
}>;


export type GenerationsQuery = { generations:
    | { __typename: 'GenerationConnection', edges: Array<{ node: { id: string, status: GenerationStatus, prompt: string, modelRequested: string, modelUsed: string | null, quality: GenerationQuality, size: GenerationSize, n: number, referenceIds: Array<string>, cost: number, failure: string | null, warning: string | null, createdAt: string, completedAt: string | null, references: Array<{ id: string, kind: MeImageKind, label: string | null, thumbnailUrl: string }>, images: Array<{ index: number, mediaId: string | null, url: string | null, thumbnailUrl: string | null, contentType: string, width: number, height: number, base64: string | null, poolImage: { id: string, kind: MeImageKind, label: string | null, tags: Array<string>, mediaId: string, width: number, height: number, primaryFor: PrimarySlot | null, createdAt: string, updatedAt: string, thumbnailUrl: string, mediumUrl: string, useCount: number, lastUsedAt: string | null, usage: { aiReference: boolean, aiReferenceUntil: string | null, showInProfile: boolean } } | null }>, mask: { width: number, height: number, base64: string } | null } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } }
    | { __typename: 'InvalidInputError', code: ErrorCode, message: string }
   };

export type UploadMeImageMutationVariables = Exact<{
  file: File;
  input?: UploadMeImageInput | null | undefined;
}>;


export type UploadMeImageMutation = { uploadMeImage:
    | { __typename: 'InvalidInputError', field: string | null, code: ErrorCode, message: string }
    | { __typename: 'MeImage', id: string, kind: MeImageKind, label: string | null, tags: Array<string>, mediaId: string, width: number, height: number, primaryFor: PrimarySlot | null, createdAt: string, updatedAt: string, thumbnailUrl: string, mediumUrl: string, useCount: number, lastUsedAt: string | null, usage: { aiReference: boolean, aiReferenceUntil: string | null, showInProfile: boolean } }
    | { __typename: 'PoolFullError', cap: number, code: ErrorCode, message: string }
    | { __typename: 'RateLimitedError', retryAfter: number, code: ErrorCode, message: string }
    | { __typename: 'TooLargeError', maxBytes: number, code: ErrorCode, message: string }
    | { __typename: 'UnsupportedMediaTypeError', reason: MediaRejection | null, code: ErrorCode, message: string }
   };

export type CreateMeImageMutationVariables = Exact<{
  input: CreateMeImageInput;
}>;


export type CreateMeImageMutation = { createMeImage:
    | { __typename: 'InvalidInputError', code: ErrorCode, message: string }
    | { __typename: 'MeImage', id: string, kind: MeImageKind, label: string | null, tags: Array<string>, mediaId: string, width: number, height: number, primaryFor: PrimarySlot | null, createdAt: string, updatedAt: string, thumbnailUrl: string, mediumUrl: string, useCount: number, lastUsedAt: string | null, usage: { aiReference: boolean, aiReferenceUntil: string | null, showInProfile: boolean } }
    | { __typename: 'NotFoundError', code: ErrorCode, message: string }
    | { __typename: 'PoolFullError', code: ErrorCode, message: string }
   };

export type UpdateMeImageMutationVariables = Exact<{
  id: string | number;
  input: UpdateMeImageInput;
}>;


export type UpdateMeImageMutation = { updateMeImage:
    | { __typename: 'InvalidInputError', field: string | null, code: ErrorCode, message: string }
    | { __typename: 'MeImage', id: string, kind: MeImageKind, label: string | null, tags: Array<string>, mediaId: string, width: number, height: number, primaryFor: PrimarySlot | null, createdAt: string, updatedAt: string, thumbnailUrl: string, mediumUrl: string, useCount: number, lastUsedAt: string | null, usage: { aiReference: boolean, aiReferenceUntil: string | null, showInProfile: boolean } }
    | { __typename: 'NotFoundError', code: ErrorCode, message: string }
   };

export type SetAiReferenceEnabledMutationVariables = Exact<{
  id: string | number;
  enabled: boolean;
  until?: string | null | undefined;
}>;


export type SetAiReferenceEnabledMutation = { setAiReferenceEnabled:
    | { __typename: 'InvalidInputError', code: ErrorCode, message: string }
    | { __typename: 'MeImage', id: string, kind: MeImageKind, label: string | null, tags: Array<string>, mediaId: string, width: number, height: number, primaryFor: PrimarySlot | null, createdAt: string, updatedAt: string, thumbnailUrl: string, mediumUrl: string, useCount: number, lastUsedAt: string | null, usage: { aiReference: boolean, aiReferenceUntil: string | null, showInProfile: boolean } }
    | { __typename: 'NotFoundError', code: ErrorCode, message: string }
   };

export type SetPrimaryMutationVariables = Exact<{
  id: string | number;
  slot?: PrimarySlot | null | undefined;
}>;


export type SetPrimaryMutation = { setPrimary:
    | { __typename: 'MeImage', id: string, kind: MeImageKind, label: string | null, tags: Array<string>, mediaId: string, width: number, height: number, primaryFor: PrimarySlot | null, createdAt: string, updatedAt: string, thumbnailUrl: string, mediumUrl: string, useCount: number, lastUsedAt: string | null, usage: { aiReference: boolean, aiReferenceUntil: string | null, showInProfile: boolean } }
    | { __typename: 'NotFoundError', code: ErrorCode, message: string }
   };

export type DeleteMeImageMutationVariables = Exact<{
  id: string | number;
}>;


export type DeleteMeImageMutation = { deleteMeImage:
    | { __typename: 'DeletedMeImage', id: string }
    | { __typename: 'NotFoundError', code: ErrorCode, message: string }
   };

export type SetAiUsesReferenceImagesMutationVariables = Exact<{
  enabled: boolean;
}>;


export type SetAiUsesReferenceImagesMutation = { setAiUsesReferenceImages: { aiUsesReferenceImages: boolean, credits: number } };

export type GenerateWithReferenceMutationVariables = Exact<{
  input: GenerationInput;
}>;


export type GenerateWithReferenceMutation = { generateWithReference:
    | { __typename: 'Generation', id: string, status: GenerationStatus, prompt: string, modelRequested: string, modelUsed: string | null, quality: GenerationQuality, size: GenerationSize, n: number, referenceIds: Array<string>, cost: number, failure: string | null, warning: string | null, createdAt: string, completedAt: string | null, references: Array<{ id: string, kind: MeImageKind, label: string | null, thumbnailUrl: string }>, images: Array<{ index: number, mediaId: string | null, url: string | null, thumbnailUrl: string | null, contentType: string, width: number, height: number, base64: string | null, poolImage: { id: string, kind: MeImageKind, label: string | null, tags: Array<string>, mediaId: string, width: number, height: number, primaryFor: PrimarySlot | null, createdAt: string, updatedAt: string, thumbnailUrl: string, mediumUrl: string, useCount: number, lastUsedAt: string | null, usage: { aiReference: boolean, aiReferenceUntil: string | null, showInProfile: boolean } } | null }>, mask: { width: number, height: number, base64: string } | null }
    | { __typename: 'InsufficientCreditsError', required: number, available: number, code: ErrorCode, message: string }
    | { __typename: 'InvalidInputError', field: string | null, code: ErrorCode, message: string }
    | { __typename: 'MaskNotSupportedError', provider: string, model: string, code: ErrorCode, message: string }
    | { __typename: 'ProviderFailedError', provider: string, detail: string, generationId: string | null, code: ErrorCode, message: string }
    | { __typename: 'ProviderNotAllowedError', provider: string, providerKind: ProviderKind, rule: AllowlistRule, code: ErrorCode, message: string }
    | { __typename: 'ProviderNotConfiguredError', provider: string, code: ErrorCode, message: string }
    | { __typename: 'RateLimitedError', retryAfter: number, code: ErrorCode, message: string }
    | { __typename: 'ReferenceNotUsableError', referenceIds: Array<string>, code: ErrorCode, message: string }
    | { __typename: 'TooLargeError', maxBytes: number, code: ErrorCode, message: string }
   };

export type MeImageEventsSubscriptionVariables = Exact<{
  after?: string | null | undefined;
}>;


export type MeImageEventsSubscription = { meImageEvents:
    | { __typename: 'AiUsesReferenceImagesEvent', aiUsesReferenceImages: boolean, cursor: string }
    | { __typename: 'CursorTooOldError', code: ErrorCode, message: string }
    | { __typename: 'InvalidInputError', code: ErrorCode, message: string }
    | { __typename: 'MeImageEvent', type: MeImageEventType, imageId: string, slot: PrimarySlot | null, previousSlot: PrimarySlot | null, enabled: boolean | null, cursor: string, image: { id: string, kind: MeImageKind, label: string | null, tags: Array<string>, mediaId: string, width: number, height: number, primaryFor: PrimarySlot | null, createdAt: string, updatedAt: string, thumbnailUrl: string, mediumUrl: string, useCount: number, lastUsedAt: string | null, usage: { aiReference: boolean, aiReferenceUntil: string | null, showInProfile: boolean } } | null }
    | { __typename: 'TokenExpiredError', code: ErrorCode, message: string }
   };

export type ImageUsesQueryVariables = Exact<{
  id: string | number;
  first: number;
  after?: string | null | undefined;
}>;


export type ImageUsesQuery = { meImage: { id: string, uses: { edges: Array<{ node: { generationId: string, provider: ProviderKind, host: string, model: string, outcome: UseOutcome, usedAt: string } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } } | null };

export type ExportFieldsFragment = { id: string, status: ExportStatus, imagesTotal: number, imagesDone: number, byteSize: number | null, downloadUrl: string | null, failure: string | null, expiresAt: string };

export type ExportMyDataMutationVariables = Exact<{ [key: string]: never; }>;


export type ExportMyDataMutation = { exportMyData: { id: string, status: ExportStatus, imagesTotal: number, imagesDone: number, byteSize: number | null, downloadUrl: string | null, failure: string | null, expiresAt: string } };

export type DataExportQueryVariables = Exact<{
  id: string | number;
}>;


export type DataExportQuery = { dataExport: { id: string, status: ExportStatus, imagesTotal: number, imagesDone: number, byteSize: number | null, downloadUrl: string | null, failure: string | null, expiresAt: string } | null };

export type ImportMyDataMutationVariables = Exact<{
  file: File;
  keepConsent: boolean;
}>;


export type ImportMyDataMutation = { importMyData:
    | { __typename: 'DataImport', consentKept: boolean, images: Array<{ id: string, kind: MeImageKind, label: string | null, tags: Array<string>, mediaId: string, width: number, height: number, primaryFor: PrimarySlot | null, createdAt: string, updatedAt: string, thumbnailUrl: string, mediumUrl: string, useCount: number, lastUsedAt: string | null, usage: { aiReference: boolean, aiReferenceUntil: string | null, showInProfile: boolean } }> }
    | { __typename: 'InvalidArchiveError', problem: ArchiveProblem, entry: string | null, code: ErrorCode, message: string }
    | { __typename: 'PoolFullError', cap: number, code: ErrorCode, message: string }
   };

export type SetAllowedProvidersMutationVariables = Exact<{
  providers: Array<ProviderKind> | ProviderKind;
}>;


export type SetAllowedProvidersMutation = { setAllowedProviders: { allowedProviders: Array<ProviderKind> } };

export type DeleteMyDataMutationVariables = Exact<{
  confirmation: string;
}>;


export type DeleteMyDataMutation = { deleteMyData:
    | { __typename: 'InvalidInputError', code: ErrorCode, message: string }
    | { __typename: 'MyDataDeleted', images: number, media: number, dataKeysDestroyed: boolean }
    | { __typename: 'SelfDeletionDisabledError', code: ErrorCode, message: string }
   };

export const ErrorFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ErrorFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]} as unknown as DocumentNode<ErrorFieldsFragment, unknown>;
export const ImageFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ImageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MeImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"tags"}},{"kind":"Field","name":{"kind":"Name","value":"mediaId"}},{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"usage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"aiReference"}},{"kind":"Field","name":{"kind":"Name","value":"aiReferenceUntil"}},{"kind":"Field","name":{"kind":"Name","value":"showInProfile"}}]}},{"kind":"Field","name":{"kind":"Name","value":"primaryFor"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}},{"kind":"Field","name":{"kind":"Name","value":"mediumUrl"}},{"kind":"Field","name":{"kind":"Name","value":"useCount"}},{"kind":"Field","name":{"kind":"Name","value":"lastUsedAt"}}]}}]} as unknown as DocumentNode<ImageFieldsFragment, unknown>;
export const GeneratedImageFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"GeneratedImageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"GeneratedImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"index"}},{"kind":"Field","name":{"kind":"Name","value":"mediaId"}},{"kind":"Field","name":{"kind":"Name","value":"url"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}},{"kind":"Field","name":{"kind":"Name","value":"contentType"}},{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"base64"}},{"kind":"Field","name":{"kind":"Name","value":"poolImage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ImageFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ImageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MeImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"tags"}},{"kind":"Field","name":{"kind":"Name","value":"mediaId"}},{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"usage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"aiReference"}},{"kind":"Field","name":{"kind":"Name","value":"aiReferenceUntil"}},{"kind":"Field","name":{"kind":"Name","value":"showInProfile"}}]}},{"kind":"Field","name":{"kind":"Name","value":"primaryFor"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}},{"kind":"Field","name":{"kind":"Name","value":"mediumUrl"}},{"kind":"Field","name":{"kind":"Name","value":"useCount"}},{"kind":"Field","name":{"kind":"Name","value":"lastUsedAt"}}]}}]} as unknown as DocumentNode<GeneratedImageFieldsFragment, unknown>;
export const GenerationFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"GenerationFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Generation"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"prompt"}},{"kind":"Field","name":{"kind":"Name","value":"modelRequested"}},{"kind":"Field","name":{"kind":"Name","value":"modelUsed"}},{"kind":"Field","name":{"kind":"Name","value":"quality"}},{"kind":"Field","name":{"kind":"Name","value":"size"}},{"kind":"Field","name":{"kind":"Name","value":"n"}},{"kind":"Field","name":{"kind":"Name","value":"referenceIds"}},{"kind":"Field","name":{"kind":"Name","value":"references"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}}]}},{"kind":"Field","name":{"kind":"Name","value":"images"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"GeneratedImageFields"}}]}},{"kind":"Field","name":{"kind":"Name","value":"mask"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"base64"}}]}},{"kind":"Field","name":{"kind":"Name","value":"cost"}},{"kind":"Field","name":{"kind":"Name","value":"failure"}},{"kind":"Field","name":{"kind":"Name","value":"warning"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"completedAt"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ImageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MeImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"tags"}},{"kind":"Field","name":{"kind":"Name","value":"mediaId"}},{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"usage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"aiReference"}},{"kind":"Field","name":{"kind":"Name","value":"aiReferenceUntil"}},{"kind":"Field","name":{"kind":"Name","value":"showInProfile"}}]}},{"kind":"Field","name":{"kind":"Name","value":"primaryFor"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}},{"kind":"Field","name":{"kind":"Name","value":"mediumUrl"}},{"kind":"Field","name":{"kind":"Name","value":"useCount"}},{"kind":"Field","name":{"kind":"Name","value":"lastUsedAt"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"GeneratedImageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"GeneratedImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"index"}},{"kind":"Field","name":{"kind":"Name","value":"mediaId"}},{"kind":"Field","name":{"kind":"Name","value":"url"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}},{"kind":"Field","name":{"kind":"Name","value":"contentType"}},{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"base64"}},{"kind":"Field","name":{"kind":"Name","value":"poolImage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ImageFields"}}]}}]}}]} as unknown as DocumentNode<GenerationFieldsFragment, unknown>;
export const ExportFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ExportFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"DataExport"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"imagesTotal"}},{"kind":"Field","name":{"kind":"Name","value":"imagesDone"}},{"kind":"Field","name":{"kind":"Name","value":"byteSize"}},{"kind":"Field","name":{"kind":"Name","value":"downloadUrl"}},{"kind":"Field","name":{"kind":"Name","value":"failure"}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}}]}}]} as unknown as DocumentNode<ExportFieldsFragment, unknown>;
export const EventCursorDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"EventCursor"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"meImageEventCursor"}}]}}]} as unknown as DocumentNode<EventCursorQuery, EventCursorQueryVariables>;
export const PoolDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Pool"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"profile"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"ownerId"}},{"kind":"Field","name":{"kind":"Name","value":"spaceId"}},{"kind":"Field","name":{"kind":"Name","value":"aiUsesReferenceImages"}},{"kind":"Field","name":{"kind":"Name","value":"credits"}},{"kind":"Field","name":{"kind":"Name","value":"allowedProviders"}}]}},{"kind":"Field","name":{"kind":"Name","value":"meImages"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ImageFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ImageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MeImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"tags"}},{"kind":"Field","name":{"kind":"Name","value":"mediaId"}},{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"usage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"aiReference"}},{"kind":"Field","name":{"kind":"Name","value":"aiReferenceUntil"}},{"kind":"Field","name":{"kind":"Name","value":"showInProfile"}}]}},{"kind":"Field","name":{"kind":"Name","value":"primaryFor"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}},{"kind":"Field","name":{"kind":"Name","value":"mediumUrl"}},{"kind":"Field","name":{"kind":"Name","value":"useCount"}},{"kind":"Field","name":{"kind":"Name","value":"lastUsedAt"}}]}}]} as unknown as DocumentNode<PoolQuery, PoolQueryVariables>;
export const GenerationSetupDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"GenerationSetup"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"profile"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"credits"}},{"kind":"Field","name":{"kind":"Name","value":"aiUsesReferenceImages"}}]}},{"kind":"Field","name":{"kind":"Name","value":"generationModels"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"provider"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"configured"}},{"kind":"Field","name":{"kind":"Name","value":"referenceCount"}},{"kind":"Field","name":{"kind":"Name","value":"maxImages"}},{"kind":"Field","name":{"kind":"Name","value":"prices"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"quality"}},{"kind":"Field","name":{"kind":"Name","value":"credits"}}]}}]}}]}}]} as unknown as DocumentNode<GenerationSetupQuery, GenerationSetupQueryVariables>;
export const GenerationsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Generations"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"generations"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"GenerationConnection"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"GenerationFields"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ErrorFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ImageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MeImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"tags"}},{"kind":"Field","name":{"kind":"Name","value":"mediaId"}},{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"usage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"aiReference"}},{"kind":"Field","name":{"kind":"Name","value":"aiReferenceUntil"}},{"kind":"Field","name":{"kind":"Name","value":"showInProfile"}}]}},{"kind":"Field","name":{"kind":"Name","value":"primaryFor"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}},{"kind":"Field","name":{"kind":"Name","value":"mediumUrl"}},{"kind":"Field","name":{"kind":"Name","value":"useCount"}},{"kind":"Field","name":{"kind":"Name","value":"lastUsedAt"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"GeneratedImageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"GeneratedImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"index"}},{"kind":"Field","name":{"kind":"Name","value":"mediaId"}},{"kind":"Field","name":{"kind":"Name","value":"url"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}},{"kind":"Field","name":{"kind":"Name","value":"contentType"}},{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"base64"}},{"kind":"Field","name":{"kind":"Name","value":"poolImage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ImageFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"GenerationFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Generation"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"prompt"}},{"kind":"Field","name":{"kind":"Name","value":"modelRequested"}},{"kind":"Field","name":{"kind":"Name","value":"modelUsed"}},{"kind":"Field","name":{"kind":"Name","value":"quality"}},{"kind":"Field","name":{"kind":"Name","value":"size"}},{"kind":"Field","name":{"kind":"Name","value":"n"}},{"kind":"Field","name":{"kind":"Name","value":"referenceIds"}},{"kind":"Field","name":{"kind":"Name","value":"references"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}}]}},{"kind":"Field","name":{"kind":"Name","value":"images"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"GeneratedImageFields"}}]}},{"kind":"Field","name":{"kind":"Name","value":"mask"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"base64"}}]}},{"kind":"Field","name":{"kind":"Name","value":"cost"}},{"kind":"Field","name":{"kind":"Name","value":"failure"}},{"kind":"Field","name":{"kind":"Name","value":"warning"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"completedAt"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ErrorFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]} as unknown as DocumentNode<GenerationsQuery, GenerationsQueryVariables>;
export const UploadMeImageDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"UploadMeImage"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"file"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Upload"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"UploadMeImageInput"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"uploadMeImage"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"file"},"value":{"kind":"Variable","name":{"kind":"Name","value":"file"}}},{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MeImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ImageFields"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ErrorFields"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"TooLargeError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"maxBytes"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"UnsupportedMediaTypeError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"reason"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"InvalidInputError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"field"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"PoolFullError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cap"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"RateLimitedError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"retryAfter"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ImageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MeImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"tags"}},{"kind":"Field","name":{"kind":"Name","value":"mediaId"}},{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"usage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"aiReference"}},{"kind":"Field","name":{"kind":"Name","value":"aiReferenceUntil"}},{"kind":"Field","name":{"kind":"Name","value":"showInProfile"}}]}},{"kind":"Field","name":{"kind":"Name","value":"primaryFor"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}},{"kind":"Field","name":{"kind":"Name","value":"mediumUrl"}},{"kind":"Field","name":{"kind":"Name","value":"useCount"}},{"kind":"Field","name":{"kind":"Name","value":"lastUsedAt"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ErrorFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]} as unknown as DocumentNode<UploadMeImageMutation, UploadMeImageMutationVariables>;
export const CreateMeImageDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateMeImage"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateMeImageInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createMeImage"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MeImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ImageFields"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ErrorFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ImageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MeImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"tags"}},{"kind":"Field","name":{"kind":"Name","value":"mediaId"}},{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"usage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"aiReference"}},{"kind":"Field","name":{"kind":"Name","value":"aiReferenceUntil"}},{"kind":"Field","name":{"kind":"Name","value":"showInProfile"}}]}},{"kind":"Field","name":{"kind":"Name","value":"primaryFor"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}},{"kind":"Field","name":{"kind":"Name","value":"mediumUrl"}},{"kind":"Field","name":{"kind":"Name","value":"useCount"}},{"kind":"Field","name":{"kind":"Name","value":"lastUsedAt"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ErrorFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]} as unknown as DocumentNode<CreateMeImageMutation, CreateMeImageMutationVariables>;
export const UpdateMeImageDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"UpdateMeImage"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"UpdateMeImageInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"updateMeImage"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}},{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MeImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ImageFields"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ErrorFields"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"InvalidInputError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"field"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ImageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MeImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"tags"}},{"kind":"Field","name":{"kind":"Name","value":"mediaId"}},{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"usage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"aiReference"}},{"kind":"Field","name":{"kind":"Name","value":"aiReferenceUntil"}},{"kind":"Field","name":{"kind":"Name","value":"showInProfile"}}]}},{"kind":"Field","name":{"kind":"Name","value":"primaryFor"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}},{"kind":"Field","name":{"kind":"Name","value":"mediumUrl"}},{"kind":"Field","name":{"kind":"Name","value":"useCount"}},{"kind":"Field","name":{"kind":"Name","value":"lastUsedAt"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ErrorFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]} as unknown as DocumentNode<UpdateMeImageMutation, UpdateMeImageMutationVariables>;
export const SetAiReferenceEnabledDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SetAiReferenceEnabled"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"enabled"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"until"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"DateTime"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"setAiReferenceEnabled"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}},{"kind":"Argument","name":{"kind":"Name","value":"enabled"},"value":{"kind":"Variable","name":{"kind":"Name","value":"enabled"}}},{"kind":"Argument","name":{"kind":"Name","value":"until"},"value":{"kind":"Variable","name":{"kind":"Name","value":"until"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MeImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ImageFields"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ErrorFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ImageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MeImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"tags"}},{"kind":"Field","name":{"kind":"Name","value":"mediaId"}},{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"usage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"aiReference"}},{"kind":"Field","name":{"kind":"Name","value":"aiReferenceUntil"}},{"kind":"Field","name":{"kind":"Name","value":"showInProfile"}}]}},{"kind":"Field","name":{"kind":"Name","value":"primaryFor"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}},{"kind":"Field","name":{"kind":"Name","value":"mediumUrl"}},{"kind":"Field","name":{"kind":"Name","value":"useCount"}},{"kind":"Field","name":{"kind":"Name","value":"lastUsedAt"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ErrorFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]} as unknown as DocumentNode<SetAiReferenceEnabledMutation, SetAiReferenceEnabledMutationVariables>;
export const SetPrimaryDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SetPrimary"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"slot"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"PrimarySlot"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"setPrimary"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}},{"kind":"Argument","name":{"kind":"Name","value":"slot"},"value":{"kind":"Variable","name":{"kind":"Name","value":"slot"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MeImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ImageFields"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ErrorFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ImageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MeImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"tags"}},{"kind":"Field","name":{"kind":"Name","value":"mediaId"}},{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"usage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"aiReference"}},{"kind":"Field","name":{"kind":"Name","value":"aiReferenceUntil"}},{"kind":"Field","name":{"kind":"Name","value":"showInProfile"}}]}},{"kind":"Field","name":{"kind":"Name","value":"primaryFor"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}},{"kind":"Field","name":{"kind":"Name","value":"mediumUrl"}},{"kind":"Field","name":{"kind":"Name","value":"useCount"}},{"kind":"Field","name":{"kind":"Name","value":"lastUsedAt"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ErrorFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]} as unknown as DocumentNode<SetPrimaryMutation, SetPrimaryMutationVariables>;
export const DeleteMeImageDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"DeleteMeImage"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"deleteMeImage"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"DeletedMeImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ErrorFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ErrorFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]} as unknown as DocumentNode<DeleteMeImageMutation, DeleteMeImageMutationVariables>;
export const SetAiUsesReferenceImagesDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SetAiUsesReferenceImages"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"enabled"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"setAiUsesReferenceImages"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"enabled"},"value":{"kind":"Variable","name":{"kind":"Name","value":"enabled"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"aiUsesReferenceImages"}},{"kind":"Field","name":{"kind":"Name","value":"credits"}}]}}]}}]} as unknown as DocumentNode<SetAiUsesReferenceImagesMutation, SetAiUsesReferenceImagesMutationVariables>;
export const GenerateWithReferenceDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"GenerateWithReference"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"GenerationInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"generateWithReference"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Generation"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"GenerationFields"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ErrorFields"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"InvalidInputError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"field"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"TooLargeError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"maxBytes"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"InsufficientCreditsError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"required"}},{"kind":"Field","name":{"kind":"Name","value":"available"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ReferenceNotUsableError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"referenceIds"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ProviderNotConfiguredError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"provider"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ProviderNotAllowedError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"provider"}},{"kind":"Field","name":{"kind":"Name","value":"providerKind"}},{"kind":"Field","name":{"kind":"Name","value":"rule"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MaskNotSupportedError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"provider"}},{"kind":"Field","name":{"kind":"Name","value":"model"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ProviderFailedError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"provider"}},{"kind":"Field","name":{"kind":"Name","value":"detail"}},{"kind":"Field","name":{"kind":"Name","value":"generationId"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"RateLimitedError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"retryAfter"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ImageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MeImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"tags"}},{"kind":"Field","name":{"kind":"Name","value":"mediaId"}},{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"usage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"aiReference"}},{"kind":"Field","name":{"kind":"Name","value":"aiReferenceUntil"}},{"kind":"Field","name":{"kind":"Name","value":"showInProfile"}}]}},{"kind":"Field","name":{"kind":"Name","value":"primaryFor"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}},{"kind":"Field","name":{"kind":"Name","value":"mediumUrl"}},{"kind":"Field","name":{"kind":"Name","value":"useCount"}},{"kind":"Field","name":{"kind":"Name","value":"lastUsedAt"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"GeneratedImageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"GeneratedImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"index"}},{"kind":"Field","name":{"kind":"Name","value":"mediaId"}},{"kind":"Field","name":{"kind":"Name","value":"url"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}},{"kind":"Field","name":{"kind":"Name","value":"contentType"}},{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"base64"}},{"kind":"Field","name":{"kind":"Name","value":"poolImage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ImageFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"GenerationFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Generation"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"prompt"}},{"kind":"Field","name":{"kind":"Name","value":"modelRequested"}},{"kind":"Field","name":{"kind":"Name","value":"modelUsed"}},{"kind":"Field","name":{"kind":"Name","value":"quality"}},{"kind":"Field","name":{"kind":"Name","value":"size"}},{"kind":"Field","name":{"kind":"Name","value":"n"}},{"kind":"Field","name":{"kind":"Name","value":"referenceIds"}},{"kind":"Field","name":{"kind":"Name","value":"references"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}}]}},{"kind":"Field","name":{"kind":"Name","value":"images"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"GeneratedImageFields"}}]}},{"kind":"Field","name":{"kind":"Name","value":"mask"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"base64"}}]}},{"kind":"Field","name":{"kind":"Name","value":"cost"}},{"kind":"Field","name":{"kind":"Name","value":"failure"}},{"kind":"Field","name":{"kind":"Name","value":"warning"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"completedAt"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ErrorFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]} as unknown as DocumentNode<GenerateWithReferenceMutation, GenerateWithReferenceMutationVariables>;
export const MeImageEventsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"MeImageEvents"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"meImageEvents"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MeImageEvent"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"imageId"}},{"kind":"Field","name":{"kind":"Name","value":"slot"}},{"kind":"Field","name":{"kind":"Name","value":"previousSlot"}},{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"cursor"}},{"kind":"Field","name":{"kind":"Name","value":"image"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ImageFields"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"AiUsesReferenceImagesEvent"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"aiUsesReferenceImages"}},{"kind":"Field","name":{"kind":"Name","value":"cursor"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ErrorFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ImageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MeImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"tags"}},{"kind":"Field","name":{"kind":"Name","value":"mediaId"}},{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"usage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"aiReference"}},{"kind":"Field","name":{"kind":"Name","value":"aiReferenceUntil"}},{"kind":"Field","name":{"kind":"Name","value":"showInProfile"}}]}},{"kind":"Field","name":{"kind":"Name","value":"primaryFor"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}},{"kind":"Field","name":{"kind":"Name","value":"mediumUrl"}},{"kind":"Field","name":{"kind":"Name","value":"useCount"}},{"kind":"Field","name":{"kind":"Name","value":"lastUsedAt"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ErrorFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]} as unknown as DocumentNode<MeImageEventsSubscription, MeImageEventsSubscriptionVariables>;
export const ImageUsesDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ImageUses"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"meImage"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"uses"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"generationId"}},{"kind":"Field","name":{"kind":"Name","value":"provider"}},{"kind":"Field","name":{"kind":"Name","value":"host"}},{"kind":"Field","name":{"kind":"Name","value":"model"}},{"kind":"Field","name":{"kind":"Name","value":"outcome"}},{"kind":"Field","name":{"kind":"Name","value":"usedAt"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}}]}}]} as unknown as DocumentNode<ImageUsesQuery, ImageUsesQueryVariables>;
export const ExportMyDataDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ExportMyData"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"exportMyData"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ExportFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ExportFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"DataExport"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"imagesTotal"}},{"kind":"Field","name":{"kind":"Name","value":"imagesDone"}},{"kind":"Field","name":{"kind":"Name","value":"byteSize"}},{"kind":"Field","name":{"kind":"Name","value":"downloadUrl"}},{"kind":"Field","name":{"kind":"Name","value":"failure"}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}}]}}]} as unknown as DocumentNode<ExportMyDataMutation, ExportMyDataMutationVariables>;
export const DataExportDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"DataExport"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"dataExport"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ExportFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ExportFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"DataExport"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"imagesTotal"}},{"kind":"Field","name":{"kind":"Name","value":"imagesDone"}},{"kind":"Field","name":{"kind":"Name","value":"byteSize"}},{"kind":"Field","name":{"kind":"Name","value":"downloadUrl"}},{"kind":"Field","name":{"kind":"Name","value":"failure"}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}}]}}]} as unknown as DocumentNode<DataExportQuery, DataExportQueryVariables>;
export const ImportMyDataDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ImportMyData"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"file"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Upload"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"keepConsent"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"importMyData"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"file"},"value":{"kind":"Variable","name":{"kind":"Name","value":"file"}}},{"kind":"Argument","name":{"kind":"Name","value":"keepConsent"},"value":{"kind":"Variable","name":{"kind":"Name","value":"keepConsent"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"DataImport"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"consentKept"}},{"kind":"Field","name":{"kind":"Name","value":"images"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ImageFields"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ErrorFields"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"InvalidArchiveError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"problem"}},{"kind":"Field","name":{"kind":"Name","value":"entry"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"PoolFullError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cap"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ImageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MeImage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"tags"}},{"kind":"Field","name":{"kind":"Name","value":"mediaId"}},{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"usage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"aiReference"}},{"kind":"Field","name":{"kind":"Name","value":"aiReferenceUntil"}},{"kind":"Field","name":{"kind":"Name","value":"showInProfile"}}]}},{"kind":"Field","name":{"kind":"Name","value":"primaryFor"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"thumbnailUrl"}},{"kind":"Field","name":{"kind":"Name","value":"mediumUrl"}},{"kind":"Field","name":{"kind":"Name","value":"useCount"}},{"kind":"Field","name":{"kind":"Name","value":"lastUsedAt"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ErrorFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]} as unknown as DocumentNode<ImportMyDataMutation, ImportMyDataMutationVariables>;
export const SetAllowedProvidersDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SetAllowedProviders"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"providers"}},"type":{"kind":"NonNullType","type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ProviderKind"}}}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"setAllowedProviders"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"providers"},"value":{"kind":"Variable","name":{"kind":"Name","value":"providers"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"allowedProviders"}}]}}]}}]} as unknown as DocumentNode<SetAllowedProvidersMutation, SetAllowedProvidersMutationVariables>;
export const DeleteMyDataDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"DeleteMyData"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"confirmation"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"deleteMyData"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"confirmation"},"value":{"kind":"Variable","name":{"kind":"Name","value":"confirmation"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MyDataDeleted"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"images"}},{"kind":"Field","name":{"kind":"Name","value":"media"}},{"kind":"Field","name":{"kind":"Name","value":"dataKeysDestroyed"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ErrorFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ErrorFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]} as unknown as DocumentNode<DeleteMyDataMutation, DeleteMyDataMutationVariables>;