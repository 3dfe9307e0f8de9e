// The GraphQL clients: urql for queries and mutations (uploads included: urql's fetch
// exchange speaks the GraphQL multipart request spec when a variable holds a File), and
// graphql-ws (graphql-transport-ws) for the live event stream.
import {
  Client,
  createRequest,
  fetchExchange,
  type AnyVariables,
  type OperationResult,
  type TypedDocumentNode,
} from '@urql/core';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { auth } from './auth.svelte';

const HTTP_URL = '/graphql';

function wsUrl(): string {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${window.location.host}/graphql`;
}

/** A 401 means the token is gone (expired or revoked): back to sign-in, with the reason. */
async function authAwareFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const response = await fetch(input, init);
  if (response.status === 401) {
    let message = '';
    try {
      const body = (await response.clone().json()) as { errors?: { message?: string }[] };
      message = body.errors?.[0]?.message ?? '';
    } catch {
      /* not JSON: the status says enough */
    }
    auth.refused(message);
  }
  return response;
}

function headers(): Record<string, string> {
  return {
    // Plain JSON answers: the server speaks GraphQL over SSE to any request that merely
    // lists text/event-stream, which urql's default Accept header does.
    accept: 'application/graphql-response+json, application/json',
    Authorization: `Bearer ${auth.token}`,
    // CSRF protection of the server: multipart (upload) requests must carry it.
    'GraphQL-Require-Preflight': '1',
  };
}

export const client = new Client({
  url: HTTP_URL,
  exchanges: [fetchExchange],
  fetch: authAwareFetch,
  fetchOptions: () => ({ headers: headers() }),
  requestPolicy: 'network-only',
  preferGetMethod: false,
});

export class RequestFailed extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    /** A 413's limit, when the server named it (`extensions.maxBytes`). */
    readonly maxBytes: number | null = null,
  ) {
    super(message);
  }
}

function unwrap<Data>(result: OperationResult<Data, AnyVariables>): Data {
  if (result.error || !result.data) {
    const response = result.error?.response as Response | undefined;
    const limit = result.error?.graphQLErrors[0]?.extensions?.['maxBytes'];
    throw new RequestFailed(
      result.error?.message ?? 'no data',
      response?.status ?? null,
      typeof limit === 'number' ? limit : null,
    );
  }
  return result.data;
}

export async function query<Data, Vars extends AnyVariables>(
  document: TypedDocumentNode<Data, Vars>,
  variables: Vars,
): Promise<Data> {
  return unwrap(await client.query(document, variables).toPromise());
}

// Past every key urql derives from a document (32-bit hashes): a fresh read's own key.
let freshKey = 2 ** 32;

/**
 * A query answered by a request sent now. urql joins a query to an identical one already in
 * flight (same document and variables, whatever the request policy), and that one's answer
 * may have been made before a change this read is meant to see (a charge, say); a request
 * with a key of its own is never joined.
 */
export async function freshQuery<Data, Vars extends AnyVariables>(
  document: TypedDocumentNode<Data, Vars>,
  variables: Vars,
): Promise<Data> {
  const request = { ...createRequest(document, variables), key: freshKey++ };
  return unwrap(await client.executeQuery(request).toPromise());
}

export async function mutate<Data, Vars extends AnyVariables>(
  document: TypedDocumentNode<Data, Vars>,
  variables: Vars,
  fetchImpl?: typeof fetch,
): Promise<Data> {
  const context = fetchImpl ? { fetch: fetchImpl } : undefined;
  return unwrap(await client.mutation(document, variables, context).toPromise());
}

/**
 * A fetch for one multipart upload that reports upload progress (fetch cannot), built on
 * XMLHttpRequest and handed to urql per operation.
 */
export function progressFetch(onProgress: (fraction: number) => void): typeof fetch {
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(init?.method ?? 'POST', String(input instanceof Request ? input.url : input));
      new Headers(init?.headers).forEach((value, key) => xhr.setRequestHeader(key, value));
      xhr.responseType = 'arraybuffer';
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
      };
      xhr.onload = () => {
        const responseHeaders = new Headers();
        for (const line of xhr.getAllResponseHeaders().trim().split(/[\r\n]+/)) {
          const at = line.indexOf(':');
          if (at > 0) responseHeaders.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
        }
        const response = new Response(xhr.status === 204 ? null : (xhr.response as ArrayBuffer), {
          status: xhr.status,
          statusText: xhr.statusText,
          headers: responseHeaders,
        });
        if (response.status === 401) auth.refused();
        resolve(response);
      };
      xhr.onerror = () => reject(new TypeError('network error'));
      xhr.onabort = () => reject(new DOMException('aborted', 'AbortError'));
      init?.signal?.addEventListener('abort', () => xhr.abort());
      xhr.send((init?.body ?? null) as XMLHttpRequestBodyInit | null);
    });
}

export type LiveState = 'connecting' | 'live' | 'reconnecting';

/** One WebSocket per signed-in page; the token travels in connectionParams. */
export function createLiveClient(onState: (state: LiveState) => void): WsClient {
  const ws = createWsClient({
    url: wsUrl(),
    connectionParams: () => ({ Authorization: `Bearer ${auth.token}` }),
    lazy: true,
    // Bounded: after this many failed attempts in a row the page says it is offline.
    retryAttempts: 30,
    shouldRetry: () => Boolean(auth.token),
    on: {
      connected: () => onState('live'),
      closed: (event) => {
        const reason = (event as CloseEvent | undefined)?.reason ?? '';
        if (/token/i.test(reason)) auth.refused(reason);
        onState('reconnecting');
      },
      connecting: () => onState('connecting'),
    },
  });
  return ws;
}
