/**
 * sidecar/init/seb-init.sh, the init container's rules. These machines have no container engine,
 * so the rules are read from its dry run, and the apply path runs against stand-in
 * iptables-restore binaries that record what they are given. Every case runs under dash and
 * bash --posix (the image runs busybox ash): the script must be plain POSIX sh.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEgress } from '../../src/inject/egress.js';

const SCRIPT = fileURLToPath(new URL('../../sidecar/init/seb-init.sh', import.meta.url));
const SHELLS: readonly (readonly string[])[] = [['sh'], ['bash', '--posix']];
const dir = mkdtempSync(join(tmpdir(), 'seb-init-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(shell: readonly string[], env: Record<string, string>, path = '/usr/bin:/bin'): Run {
  const r = spawnSync(shell[0]!, [...shell.slice(1), SCRIPT], { env: { PATH: path, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The dry run's two rule sets, each as its rule lines. */
function ruleSets(stdout: string): { v4: string[]; v6: string[] } {
  const [v4, v6] = stdout.split(/^(?=# seb-init IPv6)/m);
  const rules = (s: string | undefined): string[] => (s ?? '').split('\n').filter((l) => l.startsWith('-A '));
  return { v4: rules(v4), v6: rules(v6) };
}

t.test('sh -n: the script parses', async (t) => {
  for (const shell of SHELLS) {
    const r = spawnSync(shell[0]!, [...shell.slice(1), '-n', SCRIPT], { encoding: 'utf8' });
    t.equal(r.status, 0, `${shell.join(' ')} -n: ${r.stderr}`);
  }
  t.match(readFileSync(SCRIPT, 'utf8'), /^#!\/bin\/sh\n/, 'a POSIX sh shebang');
  t.match(readFileSync(SCRIPT, 'utf8'), /^set -eu$/m, 'set -eu');
});

t.test('dry run: loopback, broker UID, replies, DNS, allow-list, then reject, in both families', async (t) => {
  for (const shell of SHELLS) {
    const r = run(shell, { SEB_INIT_DRY_RUN: '1', SEB_BROKER_UID: '15000', SEB_AGENT_EGRESS: ' 10.20.0.0/16:3128 , fd12:3456::/48:8080,192.168.7.9/32:443' });
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^\*filter$/m);
    t.equal(r.stdout.match(/^COMMIT$/gm)?.length, 2, 'two rule sets, each committed');
    const { v4, v6 } = ruleSets(r.stdout);
    t.same(v4, [
      '-A OUTPUT -j SEB_OUTPUT',
      '-A SEB_OUTPUT -o lo -j RETURN',
      '-A SEB_OUTPUT -m owner --uid-owner 15000 -j RETURN',
      '-A SEB_OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN',
      '-A SEB_OUTPUT -p udp -m udp --dport 53 -j RETURN',
      '-A SEB_OUTPUT -p tcp -m tcp --dport 53 -j RETURN',
      '-A SEB_OUTPUT -d 10.20.0.0/16 -p tcp -m tcp --dport 3128 -j RETURN',
      '-A SEB_OUTPUT -d 192.168.7.9/32 -p tcp -m tcp --dport 443 -j RETURN',
      '-A SEB_OUTPUT -p tcp -j REJECT --reject-with tcp-reset',
      '-A SEB_OUTPUT -j REJECT --reject-with icmp-port-unreachable',
    ], `${shell[0]}: IPv4 rules in order`);
    t.same(v6.slice(0, 6), v4.slice(0, 6), 'the same head for IPv6');
    t.same(v6.slice(6), [
      '-A SEB_OUTPUT -d fd12:3456::/48 -p tcp -m tcp --dport 8080 -j RETURN',
      '-A SEB_OUTPUT -p tcp -j REJECT --reject-with tcp-reset',
      '-A SEB_OUTPUT -j REJECT --reject-with icmp6-port-unreachable',
    ], `${shell[0]}: IPv6 allow-list and reject`);
  }
});

t.test('defaults: broker UID 15000, no allow-list', async (t) => {
  const r = run(['sh'], { SEB_INIT_DRY_RUN: '1' });
  t.equal(r.code, 0);
  const { v4 } = ruleSets(r.stdout);
  t.ok(v4.includes('-A SEB_OUTPUT -m owner --uid-owner 15000 -j RETURN'));
  t.equal(v4.length, 8, 'no allow rules');
  const other = ruleSets(run(['sh'], { SEB_INIT_DRY_RUN: '1', SEB_BROKER_UID: '20000' }).stdout);
  t.ok(other.v4.includes('-A SEB_OUTPUT -m owner --uid-owner 20000 -j RETURN'), 'SEB_BROKER_UID is honoured');
});

const REFUSED: readonly [string, Record<string, string>, RegExp][] = [
  ['IMDS', { SEB_AGENT_EGRESS: '169.254.169.254/32:80' }, /covers 169\.254\.169\.254/],
  ['link-local /16', { SEB_AGENT_EGRESS: '10.0.0.0/8:3128,169.254.0.0/16:80' }, /"169\.254\.0\.0\/16:80" covers 169\.254\.169\.254/],
  ['everything', { SEB_AGENT_EGRESS: '0.0.0.0/0:443' }, /covers 169\.254\.169\.254/],
  ['ECS endpoint', { SEB_AGENT_EGRESS: '169.254.170.0/28:80' }, /covers 169\.254\.170\.2/],
  ['Pod Identity agent', { SEB_AGENT_EGRESS: '169.254.170.23/32:80' }, /covers 169\.254\.170\.23/],
  ['IPv6 IMDS', { SEB_AGENT_EGRESS: 'fd00:ec2::254/128:80' }, /covers fd00:ec2::254/],
  ['IPv6 everything', { SEB_AGENT_EGRESS: '::/0:443' }, /covers fd00:ec2::254/],
  ['IPv6 fd00::/8', { SEB_AGENT_EGRESS: 'fd00::/8:443' }, /covers fd00:ec2::254/],
  ['no port', { SEB_AGENT_EGRESS: '10.0.0.0/8' }, /is not CIDR:PORT/],
  ['no prefix', { SEB_AGENT_EGRESS: '10.0.0.1:3128' }, /is not CIDR:PORT/],
  ['a host name', { SEB_AGENT_EGRESS: 'proxy.internal/32:3128' }, /not an IPv4 or hex IPv6 address/],
  ['octet 256', { SEB_AGENT_EGRESS: '10.0.0.256/32:3128' }, /not an IPv4/],
  ['leading zero', { SEB_AGENT_EGRESS: '010.0.0.1/32:3128' }, /not an IPv4/],
  ['prefix 33', { SEB_AGENT_EGRESS: '10.0.0.0/33:3128' }, /bad prefix length/],
  ['IPv6 prefix 129', { SEB_AGENT_EGRESS: 'fd12::/129:3128' }, /bad prefix length/],
  ['port 0', { SEB_AGENT_EGRESS: '10.0.0.0/8:0' }, /port must be 1-65535/],
  ['port 65536', { SEB_AGENT_EGRESS: '10.0.0.0/8:65536' }, /port must be 1-65535/],
  ['two ::', { SEB_AGENT_EGRESS: 'fd12::1::2/128:80' }, /not an IPv4 or hex IPv6/],
  ['nine groups', { SEB_AGENT_EGRESS: '1:2:3:4:5:6:7:8:9/128:80' }, /not an IPv4 or hex IPv6/],
  ['dotted IPv6 tail', { SEB_AGENT_EGRESS: '::ffff:10.0.0.1/128:80' }, /not an IPv4 or hex IPv6/],
  ['shell metacharacters', { SEB_AGENT_EGRESS: '10.0.0.0/8:80;reboot' }, /port must be 1-65535/],
  ['broker UID 0', { SEB_BROKER_UID: '0' }, /SEB_BROKER_UID must be a UID/],
  ['broker UID text', { SEB_BROKER_UID: 'root' }, /SEB_BROKER_UID must be a UID/],
  ['broker UID empty', { SEB_BROKER_UID: '' }, /SEB_BROKER_UID must be a UID/],
  ['unknown backend', { SEB_IPTABLES_BACKEND: 'ebpf' }, /SEB_IPTABLES_BACKEND must be auto, nft or legacy/],
  ['dry run value', { SEB_INIT_DRY_RUN: 'yes' }, /SEB_INIT_DRY_RUN must be 0 or 1/],
];

t.test('bad environment: exit 2 with one clear line, nothing printed or applied', async (t) => {
  for (const shell of SHELLS) {
    for (const [name, env, message] of REFUSED) {
      const r = run(shell, { SEB_INIT_DRY_RUN: '1', ...env });
      t.equal(r.code, 2, `${shell[0]} ${name}: exit 2`);
      t.match(r.stderr, message, `${shell[0]} ${name}: says why`);
      t.match(r.stderr, /^seb-init: /, `${name}: names itself`);
      t.equal(r.stdout, '', `${name}: prints no rules`);
    }
  }
});

t.test('the injector refuses exactly the allow-list entries the script refuses', async (t) => {
  const entries = [
    ...REFUSED.map(([, env]) => env['SEB_AGENT_EGRESS']).filter((e): e is string => e !== undefined),
    '10.0.0.0/8:3128', 'fd12:3456::/48:443', '169.254.170.24/32:80', '169.254.169.255/32:80', '0.0.0.0/1:443', 'fd00:ec3::/32:80', '::1/128:8080',
  ];
  for (const entry of entries) {
    const script = run(['sh'], { SEB_INIT_DRY_RUN: '1', SEB_AGENT_EGRESS: entry }).code === 0;
    let injector = true;
    try {
      parseEgress(entry);
    } catch {
      injector = false;
    }
    t.equal(injector, script, `${entry}: ${script ? 'accepted' : 'refused'} by both`);
  }
});

/** Stand-ins for the iptables binaries: each records its arguments and standard input. */
function fakeBin(name: string, script: string): void {
  const path = join(dir, 'bin', name);
  writeFileSync(path, `#!/bin/sh\n${script}\n`);
  chmodSync(path, 0o755);
}

t.test('apply: one atomic restore per family through the chosen backend', async (t) => {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  const log = join(dir, 'calls');
  const record = `printf '%s %s\\n' "$(basename "$0")" "$*" >> ${log}; cat >> ${log}; echo END >> ${log}`;
  fakeBin('xtables-nft-multi', record);
  fakeBin('xtables-legacy-multi', record);
  fakeBin('iptables-nft', 'exit 0');
  fakeBin('iptables-legacy-save', 'exit 0');
  const path = `${join(dir, 'bin')}:/usr/bin:/bin`;
  const env = { SEB_AGENT_EGRESS: '10.20.0.0/16:3128' };
  const dry = run(['sh'], { ...env, SEB_INIT_DRY_RUN: '1' }).stdout;
  const [dryV4, dryV6] = dry.split(/^(?=# seb-init IPv6)/m) as [string, string];
  const ipv6 = existsSync('/proc/net/if_inet6');

  for (const shell of SHELLS) {
    rmSync(log, { force: true });
    const r = run(shell, env, path);
    t.equal(r.code, 0, `${shell[0]}: ${r.stderr}`);
    t.match(r.stderr, /nft rules installed; only UID 15000 leaves the pod/, 'auto picks nft where it works');
    const calls = readFileSync(log, 'utf8').split('END\n').filter(Boolean);
    t.equal(calls.length, ipv6 ? 2 : 1, 'one restore per family');
    t.equal(calls[0], `xtables-nft-multi iptables-restore\n${dryV4}`, 'IPv4: the dry-run rules, in one restore');
    if (ipv6) t.equal(calls[1], `xtables-nft-multi ip6tables-restore\n${dryV6}`, 'IPv6: the dry-run rules, in one restore');
  }

  rmSync(log, { force: true });
  t.match(run(['sh'], { ...env, SEB_IPTABLES_BACKEND: 'legacy' }, path).stderr, /legacy rules installed/);
  t.match(readFileSync(log, 'utf8'), /^xtables-legacy-multi iptables-restore$/m, 'SEB_IPTABLES_BACKEND=legacy is obeyed');

  rmSync(log, { force: true });
  fakeBin('iptables-legacy-save', "echo '-A KUBE-SOMETHING -j ACCEPT'");
  t.match(run(['sh'], env, path).stderr, /legacy rules installed/, 'auto keeps to the backend already holding rules');
  fakeBin('iptables-legacy-save', 'exit 0');

  fakeBin('xtables-nft-multi', 'cat > /dev/null; echo "iptables-restore: line 9 failed" >&2; exit 1');
  const refused = run(['sh'], env, path);
  t.equal(refused.code, 1, 'a refused restore fails the init container');
  t.match(refused.stderr, /iptables-restore \(nft\) refused the rules; SEB_IPTABLES_BACKEND=nft or legacy picks the other backend/);
  t.notMatch(refused.stderr, /installed/);

  const none = run(['sh'], { ...env, SEB_IPTABLES_BACKEND: 'legacy' }, '/usr/bin:/bin');
  t.equal(none.code, 1, 'no iptables at all fails');
  t.match(none.stderr, /neither xtables-legacy-multi nor iptables-legacy-restore/);
});
