/**
 * A FIFO counting semaphore: the per-type concurrency limit of an actor host,
 * and with one permit, the turn lock of one actor.
 *
 * @module
 */

/** A first-in first-out queue whose memory follows its length, not its history. */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

/**
 * Runs functions with at most `permits` of them running at once; the others
 * wait and start in the order they called {@linkcode Semaphore.run}.
 *
 * @example Two downloads at a time
 * ```ts
 * import { Semaphore } from "./semaphore.ts";
 *
 * const limit = new Semaphore(2);
 * const urls = ["https://a.test/", "https://b.test/", "https://c.test/"];
 * await Promise.all(urls.map((url) => limit.run(() => fetch(url))));
 * ```
 */
export class Semaphore {
  readonly #permits: number;
  #running = 0;
  readonly #waiting = new Fifo<() => void>();

  /**
   * Creates a semaphore.
   *
   * @param permits how many functions may run at once: an integer of at least 1, or `Infinity`
   * @throws {RangeError} when `permits` is not such a number
   */
  constructor(permits: number) {
    if (permits !== Infinity && !(Number.isInteger(permits) && permits >= 1)) {
      throw new RangeError(`Semaphore permits must be an integer of at least 1, got ${permits}`);
    }
    this.#permits = permits;
  }

  /** How many functions are running. */
  get running(): number {
    return this.#running;
  }

  /** How many functions wait for a permit. */
  get queued(): number {
    return this.#waiting.length;
  }

  /**
   * Runs `fn` once a permit is free, in FIFO order; the permit is released when
   * `fn` settles, whether it resolves or throws. The place in the queue is taken
   * synchronously, during this call.
   *
   * @param fn the function to run
   * @returns what `fn` resolves to; rejects with what it throws
   */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#running < this.#permits) this.#running++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      this.#release();
    }
  }

  // A released permit passes straight to the oldest waiter, so a newcomer
  // never overtakes a function that was already waiting.
  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#running--;
  }
}
