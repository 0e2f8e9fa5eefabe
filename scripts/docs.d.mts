// Types for scripts/docs.mjs, so the test that keeps docs/reference current is type-checked.
export declare const ROOT: string;
export declare const OUT: string;
export declare const SOURCES: Readonly<Record<string, string>>;
export declare function loadSources(base: URL): Promise<Record<string, unknown>>;
export declare function table(rows: readonly Record<string, unknown>[], columns?: readonly string[]): string;
export declare function wrap(items: readonly string[]): string;
export declare function renderPages(sources: Record<string, unknown>): Promise<Record<string, string>>;
