import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import type { ResourceRoute } from './handlers.js';
import { StatusError, badRequest, successStatus } from './status.js';
import type { ObjectStore } from './store.js';

/**
 * `pods/<name>/exec` over the Kubernetes WebSocket stream protocol (reference/k8s.md §2, §8 item 8):
 * each binary frame starts with its channel byte (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize,
 * 255 close in v5). The "container" runs a tiny fake: `echo ARGS` prints its args, `cat` echoes stdin
 * until the client closes it, `false` exits 1; anything else is not found. The result goes on
 * channel 3 as a Status, then the socket closes. SPDY is not spoken: kubectl's SPDY fallback gets an
 * error Status, which is what a test of the fallback needs.
 */
export const PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;

const STDOUT = 1;
const ERROR = 3;
const STDIN = 0;
const CLOSE = 255;

export function serveExec(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer, store: ObjectStore, r: ResourceRoute): void {
  const pod = store.mustGet(r.def, r.namespace, r.name);
  const containers = ((((pod['spec'] ?? {}) as Record<string, unknown>)['containers'] ?? []) as { name?: string }[]).map((c) => String(c.name));
  const container = r.query.get('container') ?? containers[0] ?? '';
  if (!containers.includes(container)) throw badRequest(`container ${container} is not valid for pod ${r.name}`);
  const command = r.query.getAll('command');
  if (command.length === 0) throw badRequest('you must specify at least 1 command');
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    throw badRequest('the stand-in apiserver speaks only the WebSocket stream protocol, not SPDY');
  }
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const protocol = PROTOCOLS.find((p) => offered.includes(p));
  if (protocol === undefined) throw badRequest(`none of the offered subprotocols is supported: ${PROTOCOLS.join(', ')}`);
  const stdin = r.query.get('stdin') === 'true';
  wss.handleUpgrade(req, socket, head, (ws) => run(ws, command, stdin, protocol === 'v5.channel.k8s.io'));
}

function run(ws: WebSocket, command: string[], stdin: boolean, v5: boolean): void {
  const out = (channel: number, data: Buffer | string) => ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(data)]));
  const finish = (status: Record<string, unknown>) => {
    out(ERROR, JSON.stringify(status));
    ws.close(1000);
  };
  const [program, ...args] = command;
  switch (program) {
    case 'echo':
      out(STDOUT, `${args.join(' ')}\n`);
      return finish(successStatus());
    case 'false':
      return finish(exitStatus(command, 1));
    case 'cat':
      if (!stdin) return finish(successStatus());
      ws.on('message', (data: Buffer) => {
        if (data[0] === STDIN && data.length > 1) out(STDOUT, data.subarray(1));
        // v5's close channel: the client has no more stdin, so cat ends.
        else if (v5 && data[0] === CLOSE && data[1] === STDIN) finish(successStatus());
      });
      return undefined;
    default:
      return finish({
        metadata: {},
        status: 'Failure',
        message: `Internal error occurred: error executing command in container: exec: "${String(program)}": executable file not found in $PATH`,
        reason: 'InternalError',
        code: 500,
      });
  }
}

/** The Status kubectl turns into `command terminated with exit code N` and its own exit code. */
function exitStatus(command: string[], code: number): Record<string, unknown> {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

/** An error answer to an upgrade request, written on the raw socket as the 'upgrade' event requires. */
export function rejectUpgrade(socket: Duplex, err: StatusError): void {
  const body = JSON.stringify(err.toStatus());
  socket.end(
    `HTTP/1.1 ${err.code} ${STATUS_CODES[err.code] ?? ''}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
