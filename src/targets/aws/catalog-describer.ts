/**
 * The shape of a service's precise model (catalog-*.ts), apart from the catalog that picks one, so
 * the models and the catalog do not import each other.
 */
import { unparseable } from '../../reasons.js';
import type { ArnTemplate, Permission } from './types.js';

/** The primary resource and the session-policy statements of one request. */
export interface Scope {
  readonly resource: ArnTemplate;
  readonly permissions: readonly Permission[];
}

/**
 * A service's precise model: the scope of `operation` given the request's input (the form fields
 * of a query request, the body of a json request), or `undefined` to fall back to the generic
 * action-on-`*` rule. Throws `unparseable` when the input cannot be scoped exactly.
 */
export type Describer = (
  operation: string,
  region: string | null,
  input: Readonly<Record<string, unknown>>,
) => Scope | undefined;

/** The string field `name` of a request's input, if it is one; other types are refused. */
export function stringField(input: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const value = Object.hasOwn(input, name) ? input[name] : undefined;
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw unparseable(`${name} must be a string`);
  return value;
}
