import { posix } from 'node:path';

/**
 * A pod's files, for what `kubectl cp` runs in it: `test -d` (is the destination a directory?),
 * `tar -xmf - -C DIR` (unpack what kubectl streams in) and `tar cf - PATH` (pack what it copies
 * out). Regular files only, in memory, keyed by absolute path; directories exist implicitly above
 * every file, plus the few every image has. The archive reader knows the forms Go's archive/tar
 * writes for kubectl: ustar headers, with PAX or GNU long-name entries before long paths.
 * Hand-written rather than a dependency: it serves a fake process in the dev stand-in only, never
 * input the broker trusts.
 */
export type PodFiles = Map<string, Buffer>;

const BLOCK = 512;
const BASE_DIRS = new Set(['/', '/tmp', '/root', '/etc', '/var', '/usr', '/bin']);

export function isDirectory(files: PodFiles, path: string): boolean {
  const p = posix.resolve('/', path);
  if (BASE_DIRS.has(p)) return true;
  const prefix = p.endsWith('/') ? p : `${p}/`;
  return [...files.keys()].some((f) => f.startsWith(prefix));
}

/** Unpacks `archive` below `dir`; throws on an archive it cannot read (tar exits 2 then). */
export function untar(archive: Buffer, dir: string, files: PodFiles): string[] {
  const written: string[] = [];
  let longName: string | undefined;
  for (let at = 0; at + BLOCK <= archive.length; ) {
    const header = archive.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) break;
    const size = parseInt(text(header, 124, 12).trim() || '0', 8);
    if (!Number.isInteger(size) || size < 0) throw new Error('tar: invalid header');
    const type = String.fromCharCode(header[156]!);
    const data = archive.subarray(at + BLOCK, at + BLOCK + size);
    if (data.length !== size) throw new Error('tar: unexpected end of file');
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'L') longName = text(data, 0, size);
    else if (type === 'x') longName = paxPath(data) ?? longName;
    else {
      const prefix = text(header, 257, 6) === 'ustar' ? text(header, 345, 155) : '';
      const name = longName ?? (prefix === '' ? text(header, 0, 100) : `${prefix}/${text(header, 0, 100)}`);
      longName = undefined;
      if (type !== '0' && type !== '\0') continue; // directories exist implicitly; links are not kept
      const path = posix.resolve('/', dir, name);
      files.set(path, Buffer.from(data));
      written.push(path);
    }
  }
  return written;
}

/** `tar cf - PATH`: the file (or every file below the directory) as a ustar archive, names relative as tar writes them. */
export function tar(files: PodFiles, path: string): Buffer | undefined {
  const p = posix.resolve('/', path);
  const chosen = [...files.entries()].filter(([f]) => f === p || f.startsWith(`${p}/`)).sort(([a], [b]) => (a < b ? -1 : 1));
  if (chosen.length === 0) return undefined;
  const blocks: Buffer[] = [];
  for (const [f, data] of chosen) {
    blocks.push(ustarHeader(f.slice(1), data.length), data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK));
  }
  blocks.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(blocks);
}

function ustarHeader(name: string, size: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error('tar: name too long for the stand-in');
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('0', 156);
  h.write('ustar\x0000', 257);
  // The checksum is taken with its own field as spaces.
  h.write('        ', 148);
  const sum = h.reduce((a, b) => a + b, 0);
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

function text(buf: Buffer, start: number, length: number): string {
  const field = buf.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? field.length : end).toString('utf8');
}

/** The `path` record of a PAX extended header ("<len> path=<value>\n" records). */
function paxPath(data: Buffer): string | undefined {
  let path: string | undefined;
  for (let at = 0; at < data.length; ) {
    const space = data.indexOf(0x20, at);
    const len = Number(data.subarray(at, space).toString());
    if (space < 0 || !Number.isInteger(len) || len <= 0) throw new Error('tar: invalid PAX header');
    const record = data.subarray(space + 1, at + len - 1).toString('utf8');
    if (record.startsWith('path=')) path = record.slice('path='.length);
    at += len;
  }
  return path;
}
