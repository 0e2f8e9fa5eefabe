/**
 * Renders a kustomization under k8s/ with the real kubectl 1.32 (its embedded kustomize v5), and
 * reads the objects back. A missing kubectl fails with the install hint (test/helpers/kubectl.ts).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { kubectl } from '../helpers/kubectl.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const K8S = join(ROOT, 'k8s');

/** A rendered object: only the fields the tests read are typed. */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly [field: string]: unknown;
}

export async function render(dir: string): Promise<K8sObject[]> {
  const out = await kubectl(['kustomize', join(K8S, dir)]);
  if (out.code !== 0) throw new Error(`kubectl kustomize k8s/${dir} failed (exit ${out.code}): ${out.stderr.trim()}`);
  const docs = parseAllDocuments(out.stdout);
  for (const doc of docs) if (doc.errors.length > 0) throw new Error(`k8s/${dir}: ${doc.errors[0]!.message}`);
  return docs.map((d) => d.toJS() as K8sObject).filter((o) => o !== null);
}

/** Every folder under k8s/ whose kustomization.yaml is a Kustomization (components render only inside one). */
export function kustomizations(): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name === 'kustomization.yaml' && (parse(readFileSync(path, 'utf8')) as { kind?: string }).kind === 'Kustomization') {
        found.push(relative(K8S, dir));
      }
    }
  };
  walk(K8S);
  return found.sort();
}

export function find(objects: readonly K8sObject[], kind: string, name: string, namespace?: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name && (namespace === undefined || o.metadata.namespace === namespace));
}

export function get(objects: readonly K8sObject[], kind: string, name: string, namespace?: string): K8sObject {
  const o = find(objects, kind, name, namespace);
  if (!o) throw new Error(`no ${kind} ${namespace ? `${namespace}/` : ''}${name} in the rendered objects`);
  return o;
}
