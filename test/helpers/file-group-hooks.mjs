/**
 * Module resolve hook for file-group.ts, registered once in a group's process: the grouped test
 * files' own `import ... from 'tap'` resolves to file-group-tap.ts, one instance per file (its URL
 * names the file), so the file's `t` is its subtest. Every other import, helpers' included, is left
 * alone.
 */
let files = new Set();
let tap = '';

export function initialize(data) {
  files = new Set(data.files);
  tap = data.tap;
}

export async function resolve(specifier, context, next) {
  if (specifier === 'tap' && files.has(context.parentURL)) {
    return next(`${tap}?of=${encodeURIComponent(context.parentURL)}`, context);
  }
  return next(specifier, context);
}
