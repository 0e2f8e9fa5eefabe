/**
 * `seb op capture` of the S3 commands that take more than one mutation (SPEC §2.2): the capture
 * broker answers some steps itself, with synthetic values, so the client goes on and every op of
 * the command is printed. A multipart upload: each UploadPart binds `uploadId` to the Create's
 * answer, the Complete binds `uploadId` and each part's ETag. `aws s3 mv`: CopyObject is answered,
 * so the CLI goes on to the DeleteObject of the source. Nothing here reaches S3.
 */
import { randomUUID } from 'node:crypto';
import type { AwsOp, BoundValue } from '../../contract/types.js';
import { findXmlText } from '../../contract/body-places.js';
import type { AwsOperation } from './types.js';
import { awsOpFor } from './capture.js';
import { isChecksumDigest } from './integrity.js';

/** What the capture broker answers in S3's place. */
export interface SyntheticAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Prints an op; returns its index among the ops captured for this command (bindings name it). */
export type RecordOp = (op: AwsOp) => number;

const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';
/** An S3 upload has at most 10,000 parts. */
const MAX_PARTS = 10_000;

export class MultipartCapture {
  /** Synthetic UploadId -> index of the CreateMultipartUpload op that answered it. */
  readonly #uploads = new Map<string, number>();
  /** Synthetic part ETag -> index of the UploadPart op that answered it. */
  readonly #etags = new Map<string, number>();
  readonly #newId: () => string;

  constructor(newId: () => string = randomUUID) {
    this.#newId = newId;
  }

  /**
   * Records the request's op; returns the answer to give instead of refusing it, or null to refuse.
   * `integrity` holds the checksum headers already checked against `payload` (integrity.ts).
   */
  capture(
    request: AwsOperation,
    account: string,
    payload: Buffer,
    contentType: string | undefined,
    integrity: Readonly<Record<string, string>>,
    record: RecordOp,
  ): SyntheticAnswer | null {
    const plain = (bind: readonly BoundValue[] = []): number => record(awsOpFor(request, account, payload, contentType, bind));
    if (request.service !== 's3') {
      plain();
      return null;
    }
    const create = this.#uploads.get(request.params['uploadId'] ?? '');
    const uploadBind: BoundValue[] = create === undefined ? [] : [{ at: 'query:uploadId', from: { op: create, value: 'xml:UploadId' } }];
    const [bucket, key] = bucketAndKey(request.resource);
    switch (request.operation) {
      case 'CreateMultipartUpload': {
        const uploadId = `seb-capture-${this.#newId()}`;
        this.#uploads.set(uploadId, plain());
        return xmlAnswer('InitiateMultipartUploadResult', { Bucket: bucket, Key: key, UploadId: uploadId });
      }
      case 'UploadPart': {
        if (create === undefined) break;
        const etag = `"${this.#newId().replace(/-/g, '')}"`;
        this.#etags.set(etag, plain(uploadBind));
        return { status: 200, headers: { etag, ...partChecksums(integrity) }, body: '' };
      }
      case 'CompleteMultipartUpload': {
        if (create === undefined) break;
        plain([...uploadBind, ...this.#partBinds(payload)]);
        return xmlAnswer('CompleteMultipartUploadResult', { Bucket: bucket, Key: key, ETag: `"${this.#newId().replace(/-/g, '')}-1"` });
      }
      case 'CopyObject': {
        // A move is a copy then a delete of the source (the CLI's s3 mv); no later op reads the
        // copy's answer, so nothing is bound to it.
        plain();
        return xmlAnswer('CopyObjectResult', { ETag: `"${this.#newId().replace(/-/g, '')}"` });
      }
      default:
        break;
    }
    plain(uploadBind);
    return null;
  }

  /** `xml:Part[n]/ETag` bound to the UploadPart that answered that ETag, for each part this capture answered. */
  #partBinds(payload: Buffer): BoundValue[] {
    const out: BoundValue[] = [];
    for (let n = 1; n <= MAX_PARTS; n++) {
      const found = findXmlText(payload, [{ name: 'Part', nth: n }, { name: 'ETag', nth: 1 }]);
      if (found === null) break;
      const part = this.#etags.get(found.value);
      if (part !== undefined) out.push({ at: `xml:Part[${n}]/ETag`, from: { op: part, value: 'header:etag' } });
    }
    return out;
  }
}

/**
 * S3 answers an UploadPart with the part's checksum (`x-amz-checksum-crc32`, ...), and the SDKs
 * copy it into the Complete's body (`<ChecksumCRC32>`, the CLI's default): answering it too keeps
 * the captured Complete the one the client sends at run time. Only digests the broker checked
 * against the part are echoed, so the value is the part's own.
 */
function partChecksums(integrity: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(integrity)) if (isChecksumDigest(name)) out[name] = value;
  return out;
}

/** `arn:aws:s3:::bucket/key/with/slashes` -> [bucket, key]. */
function bucketAndKey(arn: string): [string, string] {
  const path = arn.slice(arn.indexOf(':::') + 3);
  const slash = path.indexOf('/');
  return slash < 0 ? [path, ''] : [path.slice(0, slash), path.slice(slash + 1)];
}

function xmlAnswer(root: string, members: Readonly<Record<string, string>>): SyntheticAnswer {
  const inner = Object.entries(members).map(([k, v]) => `<${k}>${escapeXml(v)}</${k}>`).join('');
  return {
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${S3_NS}">${inner}</${root}>`,
  };
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
