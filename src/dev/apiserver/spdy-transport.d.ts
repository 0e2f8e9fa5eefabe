/**
 * The part of spdy-transport (which ships no types) the stand-in uses: a server-side SPDY/3
 * connection over any Duplex, its peer-opened streams, and the parser hook spdy-session.ts needs.
 */
declare module 'spdy-transport' {
  import type { EventEmitter } from 'node:events';
  import type { Duplex } from 'node:stream';

  /** One SPDY stream: a Duplex whose writable side ends with a DATA frame carrying FIN. */
  export interface SpdyStream extends Duplex {
    readonly id: number;
    /** The SYN_STREAM's headers, names lower-cased as they travel in SPDY. */
    readonly headers: Readonly<Record<string, string | string[] | undefined>>;
    /** Sends the SYN_REPLY. */
    respond(status: number, headers: Record<string, string>, callback?: (err?: Error) => void): void;
  }

  export type SpdyHeaders = Record<string, string | string[]>;

  export interface SpdyConnection extends EventEmitter {
    on(event: 'stream', listener: (stream: SpdyStream) => void): this;
    on(event: 'error', listener: (err: Error) => void): this;
    on(event: 'close', listener: () => void): this;
    /** Sends GOAWAY; the socket closes once no stream is open. */
    end(callback?: () => void): void;
    /**
     * Internal state, reached only to adapt to moby/spdystream (spdy-session.ts): the parser, to
     * fill in the request headers spdystream omits, and the window new streams start with.
     */
    readonly _spdyState: {
      readonly parser: {
        parseKVs(buffer: unknown, callback: (err: Error | null, headers?: SpdyHeaders) => void): void;
      };
      readonly streamWindow: { readonly send: { setMax(max: number): void } };
    };
  }

  interface SpdyTransport {
    readonly connection: {
      create(socket: Duplex, options: { protocol: 'spdy'; isServer: boolean }): SpdyConnection;
    };
  }

  const transport: SpdyTransport;
  export default transport;
}
