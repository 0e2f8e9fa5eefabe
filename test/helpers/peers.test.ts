import t from 'tap';
import { isAbsolute } from 'node:path';
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
