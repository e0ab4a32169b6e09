/**
 * Outstanding PSK bootstrap challenges: single use, expiring after 30 s,
 * bounded in number overall and per source.
 *
 * @module
 */
import { toBase64 } from "../lib/bytes.ts";

interface Challenge {
  transcript: Uint8Array;
  expiresAt: number;
  source: string;
}

/** A challenge ID: 16 random bytes, base64url without padding (22 characters). */
function newChallengeId(): string {
  return toBase64(crypto.getRandomValues(new Uint8Array(16)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The runtime's outstanding challenges (in memory: a challenge lives 30 s, on one runtime). */
export class ChallengeStore {
  #challenges = new Map<string, Challenge>();
  #perSource = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #maxPerSource: number;

  /** Challenges live `ttlMs`; at most `max` outstanding, `maxPerSource` per source address. */
  constructor(ttlMs = 30_000, max = 20_000, maxPerSource = 1_000) {
    this.#ttlMs = ttlMs;
    this.#max = max;
    this.#maxPerSource = maxPerSource;
  }

  /** Stores a challenge and returns its ID, or `undefined` when the limits are reached. */
  create(source: string, transcript: Uint8Array, now: number = Date.now()): string | undefined {
    this.#sweep(now);
    const count = this.#perSource.get(source) ?? 0;
    if (this.#challenges.size >= this.#max || count >= this.#maxPerSource) return undefined;
    const id = newChallengeId();
    this.#challenges.set(id, { transcript, expiresAt: now + this.#ttlMs, source });
    this.#perSource.set(source, count + 1);
    return id;
  }

  // Single use: a challenge is removed when first presented, whatever the outcome,
  // so a captured or replayed proof can never be checked against it again.
  /** Removes and returns the challenge `id` if it exists and has not expired. */
  take(id: string, now: number = Date.now()): { transcript: Uint8Array } | undefined {
    const challenge = this.#challenges.get(id);
    if (!challenge) return undefined;
    this.#remove(id, challenge);
    return challenge.expiresAt > now ? { transcript: challenge.transcript } : undefined;
  }

  /** How many challenges are outstanding. */
  get size(): number {
    return this.#challenges.size;
  }

  #remove(id: string, challenge: Challenge): void {
    this.#challenges.delete(id);
    const left = (this.#perSource.get(challenge.source) ?? 1) - 1;
    if (left > 0) this.#perSource.set(challenge.source, left);
    else this.#perSource.delete(challenge.source);
  }

  #sweep(now: number): void {
    // Map iteration is in insertion order, so expired challenges are at the front.
    for (const [id, challenge] of this.#challenges) {
      if (challenge.expiresAt > now) break;
      this.#remove(id, challenge);
    }
  }
}
