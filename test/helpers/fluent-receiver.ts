/**
 * A Fluent forward protocol v1 receiver for tests (what Fluent Bit's `[INPUT] Name forward` does
 * with the parts the broker uses): a loopback TCP server that decodes Message, Forward and
 * PackedForward messages, keeps their records and answers `{ack: chunk}`. Its answer to each chunk
 * can be held until the test releases it, dropped, or replaced by closing the connection: the test
 * decides when an ack goes out, no timer does.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { decodeMulti, decodeMultiStream, encode, ExtData } from '@msgpack/msgpack';

export interface ReceivedRecord {
  readonly tag: string;
  /** Seconds since the epoch (EventTime keeps the fraction). */
  readonly time: number;
  readonly record: Record<string, unknown>;
}

/**
 * What the receiver does with a chunk:
 * - ack: keeps its records and acknowledges it;
 * - hold: keeps its records and acknowledges it when the test calls `releaseAcks()`;
 * - drop-ack: keeps its records but never answers (a lost ack);
 * - refuse: neither keeps nor answers (a receiver whose buffer is full);
 * - close: closes the connection without keeping or answering.
 */
export type ChunkAnswer = 'ack' | 'hold' | 'drop-ack' | 'refuse' | 'close';

export interface FluentReceiver {
  readonly port: number;
  /** Records kept, in arrival order. */
  readonly records: ReceivedRecord[];
  /** Messages received (a Forward chunk counts once, whatever its size). */
  readonly messages: number;
  /** Connections accepted so far. */
  readonly connections: number;
  answer: ChunkAnswer;
  /** Sends the acks held so far (answer 'hold'), in the order their chunks came. */
  releaseAcks(): void;
  /** The kept records as JSON lines, as a log pipeline would hand them to `seb records verify`. */
  lines(): string[];
  /** Closes every open connection (the receiver keeps listening). */
  dropConnections(): void;
  close(): Promise<void>;
}

/** Bounds what one test connection may buffer before the receiver gives up on it. */
const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

export async function startFluentReceiver(o: { answer?: ChunkAnswer; port?: number } = {}): Promise<FluentReceiver> {
  const sockets = new Set<Socket>();
  const held: { socket: Socket; ack: Uint8Array }[] = [];
  const records: ReceivedRecord[] = [];
  let messages = 0;
  let connections = 0;

  const receiver = {
    port: 0,
    records,
    get messages() {
      return messages;
    },
    get connections() {
      return connections;
    },
    answer: o.answer ?? 'ack',
    releaseAcks() {
      for (const { socket, ack } of held.splice(0)) if (!socket.destroyed) socket.write(ack);
    },
    lines: () => records.map((r) => JSON.stringify(r.record)),
    dropConnections() {
      for (const s of sockets) s.destroy();
    },
    close: async () => {
      held.length = 0;
      receiver.dropConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const handle = async (socket: Socket): Promise<void> => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    try {
      for await (const message of decodeMultiStream<undefined>(socket as AsyncIterable<Buffer>, { maxBinLength: MAX_MESSAGE_BYTES, maxStrLength: MAX_MESSAGE_BYTES })) {
        messages++;
        const { tag, entries, chunk } = parseMessage(message);
        const answer = receiver.answer;
        if (answer === 'close') {
          socket.destroy();
          return;
        }
        if (answer === 'refuse') continue;
        for (const [time, record] of entries) records.push({ tag, time, record });
        if (answer === 'drop-ack' || chunk === undefined) continue;
        const ack = encode({ ack: chunk });
        if (answer === 'hold') held.push({ socket, ack });
        else socket.write(ack);
      }
    } catch {
      // A cut or malformed stream ends this connection only.
    }
    socket.destroy();
  };

  const server: Server = createServer((socket) => void handle(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
  });
  receiver.port = (server.address() as AddressInfo).port;
  return receiver;
}

type Entry = readonly [number, Record<string, unknown>];

/** One forward protocol message, in any of the three modes the broker could send. */
function parseMessage(message: unknown): { tag: string; entries: Entry[]; chunk: string | undefined } {
  if (!Array.isArray(message) || typeof message[0] !== 'string') throw new Error('not a forward message');
  const [tag, second] = message as [string, unknown];
  let entries: Entry[];
  let option: unknown;
  if (typeof second === 'number' || second instanceof ExtData) {
    // Message mode: [tag, time, record, option?]
    entries = [entry([second, message[2]])];
    option = message[3];
  } else if (Array.isArray(second)) {
    // Forward mode: [tag, [[time, record], ...], option?]
    entries = second.map(entry);
    option = message[2];
  } else if (second instanceof Uint8Array) {
    // PackedForward mode: [tag, <concatenated msgpack [time, record] entries>, option?]
    entries = [...decodeMulti(second)].map(entry);
    option = message[2];
  } else {
    throw new Error('unknown forward mode');
  }
  const chunk = typeof option === 'object' && option !== null ? (option as { chunk?: unknown }).chunk : undefined;
  if (chunk !== undefined && typeof chunk !== 'string') throw new Error('chunk option is not a string');
  return { tag, entries, chunk };
}

function entry(e: unknown): Entry {
  if (!Array.isArray(e) || e.length !== 2) throw new Error('an entry is not [time, record]');
  const [time, record] = e as [unknown, unknown];
  if (typeof record !== 'object' || record === null || Array.isArray(record)) throw new Error('a record is not a map');
  return [timeOf(time), record as Record<string, unknown>];
}

/** Integer seconds, or EventTime (ext 0: uint32 seconds, uint32 nanoseconds, big-endian). */
function timeOf(t: unknown): number {
  if (typeof t === 'number') return t;
  const data = t instanceof ExtData && t.type === 0 && t.data instanceof Uint8Array ? t.data : null;
  if (data !== null && data.length === 8) {
    const view = Buffer.from(data.buffer, data.byteOffset, 8);
    return view.readUInt32BE(0) + view.readUInt32BE(4) / 1e9;
  }
  throw new Error('time is neither an integer nor EventTime');
}
