import t from 'tap';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { INSTALL_HINTS, requirePeer } from './peers.js';

t.test('a command on PATH resolves to its absolute path', async (t) => {
  const node = requirePeer('node', 'install Node.js');
  t.ok(isAbsolute(node));
  t.match(node, /node$/);
});

t.test('a missing command fails with the install hint, never skips', async (t) => {
  t.throws(() => requirePeer('seb-no-such-peer', INSTALL_HINTS.moto_server), {
    message: "seb-no-such-peer is not installed: pip install 'moto[server]'",
  });
});

t.test('a pyenv shim resolves to the executable it runs, asked once', async (t) => {
  const dir = t.testdir({ shims: {}, tool: '' });
  const pyenv = join(dir, 'pyenv');
  const asked = join(dir, 'asked');
  // What pyenv's shims look like (`pyenv rehash` writes them); the fake pyenv counts its calls.
  writeFileSync(pyenv, `#!/bin/sh\necho "$PYENV_ROOT $*" >> '${asked}'\necho '${join(dir, 'tool')}'\n`);
  const shim = join(dir, 'shims', 'seb-shimmed-tool');
  writeFileSync(shim, `#!/usr/bin/env bash\nset -e\nprogram="\${0##*/}"\nexport PYENV_ROOT="${dir}"\nexec "${pyenv}" exec "$program" "$@"\n`);
  chmodSync(pyenv, 0o755);
  chmodSync(shim, 0o755);
  const path = process.env['PATH'];
  process.env['PATH'] = join(dir, 'shims');
  t.teardown(() => void (process.env['PATH'] = path));
  t.equal(requirePeer('seb-shimmed-tool', 'none'), join(dir, 'tool'));
  t.equal(requirePeer('seb-shimmed-tool', 'none'), join(dir, 'tool'));
  t.equal(readFileSync(asked, 'utf8'), `${dir} which seb-shimmed-tool\n`, 'pyenv asked once, under the shim\'s root');
});
