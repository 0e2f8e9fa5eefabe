/**
 * Loads the configuration file (SPEC §10): strict YAML, validated in full, defaults applied, paths
 * resolved, deeply frozen, once before any listener starts. Every problem is reported as one line
 * naming the field path; unknown keys are errors at every level; types are never coerced. The only
 * I/O is reading the config file itself (loadConfigFile); parseConfig is pure.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../lib/usage-error.js';
import { deepFreeze } from './deep-freeze.js';
import { buildConfig } from './sections.js';
import { readYaml } from './strict-yaml.js';
import type { Config } from './types.js';

export { DEFAULTS } from './defaults.js';

/** A bad configuration: the CLI prints one line per problem and exits 2 (SPEC §9). */
export class ConfigError extends UsageError {}

/** Parses and validates a config text; relative paths resolve against `baseDir`. */
export function parseConfig(text: string, baseDir: string): Config {
  const problems: string[] = [];
  const root = readYaml(text, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  const config = buildConfig({ problems, baseDir }, { path: '', value: root, quiet: false });
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

/** Reads and parses a config file; every problem line is prefixed with the file's path (SPEC §9). */
export async function loadConfigFile(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  try {
    return parseConfig(text, dirname(resolve(path)));
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.problems.map((p) => `${path}: ${p}`));
    throw err;
  }
}

/** `seb run` needs a persistent record-signing key (SPEC §8); only `seb dev` makes one. */
export function requireSigningKey(config: Config): string {
  if (config.broker.signing_key === null) throw new ConfigError(['broker.signing_key: required by seb run']);
  return config.broker.signing_key;
}
