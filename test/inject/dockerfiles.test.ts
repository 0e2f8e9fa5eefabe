/**
 * The image definitions, read statically (no container engine runs here): the broker image is
 * multi-stage with a shell-less, non-root runtime; the init image runs the rules script; the build
 * context leaves out what an image never needs.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { brokerContainer } from '../../src/inject/sidecar.js';

const read = (path: string): string => readFileSync(fileURLToPath(new URL(`../../${path}`, import.meta.url)), 'utf8');

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** Dockerfile instructions, comments dropped and `\` continuations joined. */
function instructions(text: string): Instruction[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [keyword, ...rest] = l.split(/\s+/);
      return { keyword: keyword!.toUpperCase(), args: rest.join(' ') };
    });
}

/** The instructions of each stage, in order. */
function stages(text: string): Instruction[][] {
  const out: Instruction[][] = [];
  for (const i of instructions(text)) {
    if (i.keyword === 'FROM') out.push([]);
    out.at(-1)?.push(i);
  }
  return out;
}

/** An exec-form (JSON array) argument list, or undefined for the shell form. */
function execForm(args: string): string[] | undefined {
  try {
    const v = JSON.parse(args) as unknown;
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
  } catch {
    return undefined;
  }
}

t.test('broker image: multi-stage, distroless runtime, numeric non-root user, exec-form entrypoint', async (t) => {
  const all = stages(read('sidecar/Dockerfile'));
  t.ok(all.length >= 2, 'multi-stage');
  const [build, runtime] = [all[0]!, all.at(-1)!];
  t.match(build[0]!.args, /^node:20-bookworm-slim AS build$/i, 'built on node:20-bookworm-slim');
  const runs = build.filter((i) => i.keyword === 'RUN').map((i) => i.args).join(' && ');
  t.match(runs, /npm ci/, 'npm ci');
  t.match(runs, /npm run build/, 'npm run build');
  t.match(runs, /npm prune --omit=dev/, 'dev dependencies pruned');

  t.match(runtime[0]!.args, /^gcr\.io\/distroless\/nodejs20-debian12:nonroot$/, 'distroless Node 20 runtime');
  t.equal(runtime.filter((i) => i.keyword === 'RUN').length, 0, 'no RUN in the runtime stage: it has no shell');
  const users = runtime.filter((i) => i.keyword === 'USER');
  t.equal(users.length, 1);
  t.match(users[0]!.args, /^[1-9]\d*:[1-9]\d*$/, 'numeric UID:GID, so runAsNonRoot can verify it');
  t.equal(users[0]!.args, '15000:15000', 'the broker UID of the sidecar contract');
  t.equal(runtime.find((i) => i.keyword === 'WORKDIR')?.args, '/app');
  const copies = runtime.filter((i) => i.keyword === 'COPY').map((i) => i.args.split(/\s+/));
  t.ok(copies.every((c) => c[0] === '--from=build'), 'everything comes from the build stage');
  t.same(copies.map((c) => c[1]).sort(), ['/src/dist', '/src/node_modules', '/src/package.json'], 'only dist, node_modules and package.json');
  t.same(execForm(runtime.find((i) => i.keyword === 'ENTRYPOINT')?.args ?? ''), ['/nodejs/bin/node', '/app/dist/cli/main.js'], 'exec-form ENTRYPOINT');
  const cmd = execForm(runtime.find((i) => i.keyword === 'CMD')?.args ?? '');
  t.same(cmd, ['run', '--config', '/etc/seb/seb.yaml'], 'exec-form CMD');
  t.same(brokerContainer({ image: 'i', initImage: 'j', brokerUid: 15000, version: 'v' }, [], [])['args'], cmd, 'the injected broker runs what the image runs by default');
});

t.test('init image: Debian bookworm with its iptables (both backends, both families), the script as exec-form entrypoint', async (t) => {
  const all = stages(read('sidecar/init/Dockerfile'));
  const last = all.at(-1)!;
  t.match(last[0]!.args, /^debian:bookworm(-slim)?$/, 'a Debian bookworm base, as the broker image');
  const runs = last.filter((i) => i.keyword === 'RUN').map((i) => i.args).join(' ');
  // Debian's iptables package holds iptables and ip6tables, nft and legacy backends alike.
  t.match(runs, /apt-get install .*--no-install-recommends .*\biptables\b/, 'installs iptables from Debian');
  t.match(runs, /rm -rf \/var\/lib\/apt\/lists/, 'no package lists left in the image');
  const copy = last.find((i) => i.keyword === 'COPY')!.args.split(/\s+/);
  t.ok(copy.includes('sidecar/init/seb-init.sh'), 'the script is copied from the repository');
  const entrypoint = execForm(last.find((i) => i.keyword === 'ENTRYPOINT')?.args ?? '');
  t.same(entrypoint, ['/bin/sh', copy.at(-1)], 'exec-form ENTRYPOINT runs the copied script with POSIX sh');
});

t.test('.dockerignore keeps the build context to what the images use', async (t) => {
  const ignored = new Set(read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')));
  for (const entry of ['node_modules', 'dist', 'test', 'bench', '.git']) t.ok(ignored.has(entry), `${entry} is ignored`);
  for (const needed of ['src', 'sidecar', 'package.json', 'package-lock.json', 'tsconfig.json']) t.notOk(ignored.has(needed), `${needed} stays`);
});
