/** What every authority source (file, URL, ConfigMap) shares with the starter in source.ts. */
import type { Authority } from './state.js';

export interface AuthoritySource {
  close(): Promise<void>;
}

/** Where a source hands each state it fetched. */
export type StateSink = Pick<Authority, 'offer'>;

/** A source could not fetch (unreachable, bad status, missing key, ...); the current state stays. */
export type Problem = (detail: string) => void;
