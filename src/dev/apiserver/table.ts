import type { ResourceDef } from './resources.js';
import { badRequest } from './status.js';
import type { KubeObject } from './store.js';

/**
 * Server-side printing (`meta.k8s.io/v1 Table`): kubectl get asks for it in its Accept header and
 * prints the server's columns (READY, UP-TO-DATE...) as on a real cluster; without it kubectl falls
 * back to NAME and AGE only. Columns follow the apiserver's printers
 * (pkg/printers/internalversion/printers.go) for the resources the stand-in serves.
 */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((a) => {
    const params = new Set(a.split(';').map((p) => p.trim()));
    return params.has('as=Table') && params.has('g=meta.k8s.io') && params.has('v=v1');
  });
}

interface Column {
  readonly name: string;
  readonly type: 'string' | 'integer';
  readonly cell: (o: KubeObject) => string | number;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const field = (o: KubeObject, ...path: string[]): unknown => path.reduce<unknown>((cur, k) => (cur as Record<string, unknown> | undefined)?.[k], o);

const COLUMNS: Readonly<Record<string, readonly Column[]>> = {
  namespaces: [{ name: 'Status', type: 'string', cell: (o) => String(field(o, 'status', 'phase') ?? '') }],
  pods: [
    {
      name: 'Ready',
      type: 'string',
      cell: (o) => {
        const cs = (field(o, 'status', 'containerStatuses') ?? []) as { ready?: boolean }[];
        return `${cs.filter((c) => c.ready === true).length}/${((field(o, 'spec', 'containers') ?? []) as unknown[]).length}`;
      },
    },
    { name: 'Status', type: 'string', cell: (o) => String(field(o, 'status', 'phase') ?? '') },
    { name: 'Restarts', type: 'string', cell: () => '0' },
  ],
  configmaps: [{ name: 'Data', type: 'integer', cell: (o) => Object.keys((o['data'] ?? {}) as object).length + Object.keys((o['binaryData'] ?? {}) as object).length }],
  secrets: [
    { name: 'Type', type: 'string', cell: (o) => String(o['type'] ?? 'Opaque') },
    { name: 'Data', type: 'integer', cell: (o) => Object.keys((o['data'] ?? {}) as object).length },
  ],
  services: [
    { name: 'Type', type: 'string', cell: (o) => String(field(o, 'spec', 'type') ?? 'ClusterIP') },
    { name: 'Cluster-IP', type: 'string', cell: (o) => String(field(o, 'spec', 'clusterIP') ?? '<none>') },
  ],
  serviceaccounts: [{ name: 'Secrets', type: 'integer', cell: (o) => ((o['secrets'] ?? []) as unknown[]).length }],
  deployments: [
    { name: 'Ready', type: 'string', cell: (o) => `${num(field(o, 'status', 'readyReplicas'))}/${num(field(o, 'spec', 'replicas'))}` },
    { name: 'Up-to-date', type: 'integer', cell: (o) => num(field(o, 'status', 'updatedReplicas')) },
    { name: 'Available', type: 'integer', cell: (o) => num(field(o, 'status', 'availableReplicas')) },
  ],
};

/** `includeObject`: None, Metadata (the default, a PartialObjectMetadata) or Object. */
export function includeObjectOf(query: URLSearchParams): string {
  const include = query.get('includeObject') ?? 'Metadata';
  if (!['None', 'Metadata', 'Object'].includes(include)) throw badRequest(`includeObject: Unsupported value: "${include}"`);
  return include;
}

export function toTable(def: ResourceDef, objects: readonly KubeObject[], listMeta: Record<string, unknown>, include: string, now: Date): Record<string, unknown> {
  const extra = COLUMNS[def.resource] ?? [];
  const columns = [
    { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
    ...extra.map((c) => ({ name: c.name, type: c.type, format: '', description: '', priority: 0 })),
    { name: 'Age', type: 'string', format: '', description: 'CreationTimestamp of the object.', priority: 0 },
  ];
  const rows = objects.map((o) => ({
    cells: [String(o.metadata['name']), ...extra.map((c) => c.cell(o)), age(String(o.metadata['creationTimestamp'] ?? ''), now)],
    object:
      include === 'Object'
        ? o
        : include === 'Metadata'
          ? { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata }
          : null,
  }));
  return { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: listMeta, columnDefinitions: columns, rows };
}

/** kubectl's short duration (`duration.HumanDuration`, coarsened): 42s, 5m, 3h, 2d. */
function age(created: string, now: Date): string {
  const s = Math.max(0, Math.floor((now.getTime() - Date.parse(created)) / 1000));
  if (Number.isNaN(s)) return '<unknown>';
  if (s < 120) return `${s}s`;
  if (s < 2 * 3600) return `${Math.floor(s / 60)}m`;
  if (s < 2 * 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
