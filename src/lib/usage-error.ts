/** Bad flags, arguments or config: each line names one problem; the process exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}
