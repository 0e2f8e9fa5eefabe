import t from 'tap';
import type { IncomingHttpHeaders } from 'node:http';
import { authenticate, authorize, type AuthConfig } from '../../../src/dev/apiserver/auth.js';
import { StatusError } from '../../../src/dev/apiserver/status.js';

const cfg: AuthConfig = {
  tokens: { 'broker-t': { user: 'broker', groups: ['ops'] }, 'agent-t': { user: 'agent', groups: [] } },
  impersonators: ['broker'],
  rbac: {
    ops: [{ verbs: ['*'], resources: ['*'] }],
    reader: [{ verbs: ['get', 'list', 'watch'], resources: ['*'] }],
    execer: [{ verbs: ['create'], resources: ['pods/exec'] }],
  },
};

/** The user name and groups `headers` authenticate as, or the Status code refusing them. */
function who(headers: IncomingHttpHeaders): string | number {
  try {
    const u = authenticate(headers, cfg);
    return `${u.name} [${u.groups.join(' ')}]${u.impersonatedBy === undefined ? '' : ` by ${u.impersonatedBy}`}`;
  } catch (e) {
    if (e instanceof StatusError) return e.code;
    throw e;
  }
}

t.test('authentication and impersonation (reference/k8s.md §4)', async (t) => {
  const cases: [string, IncomingHttpHeaders, string | number][] = [
    ['no token', {}, 401],
    ['unknown token', { authorization: 'Bearer nope' }, 401],
    ['not a bearer', { authorization: 'Basic broker-t' }, 401],
    ['inherited property name as token', { authorization: 'Bearer constructor' }, 401],
    ['plain caller', { authorization: 'Bearer agent-t' }, 'agent [system:authenticated]'],
    ['impersonator', { authorization: 'Bearer broker-t', 'impersonate-user': 'alice', 'impersonate-group': 'reader, x' }, 'alice [reader x system:authenticated] by broker'],
    ['extra only with a user', { authorization: 'Bearer broker-t', 'impersonate-extra-seb%2Fcert': 'c1' }, 400],
    ['group without user', { authorization: 'Bearer broker-t', 'impersonate-group': 'reader' }, 400],
    ['non-impersonator', { authorization: 'Bearer agent-t', 'impersonate-user': 'alice' }, 403],
  ];
  for (const [name, headers, want] of cases) t.equal(who(headers), want, name);
  const u = authenticate({ authorization: 'Bearer broker-t', 'impersonate-user': 'a', 'impersonate-extra-seb%2Fcert': 'c1' }, cfg);
  t.same(u.extra, { 'seb/cert': ['c1'] }, 'extra keys are percent-decoded');
});

t.test('RBAC by user and group, verb and resource with subresource', async (t) => {
  const user = (name: string, ...groups: string[]) => ({ name, groups, extra: {} });
  const cases: [string, ReturnType<typeof user>, string, string, boolean][] = [
    ['wildcards', user('x', 'ops'), 'delete', 'deployments', true],
    ['reader reads', user('r', 'reader'), 'get', 'secrets', true],
    ['reader cannot delete', user('r', 'reader'), 'delete', 'pods', false],
    ['exact subresource', user('e', 'execer'), 'create', 'pods/exec', true],
    ['subresource is not the resource', user('e', 'execer'), 'create', 'pods', false],
    ['nobody', user('n'), 'get', 'pods', false],
  ];
  for (const [name, u, verb, resource, want] of cases) t.equal(authorize(u, verb, resource, cfg), want, name);
});
