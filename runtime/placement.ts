/**
 * Placement: which host runs an actor. At most one owner per actor, chosen
 * among healthy hosts that registered the actor type, spreading the load; an
 * owner that missed its health deadline loses its actors to the others.
 *
 * @module
 */
import { FrancisError } from "../lib/errors.ts";
import type { ActorKey, HostRegistration, Store } from "./store/mod.ts";

/** Where an actor runs. */
export interface Owner {
  hostId: string;
  address: string;
}

/** Placement decisions over the store. */
export class Placement {
  readonly #store: Store;
  readonly #deadlineMs: number;
  readonly #now: () => number;
  readonly #namespace: string;

  /**
   * Hosts older than `deadlineMs` since their last health check are not healthy.
   * With a `namespace` (local topology), only hosts of that namespace are swept.
   */
  constructor(store: Store, deadlineMs: number, now: () => number = Date.now, namespace = "") {
    this.#store = store;
    this.#deadlineMs = deadlineMs;
    this.#now = now;
    this.#namespace = namespace;
  }

  // A host's namespace shows in its actor types ("<namespace>/<type>"); each cluster
  // judges the health of its own hosts only, by its own deadline.
  #ours(host: HostRegistration): boolean {
    return this.#namespace === "" ||
      host.actorTypes.some((t) => t.startsWith(`${this.#namespace}/`));
  }

  /** True when `host` reported health within the deadline. */
  healthy(host: HostRegistration): boolean {
    return this.#now() - host.lastSeenAt.getTime() <= this.#deadlineMs;
  }

  /**
   * The actor's owner, placing it on the least loaded healthy host of its type
   * when it has none or its owner is no longer healthy.
   *
   * @throws {FrancisError} `ERR_NO_HOST_FOR_TYPE` when no healthy host serves the type
   */
  async resolve(key: ActorKey): Promise<Owner> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await this.#store.getPlacement(key);
      if (current !== undefined) {
        const host = await this.#store.getHost(current);
        if (host && host.address && this.healthy(host)) {
          return { hostId: host.hostId, address: host.address };
        }
      }
      const hosts = (await this.#store.listHosts()).filter((h) =>
        h.address !== null && this.healthy(h) && h.actorTypes.includes(key.actorType)
      );
      if (hosts.length === 0) {
        throw new FrancisError(
          "ERR_NO_HOST_FOR_TYPE",
          `No healthy host serves actor type ${JSON.stringify(key.actorType)}`,
        );
      }
      const counts = await this.#store.placementCounts();
      const load = (h: HostRegistration) => counts.get(h.hostId) ?? 0;
      const least = Math.min(...hosts.map(load));
      const choices = hosts.filter((h) => load(h) === least);
      const chosen = choices[Math.floor(Math.random() * choices.length)];
      // One winner even when several callers (or runtimes) race: the store decides.
      const winner = await this.#store.placeActor(key, chosen.hostId, current);
      const host = winner === chosen.hostId ? chosen : await this.#store.getHost(winner);
      if (host && host.address && this.healthy(host)) {
        return { hostId: host.hostId, address: host.address };
      }
    }
    throw new FrancisError("ERR_UNAVAILABLE", "Placement did not settle; retry");
  }

  /** Takes the actors away from every host that missed its health deadline. */
  async sweep(onRevoked: (hostId: string, actors: number) => void): Promise<void> {
    const counts = await this.#store.placementCounts();
    if (counts.size === 0) return;
    for (const host of await this.#store.listHosts()) {
      if (counts.has(host.hostId) && this.#ours(host) && !this.healthy(host)) {
        onRevoked(host.hostId, await this.#store.revokeHost(host.hostId));
      }
    }
  }
}
