/**
 * The Fluent Forward Protocol v1 messages the fluent sink (fluent-sink.ts) exchanges: a Forward mode
 * chunk `[tag, [[time, record], ...], {chunk, size}]` out, `{ack: <chunk id>}` answers back.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { decodeMultiStream, encode, ExtData } from '@msgpack/msgpack';

/** An answer is `{ack: <24 base64 characters>}`; anything this large unparsed is not one. */
const MAX_ANSWER_BYTES = 4096;
const ANSWER_LIMITS = { maxStrLength: 256, maxBinLength: 256, maxArrayLength: 16, maxMapLength: 16, maxExtLength: 16 } as const;
/** Forward protocol EventTime: ext type 0, seconds and nanoseconds as big-endian uint32. */
const EVENT_TIME_EXT = 0;

/** `[time, record]`, the Forward mode entry. */
export type ForwardEntry = readonly [ExtData, Record<string, unknown>];

/**
 * A record line as its entry: the record as an object, so the receiver gets fields rather than one
 * string; or what is wrong with the line.
 */
export function forwardEntry(line: string): ForwardEntry | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'a record line must be JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'a record line must hold a JSON object';
  const record = value as Record<string, unknown>;
  return [eventTime(record), record];
}

/** Forward protocol: a base64 of 128 random bits; the receiver echoes it as the ack. */
export function newChunkId(): string {
  return randomBytes(16).toString('base64');
}

export function encodeChunk(tag: string, entries: readonly ForwardEntry[], id: string): Uint8Array {
  return encode([tag, entries, { chunk: id, size: entries.length }]);
}

/** The chunk id an answer acknowledges, or undefined when it is not an ack. */
export function ackOf(answer: unknown): unknown {
  return typeof answer === 'object' && answer !== null && !Array.isArray(answer) ? (answer as Record<string, unknown>).ack : undefined;
}

/**
 * Acks arrive as msgpack maps on the same connection; anything else (or an `onAnswer` that throws)
 * ends the connection.
 */
export async function readAnswers(socket: Socket, onAnswer: (answer: unknown) => void): Promise<void> {
  // Bytes since the last complete answer: a receiver cannot make the decoder buffer without end.
  let unparsed = 0;
  const counted = async function* (): AsyncGenerator<Buffer> {
    for await (const data of socket as AsyncIterable<Buffer>) {
      unparsed += data.length;
      if (unparsed > MAX_ANSWER_BYTES) throw new Error('the receiver sent something other than acks');
      yield data;
    }
  };
  try {
    for await (const answer of decodeMultiStream<undefined>(counted(), ANSWER_LIMITS)) {
      unparsed = 0;
      onAnswer(answer);
    }
    socket.destroy();
  } catch (err) {
    socket.destroy(err instanceof Error ? err : new Error(String(err)));
  }
}

/**
 * The record's own `ts` as EventTime, which keeps its milliseconds: integer seconds would let a
 * collector sort a second's records out of their chain order. A record without a readable ts
 * (never one the writer made) gets the current time.
 */
function eventTime(record: Record<string, unknown>): ExtData {
  const parsed = typeof record.ts === 'string' ? Date.parse(record.ts) : NaN;
  const ms = Number.isFinite(parsed) && parsed >= 0 ? parsed : Date.now();
  const data = Buffer.alloc(8);
  data.writeUInt32BE(Math.floor(ms / 1000) % 2 ** 32, 0);
  data.writeUInt32BE((ms % 1000) * 1_000_000, 4);
  return new ExtData(EVENT_TIME_EXT, data);
}
