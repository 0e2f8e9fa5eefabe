/**
 * An incremental reader of server-sent events (WHATWG HTML "Interpreting an event stream"), reduced
 * to what the authority feed needs: the data of each `message` event. `id` and `retry` are read and
 * ignored: every state is a full snapshot, so there is nothing to resume, and reconnect timing is
 * the broker's own (backoff.ts). Lines and events are bounded, since the bytes come from outside.
 */
export class SseReader {
  readonly #maxBytes: number;
  #buffer = '';
  #started = false;
  /** The previous chunk ended in CR: an LF starting this one belongs to that line end. */
  #skipLf = false;
  #type = '';
  #data: string[] = [];
  #dataBytes = 0;

  constructor(maxEventBytes: number) {
    this.#maxBytes = maxEventBytes;
  }

  /** Feeds decoded text; returns the data of each event it completes. Throws when a line or an event is over the bound. */
  push(text: string): string[] {
    let chunk = text;
    if (!this.#started && chunk !== '') {
      this.#started = true;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    if (this.#skipLf && chunk.startsWith('\n')) chunk = chunk.slice(1);
    this.#skipLf = false;
    const buffer = this.#buffer + chunk;
    const events: string[] = [];
    let start = 0;
    const lineEnd = /\r\n|\r|\n/g;
    for (let m = lineEnd.exec(buffer); m !== null; m = lineEnd.exec(buffer)) {
      this.#line(buffer.slice(start, m.index), events);
      start = m.index + m[0].length;
      if (m[0] === '\r' && start === buffer.length) this.#skipLf = true;
    }
    this.#buffer = buffer.slice(start);
    if (this.#buffer.length > this.#maxBytes) throw new Error(`an event stream line is over ${this.#maxBytes} bytes`);
    return events;
  }

  #line(line: string, events: string[]): void {
    if (line === '') {
      if (this.#data.length > 0 && (this.#type === '' || this.#type === 'message')) events.push(this.#data.join('\n'));
      this.#type = '';
      this.#data = [];
      this.#dataBytes = 0;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#type = value;
    else if (field === 'data') {
      this.#dataBytes += value.length + 1;
      if (this.#dataBytes > this.#maxBytes) throw new Error(`an event is over ${this.#maxBytes} bytes`);
      this.#data.push(value);
    }
  }
}
