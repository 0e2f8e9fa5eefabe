/** Waits until `cond` holds, for at most `ms`, checking every few milliseconds; answers whether it held. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 5_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return cond();
}
