// Types for test/helpers/file-group-hooks.mjs (a Node module resolve hook), for the test that calls it directly.
export declare function initialize(data: { files: readonly string[]; tap: string }): void;
export declare function resolve<T>(specifier: string, context: { parentURL?: string }, next: (specifier: string, context: { parentURL?: string }) => Promise<T>): Promise<T>;
