import t from 'tap';
import { SseReader } from '../../src/authority/sse.js';

/** Feeds `chunks` in order and collects every event's data. */
function read(chunks: string[], max = 1024): string[] {
  const reader = new SseReader(max);
  return chunks.flatMap((c) => reader.push(c));
}

t.test('events, as the WHATWG event-stream rules read them', async (t) => {
  const cases: [string, string[], string[]][] = [
    ['one event', ['data: a.b.c\n\n'], ['a.b.c']],
    ['no space after the colon', ['data:a.b.c\n\n'], ['a.b.c']],
    ['multi-line data joined with LF', ['data: x\ndata: y\n\n'], ['x\ny']],
    ['CRLF line ends', ['data: a\r\n\r\n'], ['a']],
    ['CR line ends', ['data: a\r\r'], ['a']],
    ['CRLF split across chunks', ['data: a\r', '\n\r', '\ndata: b\r\n\r\n'], ['a', 'b']],
    ['a line split across chunks', ['da', 'ta: a.', 'b.c', '\n', '\n'], ['a.b.c']],
    ['comments (heartbeats) ignored', [':\n\n: ping\n\ndata: a\n\n'], ['a']],
    ['a BOM at the start is dropped', ['\ufeffdata: a\n\n'], ['a']],
    ['id and retry are ignored', ['id: 7\nretry: 10\ndata: a\n\n'], ['a']],
    ['named events other than message are ignored', ['event: ping\ndata: x\n\nevent: message\ndata: a\n\n'], ['a']],
    ['the event type resets after each event', ['event: other\ndata: x\n\ndata: a\n\n'], ['a']],
    ['no data, no event', ['event: message\n\n'], []],
    ['an unfinished event is held back', ['data: a\n'], []],
    ['unknown fields are ignored', ['foo: bar\ndata: a\n\n'], ['a']],
  ];
  for (const [name, chunks, want] of cases) t.same(read(chunks), want, name);
});

t.test('lines and events are bounded', async (t) => {
  t.throws(() => read([`data: ${'x'.repeat(200)}`], 100), /over 100 bytes/, 'a line that never ends');
  t.throws(() => read([`data: ${'x'.repeat(60)}\ndata: ${'x'.repeat(60)}\n`], 100), /event is over 100 bytes/, 'an event of many lines');
  t.same(read([`data: ${'x'.repeat(90)}\n\n`], 100), ['x'.repeat(90)], 'under the bound');
});
