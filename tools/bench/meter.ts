/**
 * Per-operation cost inside XS from the xsnap meter, as ../shared/design.md prescribes:
 * each measured command calls gc() first and runs N operations; the differences against a
 * command running 0 give compute and heap slots per operation. The same figure must come
 * out for N/2, or a collection fell inside the window and the figure is discarded.
 */
import type { XsWorker } from "../runtime/xs/worker.js";

export interface OpCost {
  /** XS compute units per operation. */
  compute: number;
  /** Heap slots allocated per operation. */
  slots: number;
  /** The N/2 window agreed with the N window. */
  consistent: boolean;
  n: number;
}

/** Operations run before measuring, by default. */
export const WARMUP = 2000;

/** Measures `op(n)` on the worker: warm-up, then windows of 0, n/2 and n operations. */
export async function measure(worker: XsWorker, op: string, n = 1000, warmup = WARMUP): Promise<OpCost> {
  await worker.call(op, warmup);
  const at = async (k: number) => (await worker.call(op, k)).meter;
  const zero = await at(0);
  const half = await at(n / 2);
  const full = await at(n);
  const per = (m: { compute: number; currentHeapCount: number }, k: number) => ({
    compute: (m.compute - zero.compute) / k,
    slots: (m.currentHeapCount - zero.currentHeapCount) / k,
  });
  const a = per(half, n / 2);
  const b = per(full, n);
  return {
    compute: Math.round(b.compute * 10) / 10,
    slots: Math.round(b.slots * 100) / 100,
    consistent: Math.abs(a.slots - b.slots) < 0.01 && Math.abs(a.compute - b.compute) <= 0.02 * b.compute + 1,
    n,
  };
}
