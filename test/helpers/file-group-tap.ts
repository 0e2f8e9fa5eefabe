/**
 * What `import t from 'tap'` gives a test file run in a group (file-group.ts): one instance of this
 * module per file (file-group-hooks.mjs adds the file to the URL), whose default export is that
 * file's own subtest rather than the process's root test.
 */
import { fileTest } from './file-group.js';

export * from 'tap';
export default fileTest(new URL(import.meta.url).searchParams.get('of') ?? '');
