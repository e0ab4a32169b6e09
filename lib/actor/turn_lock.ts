/**
 * The turn lock of one actor: invocations, alarms and deactivation run one at
 * a time, in the order they arrived.
 *
 * @module
 */
import { Semaphore } from "./semaphore.ts";

/**
 * A FIFO lock: {@linkcode TurnLock.run} runs one function at a time, in call
 * order; a function that throws releases the lock like one that returns. Waiters
 * are held in a queue, not a promise chain, so memory follows the queue length.
 *
 * @example Serialize read-modify-write on shared state
 * ```ts
 * import { TurnLock } from "./turn_lock.ts";
 *
 * const lock = new TurnLock();
 * let count = 0;
 * const increment = () =>
 *   lock.run(async () => {
 *     const read = count;
 *     await new Promise((resolve) => setTimeout(resolve, 1));
 *     count = read + 1;
 *   });
 * await Promise.all([increment(), increment(), increment()]);
 * console.log(count); // 3
 * ```
 */
export class TurnLock extends Semaphore {
  /** Creates an unlocked lock. */
  constructor() {
    super(1);
  }

  /** True while a turn runs (waiting turns take over without the lock going idle). */
  get busy(): boolean {
    return this.running > 0;
  }
}
