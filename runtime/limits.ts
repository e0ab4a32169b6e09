/**
 * Limits on the public bootstrap routes: failed attempts per source address,
 * and outstanding challenges, so that guessing or flooding costs the attacker
 * more than it costs the runtime.
 *
 * @module
 */

/** Counts failures per source in a sliding window and blocks a source past the limit. */
export class FailureLimiter {
  #failures = new Map<string, number[]>();
  readonly #max: number;
  readonly #windowMs: number;

  /** At most `max` failures per source within `windowMs`. */
  constructor(max = 10, windowMs = 60_000) {
    this.#max = max;
    this.#windowMs = windowMs;
  }

  #recent(source: string, now: number): number[] {
    const list = (this.#failures.get(source) ?? []).filter((t) => now - t < this.#windowMs);
    if (list.length === 0) this.#failures.delete(source);
    else this.#failures.set(source, list);
    return list;
  }

  /** Milliseconds until `source` may try again, or 0 when it may now. */
  retryAfter(source: string, now: number = Date.now()): number {
    const list = this.#recent(source, now);
    return list.length >= this.#max ? this.#windowMs - (now - list[0]) : 0;
  }

  /** Records a failed attempt from `source`. */
  fail(source: string, now: number = Date.now()): void {
    const list = this.#recent(source, now);
    list.push(now);
    this.#failures.set(source, list);
    if (this.#failures.size > 100_000) this.#sweep(now);
  }

  #sweep(now: number): void {
    for (const source of [...this.#failures.keys()]) this.#recent(source, now);
  }
}
