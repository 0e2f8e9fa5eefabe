/**
 * A ValidatingAdmissionPolicy applied the way the apiserver applies it, with a conformant CEL
 * evaluator (@bufbuild/cel): match the request against matchConstraints (resource rules with
 * subresources, operations, objectSelector), bind `object`, `oldObject` and `request`, compute the
 * `variables` in order, and evaluate each validation. An evaluation error denies, as
 * `failurePolicy: Fail` does. JSON integers are bound as CEL ints, as the apiserver's schema types
 * them, so `runAsUser > 0` compares ints.
 */
import { isCelError, parse, plan, celEnv, type CelInput, type CelResult } from '@bufbuild/cel';

export interface PolicySpec {
  readonly failurePolicy: 'Fail' | 'Ignore';
  readonly matchConstraints: {
    readonly resourceRules: readonly { readonly apiGroups: readonly string[]; readonly operations: readonly string[]; readonly resources: readonly string[] }[];
    readonly objectSelector?: { readonly matchLabels?: Readonly<Record<string, string>> };
  };
  readonly variables?: readonly { readonly name: string; readonly expression: string }[];
  readonly validations: readonly { readonly expression: string; readonly message: string }[];
}

export interface AdmissionRequest {
  readonly operation: 'CREATE' | 'UPDATE';
  /** `ephemeralcontainers` for kubectl debug; absent for the pod itself. */
  readonly subResource?: string;
  readonly object: unknown;
  readonly oldObject?: unknown;
}

/** null: the policy does not apply to the request. Otherwise the messages of the failed validations ([] = admitted). */
export type PolicyVerdict = readonly string[] | null;

type Evaluate = (bindings: Record<string, CelInput>) => CelResult;

export function compilePolicy(spec: PolicySpec): (request: AdmissionRequest) => PolicyVerdict {
  const env = celEnv();
  const compile = (expression: string): Evaluate => plan(env, parse(expression)) as Evaluate;
  const variables = (spec.variables ?? []).map((v) => ({ name: v.name, evaluate: compile(v.expression) }));
  const validations = spec.validations.map((v) => ({ message: v.message, evaluate: compile(v.expression) }));

  return (request) => {
    if (!matches(spec, request)) return null;
    const vars = new Map<string, CelInput>();
    const bindings: Record<string, CelInput> = {
      object: toCel(request.object),
      oldObject: request.oldObject === undefined ? null : toCel(request.oldObject),
      request: toCel({ operation: request.operation, subResource: request.subResource ?? '' }),
      variables: vars,
    };
    // The apiserver evaluates a variable lazily; one that fails fails the validations that read it.
    for (const v of variables) vars.set(v.name, v.evaluate(bindings) as CelInput);
    const failed: string[] = [];
    for (const v of validations) {
      const result = v.evaluate(bindings);
      if (isCelError(result)) failed.push(`${v.message} (evaluation error: ${result.message})`);
      else if (result !== true) failed.push(v.message);
    }
    return failed;
  };
}

function matches(spec: PolicySpec, request: AdmissionRequest): boolean {
  const resource = request.subResource ? `pods/${request.subResource}` : 'pods';
  const ruled = spec.matchConstraints.resourceRules.some(
    (r) => r.apiGroups.includes('') && r.operations.includes(request.operation) && (r.resources.includes(resource) || r.resources.includes('*')),
  );
  if (!ruled) return false;
  const wanted = spec.matchConstraints.objectSelector?.matchLabels ?? {};
  const labelsOf = (o: unknown): Record<string, string> => ((o as { metadata?: { labels?: Record<string, string> } } | null)?.metadata?.labels ?? {});
  // An object selector matches when the object or the old object has the labels.
  const selected = (labels: Record<string, string>): boolean => Object.entries(wanted).every(([k, v]) => labels[k] === v);
  return selected(labelsOf(request.object)) || (request.oldObject !== undefined && selected(labelsOf(request.oldObject)));
}

function toCel(value: unknown): CelInput {
  if (Array.isArray(value)) return value.map(toCel);
  if (value !== null && typeof value === 'object') return new Map(Object.entries(value).map(([k, v]) => [k, toCel(v)]));
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  return value as CelInput;
}
