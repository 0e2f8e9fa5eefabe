/**
 * The registry of `seb` subcommands (SPEC §9), in the order help lists them. cli/main.ts
 * dispatches on the longest matching path; each module owns its own flags and behaviour.
 */
import { command as authorityIssue } from './authority.js';
import { command as opCapture } from './capture.js';
import { commands as cert } from './cert.js';
import type { Command } from './command.js';
import { command as dev } from './dev.js';
import { command as digest } from './digest.js';
import { command as inject } from './inject.js';
import { command as keysGenerate } from './keys.js';
import { command as recordsVerify } from './records-verify.js';
import { command as run } from './run.js';

export const commands: readonly Command[] = [run, dev, opCapture, keysGenerate, ...cert, authorityIssue, recordsVerify, digest, inject];
