import { readFile, rename, writeFile } from 'node:fs/promises';
import type { StreamPointer } from './types.js';

/**
 * `records.state_file` (SPEC §8): the last accepted record of this broker's stream, so the next
 * start record can name it. Missing file: first start, no previous stream. A file that exists but
 * does not hold a pointer is a start-up error: silently starting unlinked would hide a cut tail.
 */
export async function readState(path: string): Promise<StreamPointer | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const v: unknown = JSON.parse(text);
  if (!isPointer(v)) throw new Error(`records.state_file ${path} does not hold a {stream, seq, hash} pointer`);
  return { stream: v.stream, seq: v.seq, hash: v.hash };
}

/** Write-then-rename, so a crash mid-write leaves the old pointer rather than half a file. */
export async function writeState(path: string, pointer: StreamPointer): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(pointer) + '\n', { mode: 0o600 });
  await rename(tmp, path);
}

function isPointer(v: unknown): v is StreamPointer {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return (
    typeof p.stream === 'string' &&
    Number.isSafeInteger(p.seq) &&
    (p.seq as number) >= 0 &&
    typeof p.hash === 'string' &&
    /^[A-Za-z0-9_-]{43}$/.test(p.hash)
  );
}
