import { parseStrictJson } from './strict-json.js';

/**
 * A request body parsed as strict JSON at most once, and only when a stage needs it: a Kubernetes
 * create is read for its name (facts), matched by its JCS digest and given preconditions (drift),
 * which parsed the same bytes three times before.
 */
export class ParsedBody {
  #parsed = false;
  #value: unknown;
  constructor(readonly bytes: Buffer) {}

  /** Throws `unparseable_request` when the body is not strict I-JSON (SPEC §2.1). */
  json = (): unknown => {
    if (!this.#parsed) {
      this.#value = parseStrictJson(this.bytes);
      this.#parsed = true;
    }
    return this.#value;
  };
}
