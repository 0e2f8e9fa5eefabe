import t from 'tap';
import { isDirectory, tar, untar, type PodFiles } from '../../../src/dev/apiserver/pod-files.js';
import { execProcess, type ProcessIO } from '../../../src/dev/apiserver/processes.js';

/** Runs one exec process to its end: what it wrote and its exit Status. */
function exec(command: string[], files: PodFiles, stdin?: Buffer): Promise<{ stdout: Buffer; stderr: string; status: Record<string, unknown> }> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    let stderr = '';
    const io: ProcessIO = {
      stdin: stdin !== undefined,
      write: (fd, data) => (fd === 'stdout' ? out.push(Buffer.from(data)) : (stderr += data.toString())),
      onStdin: (listener) => {
        listener(stdin!);
        listener(null);
      },
      exit: (status) => resolve({ stdout: Buffer.concat(out), stderr, status }),
      onClose: () => {},
    };
    execProcess(command, files)(io);
  });
}

t.test('kubectl cp into a pod: test -d, then tar -xmf - -C DIR; cat and tar cf read it back', async (t) => {
  const files: PodFiles = new Map([['/srv/app/config', Buffer.from('x')]]);
  t.equal((await exec(['test', '-d', '/tmp/upload.txt'], files)).status['status'], 'Failure', 'not a directory yet');
  t.equal((await exec(['test', '-d', '/srv/app'], files)).status['status'], 'Success', 'a directory above a file');
  const archive = tar(new Map([['/upload.txt', Buffer.from('hello\n')]]), '/upload.txt')!;
  t.equal((await exec(['tar', '--no-same-permissions', '--no-same-owner', '-xmf', '-', '-C', '/tmp'], files, archive)).status['status'], 'Success');
  t.equal((await exec(['cat', '/tmp/upload.txt'], files)).stdout.toString(), 'hello\n');
  const back = await exec(['tar', 'cf', '-', '/tmp/upload.txt'], files);
  const copy: PodFiles = new Map();
  t.same(untar(back.stdout, '/out', copy), ['/out/tmp/upload.txt'], 'names relative, as tar writes them');
  t.ok(isDirectory(copy, '/out/tmp'));
});

t.test('long names (PAX and GNU entries) and refusals', async (t) => {
  const long = `${'d'.repeat(120)}/file`;
  const data = Buffer.from('long\n');
  const paxRecord = (key: string, value: string) => {
    const body = ` ${key}=${value}\n`;
    let len = body.length + 1;
    while (`${len}${body}`.length !== len) len++;
    return `${len}${body}`;
  };
  const entry = (type: string, name: string, body: Buffer) => {
    const header = tar(new Map([['/x', body]]), '/x')!.subarray(0, 512);
    header.fill(0, 0, 100);
    header.write(name, 0);
    header.write(type, 156);
    header.fill(0x20, 148, 156);
    const sum = header.reduce((a, b) => a + b, 0);
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    return Buffer.concat([header, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
  };
  for (const [form, first] of [['PAX', entry('x', 'PaxHeaders/file', Buffer.from(paxRecord('path', long)))], ['GNU', entry('L', '././@LongLink', Buffer.from(long))]] as const) {
    const files: PodFiles = new Map();
    untar(Buffer.concat([first, entry('0', 'short', data), Buffer.alloc(1024)]), '/tmp', files);
    t.same([...files.keys()], [`/tmp/${long}`], form);
  }
  const files: PodFiles = new Map();
  const cut = await exec(['tar', '-xmf', '-', '-C', '/tmp'], files, entry('0', 'f', data).subarray(0, 514));
  t.match(cut, { stderr: /unexpected end of file/, status: { reason: 'NonZeroExitCode' } });
  t.match(await exec(['tar', '-tvf', 'x'], files), { status: { reason: 'NonZeroExitCode' } }, 'only the forms kubectl cp runs');
  t.match(await exec(['cat', '/nope'], files), { stderr: /No such file/, status: { reason: 'NonZeroExitCode' } });
});
