/**
 * Runs several test files in one process (the unit suite's groups, scripts/test-suites.mjs): a
 * process costs ~1.9 s of CPU before its first assertion (tap's runtime, its processinfo hook, tsx),
 * which over ~100 small files is most of the suite's time.
 *
 * Each file runs inside its own subtest, named by its path, and its `import t from 'tap'` is that
 * subtest (file-group-hooks.mjs points the import at file-group-tap.ts): its top-level hooks,
 * teardowns and plans end with the file, not with the group, and a failure names the file, then
 * the test. The files stay ordinary tap files, each still runnable alone with `npx tap <file>`.
 */
import { register } from 'node:module';
import t, { type Test } from 'tap';

let current: { url: string; t: Test } | undefined;

/** The subtest of the file at `url`, asked for by file-group-tap.ts while that file is imported. */
export function fileTest(url: string): Test {
  if (current?.url !== url) throw new Error(`${url} imported tap outside its own subtest`);
  return current.t;
}

/** Runs `files` (repo-relative) one after another, each in its own subtest, in this process. */
export async function runFiles(files: readonly string[]): Promise<void> {
  const urls = files.map((f) => new URL(`../../${f}`, import.meta.url).href);
  register('./file-group-hooks.mjs', import.meta.url, { data: { files: urls, tap: new URL('./file-group-tap.ts', import.meta.url).href } });
  for (const [i, file] of files.entries()) {
    const url = urls[i]!;
    await t.test(file, async (sub) => {
      current = { url, t: sub };
      try {
        await import(url);
      } finally {
        current = undefined;
      }
    });
  }
}
