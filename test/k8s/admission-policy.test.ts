// The ValidatingAdmissionPolicy seb-require-broker, rendered from k8s/ with kubectl 1.32 and
// evaluated with a conformant CEL engine (admission-policy.ts): every pod the injector makes and
// the static overlay's pod are admitted; a labelled pod that misses any SPEC §11 invariant is
// refused with the rule's message; ephemeral containers (kubectl debug), which the injector never
// sees, are held to the agent rules and may not target the broker.
import t from 'tap';
import { readFileSync } from 'node:fs';
import * as contract from '../../src/inject/contract.js';
import { injectPod } from '../../src/inject/inject.js';
import type { InjectOptions } from '../../src/inject/settings.js';
import { applyPatch } from '../inject/apply-patch.js';
import { compilePolicy, type AdmissionRequest, type PolicySpec } from './admission-policy.js';
import { get, render } from './render.js';

/** Pods are plain JSON trees here, reached into freely; each case edits its own copy. */
type Pod = any;

const OPTIONS: InjectOptions = { ...contract.defaultImages('0.1.0'), brokerUid: contract.DEFAULT_BROKER_UID, version: '0.1.0' };
const objects = await render('overlays/static');
const policy = compilePolicy(get(objects, 'ValidatingAdmissionPolicy', 'seb-require-broker')['spec'] as PolicySpec);
const MESSAGES = {
  init: /^seb: initContainers\[0\] must be seb-init/,
  sidecar: /^seb: initContainers\[1\] must be the seb-broker native sidecar/,
  automount: /^seb: automountServiceAccountToken must be false/,
  namespaces: /^seb: hostNetwork, hostPID, hostIPC and shareProcessNamespace are refused/,
  uid: /^seb: every agent and ephemeral container must run as an explicit UID other than 0 and 15000/,
  privileged: /^seb: agent and ephemeral containers must not be privileged/,
  capabilities: /^seb: agent and ephemeral containers may add no capability but NET_BIND_SERVICE/,
  mounts: /^seb: agent and ephemeral containers must not mount a service-account token or the broker's key/,
  target: /^seb: an ephemeral container must not target seb-broker or seb-init/,
  images: /^seb: the images of seb-init and seb-broker cannot change/,
};

function fixturePod(name: string): Pod {
  const review = JSON.parse(readFileSync(new URL(`../fixtures/inject/${name}`, import.meta.url), 'utf8')) as { request: { object: Pod } };
  return review.request.object;
}

/** The pod as it will run: the fixture with the injector's patch applied. */
function injected(name: string): Pod {
  const pod = fixturePod(name);
  const result = injectPod(pod, OPTIONS);
  if ('denied' in result) throw new Error(`the injector refused ${name}: ${result.denied}`);
  return applyPatch(pod, result.patch);
}

const create = (object: Pod): AdmissionRequest => ({ operation: 'CREATE', object });
const edited = (pod: Pod, edit: (p: Pod) => void): Pod => {
  const copy = structuredClone(pod);
  edit(copy);
  return copy;
};
const agentOf = (pod: Pod): Pod => pod.spec.containers[0];
const brokerOf = (pod: Pod): Pod => pod.spec.initContainers.find((c: Pod) => c.name === contract.BROKER_CONTAINER);

t.test('what the injector makes, and the static overlay, are admitted', async (t) => {
  for (const name of ['plain.json', 'irsa.json', 'pod-identity.json', 'kube-api-access.json', 'multi-container.json', 'reinvoked.json']) {
    t.same(policy(create(injected(name))), [], name);
  }
  const template = (get(objects, 'Deployment', 'agent', 'agents')['spec'] as { template: Pod }).template;
  t.same(policy(create({ apiVersion: 'v1', kind: 'Pod', ...template })), [], 'the static overlay pod template');
  const pod = injected('plain.json');
  t.same(policy({ operation: 'UPDATE', object: edited(pod, (p) => (p.metadata.labels.extra = 'x')), oldObject: pod }), [], 'an update that keeps the images');
});

t.test('pods the policy does not select', async (t) => {
  const unlabelled = edited(fixturePod('plain.json'), (p) => delete p.metadata.labels[contract.INJECT_LABEL]);
  t.equal(policy(create(unlabelled)), null, 'a pod without the label');
  t.equal(policy(create(edited(unlabelled, (p) => (p.metadata.labels[contract.INJECT_LABEL] = 'false')))), null, 'a pod labelled "false"');
});

t.test('a labelled pod that misses an invariant is refused, with the rule that says why', async (t) => {
  const pod = injected('plain.json');
  const cases: [string, Pod, RegExp][] = [
    ['not injected at all', fixturePod('plain.json'), MESSAGES.init],
    ['seb-init moved after the broker', edited(pod, (p) => p.spec.initContainers.reverse()), MESSAGES.init],
    ['the broker is not a native sidecar', edited(pod, (p) => delete brokerOf(p).restartPolicy), MESSAGES.sidecar],
    ['automount on', edited(pod, (p) => (p.spec.automountServiceAccountToken = true)), MESSAGES.automount],
    ['automount unset', edited(pod, (p) => delete p.spec.automountServiceAccountToken), MESSAGES.automount],
    ['hostNetwork', edited(pod, (p) => (p.spec.hostNetwork = true)), MESSAGES.namespaces],
    ['shareProcessNamespace', edited(pod, (p) => (p.spec.shareProcessNamespace = true)), MESSAGES.namespaces],
    ['an agent as root', edited(pod, (p) => (agentOf(p).securityContext.runAsUser = 0)), MESSAGES.uid],
    ['an agent as the broker UID', edited(pod, (p) => (agentOf(p).securityContext.runAsUser = contract.DEFAULT_BROKER_UID)), MESSAGES.uid],
    ['an agent with no UID anywhere', edited(pod, (p) => (delete agentOf(p).securityContext.runAsUser, delete p.spec.securityContext?.runAsUser)), MESSAGES.uid],
    ['a privileged agent', edited(pod, (p) => (agentOf(p).securityContext.privileged = true)), MESSAGES.privileged],
    ['an agent with NET_ADMIN', edited(pod, (p) => (agentOf(p).securityContext.capabilities = { add: ['NET_ADMIN'] })), MESSAGES.capabilities],
    ['an agent mounting the signing key', edited(pod, (p) => agentOf(p).volumeMounts.push({ name: contract.VOLUMES.signingKey, mountPath: '/k' })), MESSAGES.mounts],
    ['an agent mounting the broker token', edited(pod, (p) => agentOf(p).volumeMounts.push({ name: contract.VOLUMES.kubeToken, mountPath: '/t' })), MESSAGES.mounts],
    [
      'an agent mounting a service-account token of its own',
      edited(pod, (p) => {
        p.spec.volumes.push({ name: 'mine', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } });
        agentOf(p).volumeMounts.push({ name: 'mine', mountPath: '/mine' });
      }),
      MESSAGES.mounts,
    ],
    ['the client dir writable', edited(pod, (p) => agentOf(p).volumeMounts.forEach((m: Pod) => m.name === contract.VOLUMES.client && delete m.readOnly)), MESSAGES.mounts],
  ];
  for (const [name, object, message] of cases) {
    const failed = policy(create(object));
    t.ok(failed !== null && failed.length > 0 && failed.some((m) => message.test(m)), `${name}: refused (${failed?.join(' | ')})`);
    t.ok(failed?.every((m) => !m.includes('evaluation error')), `${name}: by the rule, not by an evaluation error`);
  }
  const updated = edited(pod, (p) => (brokerOf(p).image = 'example.com/not-seb:latest'));
  t.match(policy({ operation: 'UPDATE', object: updated, oldObject: pod }), [MESSAGES.images], 'the broker image changed on update');
});

t.test('ephemeral containers (kubectl debug) are held to the agent rules', async (t) => {
  const pod = injected('plain.json');
  const debug = (container: Pod): AdmissionRequest => ({
    operation: 'UPDATE',
    subResource: 'ephemeralcontainers',
    object: edited(pod, (p) => (p.spec.ephemeralContainers = [{ name: 'debugger', image: 'busybox', ...container }])),
    oldObject: pod,
  });
  t.same(policy(debug({ securityContext: { runAsUser: 1000 } })), [], 'a debug container as an agent UID');
  t.same(policy(debug({ securityContext: { runAsUser: 1000 }, targetContainerName: agentOf(pod).name })), [], 'targeting an agent container');
  const refused: [string, Pod, RegExp][] = [
    ['kubectl debug with no profile (the image picks the UID)', {}, MESSAGES.uid],
    ['as root', { securityContext: { runAsUser: 0 } }, MESSAGES.uid],
    ['--profile=sysadmin', { securityContext: { runAsUser: 1000, privileged: true } }, MESSAGES.privileged],
    ['--profile=netadmin', { securityContext: { runAsUser: 1000, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } } }, MESSAGES.capabilities],
    ['targeting the broker', { securityContext: { runAsUser: 1000 }, targetContainerName: contract.BROKER_CONTAINER }, MESSAGES.target],
    ['mounting the signing key', { securityContext: { runAsUser: 1000 }, volumeMounts: [{ name: contract.VOLUMES.signingKey, mountPath: '/k' }] }, MESSAGES.mounts],
  ];
  for (const [name, container, message] of refused) t.match(policy(debug(container)), [message], name);
});
