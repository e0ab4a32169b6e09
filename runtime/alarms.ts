/**
 * The alarm scheduler: leases due alarms from the store, delivers each to the
 * owning host's peer server with the runtime's own identity, retries failed
 * deliveries with backoff up to the alarm's max attempts, and repeats by
 * interval until the alarm expires. Leases make it safe to run on several
 * runtimes at once and across restarts.
 *
 * @module
 */
import type { Logger } from "../lib/log.ts";
import { PeerRoutes } from "../lib/protocol/mod.ts";
import type { MtlsClient } from "../lib/transport/client.ts";
import type { Placement } from "./placement.ts";
import { namespaced } from "./coordination.ts";
import type { AlarmRecord, Store } from "./store/mod.ts";

function prefixLength(namespace: string | undefined): number {
  return namespace ? namespaced(namespace, "").length : 0;
}

/** Scheduler settings. */
export interface SchedulerOptions {
  store: Store;
  placement: Placement;
  /** The runtime's client, with its certificate. */
  client: () => MtlsClient;
  pollIntervalMs: number;
  leaseDurationMs: number;
  /** Names this runtime process's leases. */
  owner: string;
  logger: Logger;
  /** Only alarms of this namespace (local topology); "" or absent for all. */
  namespace?: string;
  /** Extra work each tick (the health sweep). */
  onTick?: () => Promise<void>;
}

/** When a delivered alarm is due next, or null when it is done. */
export function nextDue(alarm: AlarmRecord, now: number): number | null {
  if (alarm.intervalMs === null) return null;
  const periods = Math.max(1, Math.ceil((now - alarm.dueAt) / alarm.intervalMs));
  const next = alarm.dueAt + periods * alarm.intervalMs;
  return alarm.expiresAt !== null && next > alarm.expiresAt ? null : next;
}

/** Runs alarms until stopped. */
export class AlarmScheduler {
  readonly #o: SchedulerOptions;
  #timer?: ReturnType<typeof setTimeout>;
  #running?: Promise<void>;
  #stopped = false;

  /** A scheduler; nothing runs until {@linkcode AlarmScheduler.start}. */
  constructor(options: SchedulerOptions) {
    this.#o = options;
  }

  /** Starts polling. */
  start(): void {
    const loop = () => {
      if (this.#stopped) return;
      this.#running = this.tick().catch((err) =>
        this.#o.logger.error("alarm tick failed", { error: String(err) })
      ).finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(loop, this.#o.pollIntervalMs);
      });
    };
    loop();
  }

  /** Stops polling and waits for the deliveries in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** One poll: the extra work, then every due alarm delivered (up to 256 at a time). */
  async tick(): Promise<void> {
    await this.#o.onTick?.();
    const now = Date.now();
    const prefix = this.#o.namespace ? namespaced(this.#o.namespace, "") : "";
    const due = await this.#o.store.leaseDueAlarms(
      now,
      this.#o.owner,
      now + this.#o.leaseDurationMs,
      256,
      prefix,
    );
    await Promise.all(due.map((alarm) => this.#deliver(alarm)));
  }

  async #deliver(alarm: AlarmRecord): Promise<void> {
    const { store, logger } = this.#o;
    const key = { actorType: alarm.actorType, actorId: alarm.actorId };
    try {
      const owner = await this.#o.placement.resolve(key);
      const res = await this.#o.client().request(owner.address, {
        method: "POST",
        path: PeerRoutes.alarm,
        body: {
          actorType: alarm.actorType.slice(prefixLength(this.#o.namespace)),
          actorId: alarm.actorId,
          name: alarm.name,
          data: JSON.parse(alarm.data),
          deliveryId: `${alarm.version}.${alarm.firing}`,
        },
        expect: { kind: "host", id: owner.hostId },
        timeoutMs: this.#o.leaseDurationMs / 2,
      });
      if (res.status < 200 || res.status >= 300) {
        const error = (res.body as { error?: { code?: string; message?: string } })?.error;
        throw new Error(
          `${owner.hostId} answered ${res.status} ${error?.code ?? ""} ${error?.message ?? ""}`,
        );
      }
      await store.completeAlarm(alarm, nextDue(alarm, Date.now()));
    } catch (err) {
      const attempt = alarm.attempts + 1;
      const fields = {
        actorType: alarm.actorType,
        actorId: alarm.actorId,
        alarm: alarm.name,
        attempt,
      };
      if (attempt < alarm.maxAttempts) {
        logger.warn("alarm delivery failed, will retry", { ...fields, error: String(err) });
        await store.failAlarm(alarm, Date.now() + alarm.retryDelayMs * 2 ** alarm.attempts);
      } else {
        const next = nextDue(alarm, Date.now());
        logger.error("alarm delivery failed for good", {
          ...fields,
          error: String(err),
          repeats: next !== null,
        });
        if (next === null) await store.failAlarm(alarm, null);
        else await store.completeAlarm(alarm, next);
      }
    }
  }
}
