// Typed errors of the API, in words.
import type { GenerateWithReferenceMutation, UploadMeImageMutation } from '../generated/graphql';
import { RequestFailed } from './client';
import { formatBytes, t, type Key } from './i18n.svelte';

type UploadResult = UploadMeImageMutation['uploadMeImage'];
type GenerateResult = GenerateWithReferenceMutation['generateWithReference'];

const REJECTION_KEYS: Record<string, Key> = {
  SVG: 'reject.SVG',
  HTML: 'reject.HTML',
  PDF: 'reject.PDF',
  TIFF: 'reject.TIFF',
  GIF: 'reject.GIF',
  HEIF: 'reject.HEIF',
  OTHER_IMAGE: 'reject.OTHER_IMAGE',
  ANIMATED: 'reject.ANIMATED',
  COMPRESSED_TEXT_BOMB: 'reject.COMPRESSED_TEXT_BOMB',
};

export function uploadErrorText(result: Exclude<UploadResult, { __typename: 'MeImage' }>): string {
  switch (result.__typename) {
    case 'TooLargeError':
      return t('error.tooLarge', { max: formatBytes(result.maxBytes) });
    case 'UnsupportedMediaTypeError': {
      const reason = result.reason;
      if (reason === 'NOT_AN_IMAGE') return t('error.notImage');
      if (reason === 'CORRUPT') return t('error.corrupt');
      if (reason === 'TIMEOUT') return t('error.busy');
      const key = reason ? REJECTION_KEYS[reason] : undefined;
      return key ? t('error.unsupported', { type: t(key) }) : t('error.unsupportedPlain');
    }
    case 'InvalidInputError':
      return t('error.invalid', { message: result.message });
    case 'PoolFullError':
      return t('error.poolFull', { cap: result.cap });
    case 'RateLimitedError':
      return t('error.rateLimited', { seconds: result.retryAfter });
  }
}

/** A request that never got a GraphQL answer: the body limit (413), the network, … */
export function requestErrorText(error: unknown): string {
  if (error instanceof RequestFailed) {
    if (error.status === 413) {
      return error.maxBytes ? t('error.tooLarge', { max: formatBytes(error.maxBytes) }) : t('error.tooLargePlain');
    }
    if (error.status === null) return t('error.network');
    return t('error.generic', { message: error.message });
  }
  return t('error.generic', { message: error instanceof Error ? error.message : String(error) });
}

export function generateErrorText(result: Exclude<GenerateResult, { __typename: 'Generation' }>): string {
  switch (result.__typename) {
    case 'InsufficientCreditsError':
      return t('gen.err.INSUFFICIENT_CREDITS', { required: result.required, available: result.available });
    case 'ProviderNotConfiguredError':
      return t('gen.err.PROVIDER_NOT_CONFIGURED', { provider: result.provider });
    case 'ReferenceNotUsableError':
      return t('gen.err.REFERENCE_NOT_USABLE');
    case 'ProviderNotAllowedError':
      return t(result.rule === 'OWNER' ? 'gen.err.PROVIDER_NOT_ALLOWED.OWNER' : 'gen.err.PROVIDER_NOT_ALLOWED.SERVER');
    case 'MaskNotSupportedError':
      return t('gen.err.MASK_NOT_SUPPORTED', { provider: result.provider });
    case 'ProviderFailedError':
      return t('gen.err.PROVIDER_FAILED', { detail: result.detail });
    case 'TooLargeError':
      return t('gen.err.TOO_LARGE');
    case 'InvalidInputError':
      return t('gen.err.INVALID_INPUT', { message: result.message });
    case 'RateLimitedError':
      return t('gen.err.RATE_LIMITED', { seconds: result.retryAfter });
  }
}
