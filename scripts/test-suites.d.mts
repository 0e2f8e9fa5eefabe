// Types for scripts/test-suites.mjs, so the test that checks the split is type-checked.
export declare const ROOT: string;
export declare const PEER_HELPERS: readonly string[];
export declare const WALL_CLOCK: Readonly<Record<string, string>>;
export declare function testFiles(root?: string): string[];
export declare function testImports(file: string, root?: string): string[];
export declare function e2eReason(file: string, root?: string): string | null;
export declare function suites(root?: string): { unit: string[]; e2e: string[] };
export declare function unitGroups(root?: string): Map<string, string[]>;
export declare function writeGroupEntries(root?: string): string[];
