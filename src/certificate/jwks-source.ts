/**
 * Where an issuer's JWKS comes from (SPEC §10 `trust.issuers[].jwks`): a local file, or an https URL
 * (http only to a loopback host: a JWKS fetched in clear over a network could be swapped for an
 * attacker's keys). Each read says whether the document changed, so keys are imported once per
 * JWKS version: the file's text is compared, the URL is fetched conditionally (ETag).
 */
import { readFile } from 'node:fs/promises';
import { isLoopbackHost } from '../config/fields.js';

/** A JWKS of a few keys is a few KiB; the bytes come from outside, so they are bounded. */
const MAX_JWKS_BYTES = 256 * 1024;
/** A fetch that takes longer fails; the current keys stay in force. */
const FETCH_TIMEOUT_MS = 10_000;

export type JwksFetch = (
  url: string,
  init: { signal: AbortSignal; headers: Record<string, string>; redirect: 'error' },
) => Promise<Response>;

export interface JwksSource {
  /** Names the source in errors and logs. */
  readonly where: string;
  /** The path of a file source (watched for changes); null for a URL (refreshed on a timer). */
  readonly file: string | null;
  /** The JSON-parsed document, or null when it has not changed since the last read. Throws on failure. */
  read(): Promise<unknown>;
}

export function jwksSource(iss: string, location: string, fetcher: JwksFetch): JwksSource {
  const where = `trust issuer ${iss}: JWKS ${location}`;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location) ? urlSource(where, location, fetcher) : fileSource(where, location);
}

function fileSource(where: string, path: string): JwksSource {
  let last: string | null = null;
  return {
    where,
    file: path,
    async read() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        throw new Error(`${where}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      if (text === last) return null;
      const document = parse(text, where);
      last = text;
      return document;
    },
  };
}

function urlSource(where: string, location: string, fetcher: JwksFetch): JwksSource {
  const url = new URL(location);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new Error(`${where}: only https URLs (or http to a loopback host) are allowed`);
  }
  let etag: string | null = null;
  return {
    where,
    file: null,
    async read() {
      let response: Response;
      try {
        response = await fetcher(url.href, {
          signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
          headers: etag === null ? {} : { 'if-none-match': etag },
          // A redirect could lead anywhere, plain http included; the configured URL is the only source.
          redirect: 'error',
        });
      } catch (err) {
        throw new Error(`${where}: fetch failed: ${(err as Error).message}`);
      }
      if (response.status === 304 && etag !== null) return null;
      if (!response.ok) {
        await response.body?.cancel();
        throw new Error(`${where}: HTTP ${response.status}`);
      }
      const document = parse(await boundedText(response, where), where);
      etag = response.headers.get('etag');
      return document;
    },
  };
}

async function boundedText(response: Response, where: string): Promise<string> {
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    // Leaving the loop early cancels the stream, so an oversized body is not read to its end.
    for await (const chunk of response.body) {
      size += chunk.byteLength;
      if (size > MAX_JWKS_BYTES) break;
      chunks.push(chunk);
    }
  } catch (err) {
    throw new Error(`${where}: fetch failed: ${(err as Error).message}`);
  }
  if (size > MAX_JWKS_BYTES) throw new Error(`${where}: larger than ${MAX_JWKS_BYTES} bytes`);
  return Buffer.concat(chunks).toString('utf8');
}

function parse(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${where}: not JSON`);
  }
}
