import type { WebSocket } from 'ws';
import type { Process } from './processes.js';

/**
 * exec and attach over the Kubernetes WebSocket channel protocol (reference/k8s.md §8 item 8):
 * each binary message starts with its channel byte (0 stdin, 1 stdout, 2 stderr, 3 error,
 * 4 resize; v5 adds 255 close, `[255, 0]` meaning "no more stdin"). The exit Status goes on
 * channel 3, then the socket closes.
 */
export const CHANNEL_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const CLOSE = 255;

export function runOverWebSocket(ws: WebSocket, protocol: string, stdin: boolean, process: Process): void {
  const v5 = protocol === 'v5.channel.k8s.io';
  let ended = false;
  let onStdin: ((chunk: Buffer | null) => void) | null = null;
  let onClose: (() => void) | null = null;
  const send = (channel: number, data: Buffer | string): void => {
    if (!ended) ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(data)]));
  };
  ws.on('message', (data: Buffer) => {
    if (data[0] === STDIN && data.length > 1) onStdin?.(data.subarray(1));
    else if (v5 && data[0] === CLOSE && data[1] === STDIN) onStdin?.(null);
  });
  ws.on('close', () => {
    if (ended) return;
    ended = true;
    onClose?.();
  });
  process({
    stdin,
    write: (fd, data) => send(fd === 'stdout' ? STDOUT : STDERR, data),
    onStdin: (listener) => (onStdin = listener),
    exit: (status) => {
      send(ERROR, JSON.stringify(status));
      ended = true;
      ws.close(1000);
    },
    onClose: (listener) => (onClose = listener),
  });
}
