/**
 * Fuzz: the AWS body readers. aws-chunked framing (src/targets/aws/aws-chunked.ts) gives back
 * exactly the framed payload and denies any truncated, extended or garbled framing; integrity
 * headers (integrity.ts) are accepted exactly when they are the body's own digests; a DeleteObjects
 * body (s3-delete-objects.ts) names exactly the keys it was written with, however it escapes them.
 * Oracles are the generators themselves and node's own crc32 and hashes.
 */
import { createHash } from 'node:crypto';
import t from 'tap';
import fc from 'fast-check';
import { decodeAwsBody } from '../../src/targets/aws/aws-chunked.js';
import { parseDeleteObjects } from '../../src/targets/aws/s3-delete-objects.js';
import { check, Coverage, outcome } from './harness.js';
import { applyEdit, checksumOf, chunkedBody, edit, s3Key, type ChecksumName } from './arbitraries.js';

const TARGET = 'aws-body';

const decode = (headers: Record<string, string>, raw: Buffer) => outcome(() => decodeAwsBody(Object.assign(Object.create(null), headers), raw));

t.test('aws-chunked: decoding a framed body gives the payload and its trailer checksum', async (t) => {
  await check(t, TARGET, 'frame round trip', fc.property(chunkedBody, (c) => {
    const got = decode(c.headers, c.raw);
    if (!got.ok) throw new Error(`a well-framed body was refused: ${got.denial.message}`);
    const want = c.checksum === null ? {} : { [`x-amz-checksum-${c.checksum}`]: checksumOf(c.checksum, c.payload) };
    return got.value.payload.equals(c.payload) && JSON.stringify({ ...got.value.integrityHeaders }) === JSON.stringify(want);
  }));
});

t.test('aws-chunked: every truncation and every extension is denied', async (t) => {
  await check(t, TARGET, 'truncate/extend', fc.property(chunkedBody, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }), (c, cut, extra) => {
    const short = decode(c.headers, c.raw.subarray(0, cut % c.raw.length));
    const long = decode(c.headers, Buffer.concat([c.raw, extra]));
    return !short.ok && short.code === 'unparseable_request' && !long.ok && long.code === 'unparseable_request';
  }));
});

t.test('aws-chunked: one changed byte is denied, or yields exactly the payload with that byte', async (t) => {
  const cov = new Coverage();
  await check(t, TARGET, 'garbled byte', fc.property(chunkedBody, fc.nat(), fc.integer({ min: 0, max: 255 }), (c, at, byte) => {
    const i = at % c.raw.length;
    if (c.raw[i] === byte) return true;
    const raw = Buffer.from(c.raw);
    raw[i] = byte;
    const got = decode(c.headers, raw);
    if (!got.ok) {
      cov.hit('denied');
      return got.code === 'unparseable_request';
    }
    cov.hit('accepted');
    const region = c.data.findIndex(([s, e]) => i >= s && i < e);
    // A changed data byte under a trailer checksum must be caught; elsewhere the framing must not move.
    if (region !== -1 && c.checksum !== null) return false;
    const want = Buffer.from(c.payload);
    if (region !== -1) {
      const before = c.data.slice(0, region).reduce((n, [s, e]) => n + e - s, 0);
      want[before + i - c.data[region]![0]] = byte;
    }
    return got.value.payload.equals(want);
  }));
  t.ok(cov.count('denied') > 0, `${cov.count('denied')} denied, ${cov.count('accepted')} accepted`);
});

t.test('aws-chunked: headers that misdescribe the framing are denied', async (t) => {
  const lie = fc.constantFrom('length+1', 'length-1', 'no-encoding', 'trailer-name', 'no-trailer', 'framing', 'upper-encoding');
  await check(t, TARGET, 'lying headers', fc.property(chunkedBody, lie, (c, how) => {
    const h = { ...c.headers };
    const n = Number(h['x-amz-decoded-content-length']);
    if (how === 'length+1') h['x-amz-decoded-content-length'] = String(n + 1);
    if (how === 'length-1') {
      if (n === 0) return true;
      h['x-amz-decoded-content-length'] = String(n - 1);
    }
    if (how === 'no-encoding') delete h['content-encoding'];
    if (how === 'upper-encoding') h['content-encoding'] = 'AWS-Chunked';
    if (how === 'trailer-name') h['x-amz-trailer'] = 'x-amz-checksum-crc32c';
    if (how === 'no-trailer') {
      if (h['x-amz-trailer'] === undefined) return true;
      delete h['x-amz-trailer'];
    }
    if (how === 'framing') h['x-amz-content-sha256'] = c.framing.endsWith('TRAILER') ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' : 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
    const got = decode(h, c.raw);
    return !got.ok && got.code === 'unparseable_request';
  }));
});

// --- integrity ------------------------------------------------------------------------------------

const NAMES: readonly ChecksumName[] = ['crc32', 'sha1', 'sha256'];

t.test('integrity headers pass exactly when they are the body digests', async (t) => {
  const sent = fc.record({ md5: fc.boolean(), sums: fc.subarray([...NAMES], { maxLength: 2 }), sdk: fc.boolean() });
  await check(t, TARGET, 'integrity', fc.property(fc.uint8Array({ maxLength: 128 }), sent, fc.option(edit(fc.constantFrom(...'AZaz09+/=')), { nil: null }), fc.nat(), (bytes, s, e, which) => {
    const payload = Buffer.from(bytes);
    const headers: Record<string, string> = {};
    if (s.md5) headers['content-md5'] = createHash('md5').update(payload).digest('base64');
    for (const name of s.sums) headers[`x-amz-checksum-${name}`] = checksumOf(name, payload);
    if (s.sdk && s.sums.length === 1) headers['x-amz-sdk-checksum-algorithm'] = s.sums[0]!.toUpperCase();
    const names = Object.keys(headers).filter((n) => n !== 'x-amz-sdk-checksum-algorithm');
    const good = decode(headers, payload);
    if (!good.ok || JSON.stringify({ ...good.value.integrityHeaders }) !== JSON.stringify(headers)) {
      // Two different checksum algorithms with one SDK algorithm header are refused by design.
      return !good.ok && s.sums.length > 1 && 'x-amz-sdk-checksum-algorithm' in headers;
    }
    if (e === null || names.length === 0) return true;
    const name = names[which % names.length]!;
    const changed = applyEdit(headers[name]!, e);
    if (changed === headers[name]) return true;
    const bad = decode({ ...headers, [name]: changed }, payload);
    return !bad.ok && bad.code === 'unparseable_request';
  }));
});

t.test('integrity: CRC-32C and CRC-64/NVME check values (the catalogue\'s "123456789")', async (t) => {
  const payload = Buffer.from('123456789');
  const crc32c = Buffer.from('e3069283', 'hex').toString('base64');
  const crc64 = Buffer.from('ae8b14860a799888', 'hex').toString('base64');
  t.ok(decode({ 'x-amz-checksum-crc32c': crc32c }, payload).ok, 'crc32c');
  t.ok(decode({ 'x-amz-checksum-crc64nvme': crc64 }, payload).ok, 'crc64nvme');
  t.equal(decode({ 'x-amz-checksum-crc32c': crc64 }, payload).ok, false);
});

// --- DeleteObjects ------------------------------------------------------------------------------

/** XML 1.0 characters (no CR: a raw one would be normalised by S3's parser, so it is sent escaped). */
const xmlKey = s3Key.filter((k) => !/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/.test(k));

/** Writes text with each character raw where XML allows it, or as an entity or character reference. */
function xmlText(s: string, choices: readonly number[]): string {
  let out = '';
  let i = 0;
  for (const ch of s) {
    const c = choices[i++ % choices.length]! % 4;
    const cp = ch.codePointAt(0)!;
    const mustEscape = ch === '&' || ch === '<' || ch === '\r' || (ch === '>' && out.endsWith(']]'));
    if (c === 0 && !mustEscape) out += ch;
    else if (c === 1) out += `&#${cp};`;
    else if (c === 2) out += `&#x${cp.toString(16)};`;
    else out += ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' } as Record<string, string>)[ch] ?? `&#X${cp.toString(16).toUpperCase()};`.replace('&#X', '&#x');
  }
  return out;
}

const ws = fc.constantFrom('', ' ', '\n', '\t', '\r\n  ');
const object = fc.record({ key: xmlKey, version: fc.option(fc.string({ unit: fc.constantFrom(...'abc.123'), minLength: 1, maxLength: 8 }), { nil: null }), etag: fc.boolean(), choices: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), ws });

t.test('DeleteObjects: the keys read are the keys written, whatever the escaping', async (t) => {
  const body = fc.record({ objects: fc.array(object, { minLength: 1, maxLength: 5 }), quiet: fc.option(fc.boolean(), { nil: null }), decl: fc.boolean(), ns: fc.boolean(), ws });
  await check(t, TARGET, 'DeleteObjects round trip', fc.property(body, (b) => {
    const parts = b.objects.map((o) =>
      `<Object>${o.ws}<Key>${xmlText(o.key, o.choices)}</Key>${o.ws}${o.version === null ? '' : `<VersionId>${o.version}</VersionId>`}${o.etag ? '<ETag>"abc"</ETag>' : ''}</Object>`,
    );
    if (b.quiet !== null) parts.splice(1, 0, `<Quiet>${b.quiet}</Quiet>`);
    const xml = `${b.decl ? '<?xml version="1.0" encoding="UTF-8"?>' : ''}${b.ws}<Delete${b.ns ? ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"' : ''}>${parts.join(b.ws)}</Delete>${b.ws}`;
    const got = outcome(() => parseDeleteObjects(Buffer.from(xml)));
    if (!got.ok) throw new Error(`refused ${JSON.stringify(xml)}: ${got.denial.message}`);
    return JSON.stringify(got.value) === JSON.stringify(b.objects.map((o) => ({ key: o.key, versionId: o.version })));
  }));
});

t.test('DeleteObjects: garbled bodies are read or denied, never crash', async (t) => {
  const base = '<?xml version="1.0"?><Delete><Object><Key>a&amp;b&#x1F600;</Key><VersionId>v</VersionId></Object><Quiet>true</Quiet></Delete>';
  const xmlChar = fc.constantFrom('<', '>', '&', ';', '#', 'x', '/', '"', "'", ' ', '\r', '\u0000', ']', '!', '?', '-', 'K', 'D');
  await check(t, TARGET, 'DeleteObjects garbled', fc.property(fc.array(edit(xmlChar), { minLength: 1, maxLength: 4 }), (edits) => {
    const xml = edits.reduce(applyEdit, base);
    const got = outcome(() => parseDeleteObjects(Buffer.from(xml)));
    return got.ok ? got.value.length >= 1 && got.value.every((o) => o.key !== '') : got.code === 'unparseable_request';
  }));
});
