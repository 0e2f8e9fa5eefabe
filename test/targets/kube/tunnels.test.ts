// Which upgrades spend their use on the 101, when a held use is given back, and which port-forward
// forms can be held to pinned ports (SPEC §2.1; issue 11 items 2, 2b, 2c).
import t from 'tap';
import { resolveRequestInfo } from '../../../src/targets/kube/request-info.js';
import { settleTunnelUse, spendsOnUpgrade, unpinnablePorts, type TunnelEnd } from '../../../src/targets/kube/tunnels.js';

const info = (method: string, path: string, query = '') => resolveRequestInfo(method, path, query);
const pods = '/api/v1/namespaces/default/pods/p1';

t.test('exec, attach and portforward spend on the 101; proxy and everything else once sent', async (t) => {
  const cases: [string, string, boolean][] = [
    ['GET', `${pods}/exec`, true],
    ['POST', `${pods}/exec`, true],
    ['POST', `${pods}/attach`, true],
    ['GET', `${pods}/portforward`, true],
    ['GET', `${pods}/proxy/healthz`, false],
    ['GET', '/api/v1/namespaces/default/services/web/proxy/x', false],
    ['GET', '/api/v1/nodes/n1/proxy/exec/default/p1/app', false],
    ['GET', '/api/v1/namespaces/default/pods/exec', false],
    ['POST', '/api/v1/namespaces/default/pods', false],
  ];
  for (const [method, path, spent] of cases) t.equal(spendsOnUpgrade(info(method, path)), spent, `${method} ${path}`);
});

t.test('a held use is given back only on a definite answer that did not upgrade, or when nothing was sent', async (t) => {
  const cases: [TunnelEnd, 'commit' | 'release'][] = [
    [{ kind: 'upgraded' }, 'commit'],
    [{ kind: 'refused', status: 400 }, 'release'],
    [{ kind: 'refused', status: 403 }, 'release'],
    [{ kind: 'failed', sent: false }, 'release'],
    [{ kind: 'failed', sent: true }, 'commit'],
  ];
  for (const [end, settle] of cases) t.equal(settleTunnelUse(end), settle, JSON.stringify(end));
});

t.test('pinned ports: only a WebSocket that offers nothing but the channel protocols', async (t) => {
  const pf = info('GET', `${pods}/portforward`, 'ports=80');
  const pinned = { ports: ['80'] };
  const cases: [string | undefined, string | undefined, boolean][] = [
    ['websocket', 'v4.channel.k8s.io', true],
    ['WebSocket', 'v4.base64.channel.k8s.io', true],
    ['websocket', 'v4.channel.k8s.io, v4.base64.channel.k8s.io', true],
    ['websocket', 'v5.channel.k8s.io, v4.channel.k8s.io, v3.channel.k8s.io, v2.channel.k8s.io, channel.k8s.io', true],
    ['websocket', 'SPDY/3.1+portforward.k8s.io', false],
    ['websocket', 'v4.channel.k8s.io, SPDY/3.1+portforward.k8s.io', false],
    ['websocket', 'portforward.k8s.io', false],
    ['websocket', 'V4.channel.k8s.io', false],
    ['websocket', undefined, false],
    ['websocket', '', false],
    ['SPDY/3.1', undefined, false],
    ['websocket, SPDY/3.1', 'v4.channel.k8s.io', false],
    [undefined, undefined, false],
  ];
  for (const [upgrade, protocols, held] of cases) {
    t.equal(unpinnablePorts(pf, pinned, upgrade, protocols) === null, held, `${upgrade} / ${protocols}`);
  }
  t.equal(unpinnablePorts(pf, {}, 'SPDY/3.1', undefined), null, 'an op without ports pins none');
  t.equal(unpinnablePorts(info('POST', `${pods}/exec`), pinned, 'SPDY/3.1', undefined), null, 'not a port-forward');
});
