/** `p`, or a rejection after `ms`: a peer that hangs (a record sink) must not hold the broker's shutdown with it. */
export async function settleWithin(p: Promise<void>, ms: number, message: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
