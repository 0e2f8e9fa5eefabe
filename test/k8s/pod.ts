/** The parts of a rendered pod spec the manifest tests read, and the few facts they derive from it. */
import type { K8sObject } from './render.js';

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
}
export interface Mount {
  readonly name: string;
  readonly mountPath: string;
  readonly readOnly?: boolean;
}
export interface SecurityContext {
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly runAsNonRoot?: boolean;
  readonly privileged?: boolean;
  readonly readOnlyRootFilesystem?: boolean;
  readonly allowPrivilegeEscalation?: boolean;
  readonly capabilities?: { readonly add?: readonly string[]; readonly drop?: readonly string[] };
  readonly seccompProfile?: { readonly type: string };
}
export interface Probe {
  readonly httpGet?: { readonly path: string; readonly port: number | string; readonly scheme?: string };
}
export interface Container {
  readonly name: string;
  readonly image: string;
  readonly args?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly restartPolicy?: string;
  readonly securityContext?: SecurityContext;
  readonly volumeMounts?: readonly Mount[];
  readonly ports?: readonly { readonly name?: string; readonly containerPort: number }[];
  readonly startupProbe?: Probe;
  readonly readinessProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly resources?: { readonly requests?: Record<string, string>; readonly limits?: Record<string, string> };
}
export interface Volume {
  readonly name: string;
  readonly configMap?: { readonly name: string; readonly items?: readonly { key: string; path: string }[] };
  readonly secret?: { readonly secretName: string; readonly defaultMode?: number; readonly items?: readonly { key: string; path: string }[] };
  readonly emptyDir?: { readonly medium?: string };
  readonly projected?: { readonly sources: readonly Record<string, unknown>[] };
  readonly hostPath?: { readonly path: string };
}
export interface PodSpec {
  readonly serviceAccountName?: string;
  readonly automountServiceAccountToken?: boolean;
  readonly hostNetwork?: boolean;
  readonly securityContext?: SecurityContext & { readonly fsGroup?: number };
  readonly initContainers?: readonly Container[];
  readonly containers: readonly Container[];
  readonly volumes?: readonly Volume[];
}
export interface PodTemplate {
  readonly metadata: { readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly spec: PodSpec;
}

export function templateOf(workload: K8sObject): PodTemplate {
  return (workload['spec'] as { template: PodTemplate }).template;
}

export function allContainers(spec: PodSpec): Container[] {
  return [...(spec.initContainers ?? []), ...spec.containers];
}

/** The UID a container runs as when the spec says so (container first, then pod); null: the image decides. */
export function effectiveUid(c: Container, spec: PodSpec): number | null {
  return c.securityContext?.runAsUser ?? spec.securityContext?.runAsUser ?? null;
}

export function envOf(c: Container): Record<string, string | undefined> {
  return Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
}

export function mountsOf(c: Container, volume: string): Mount[] {
  return (c.volumeMounts ?? []).filter((m) => m.name === volume);
}
