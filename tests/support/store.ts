// Fixtures for the Store conformance suite (tests/runtime/store.test.ts): the
// store configurations every case runs against, record builders, and SQLite
// replicas running in separate threads (real parallelism: node:sqlite is
// synchronous, so two stores in one thread never interleave).
import { join } from "node:path";
import { MemoryStore } from "../../runtime/store/memory.ts";
import { SqliteStore } from "../../runtime/store/sqlite.ts";
import type { AlarmRecord, HostRegistration, Store } from "../../runtime/store/types.ts";
import { tempDir } from "./tmp.ts";

/** Two handles on one store: `a` and `b` are the same object unless they are two replicas. */
export interface Stores {
  a: Store;
  b: Store;
  /** Both handles, for spreading calls across them. */
  all: Store[];
  /** The SQLite file, when there is one. */
  file?: string;
}

/** A store configuration the suite runs against. */
export interface Backend {
  name: string;
  sqlite: boolean;
  open(): Stores;
}

/** A fresh path for a SQLite database file. */
export function freshDbFile(): string {
  return join(tempDir("francis-store-"), "store.sqlite");
}

export const BACKENDS: Backend[] = [
  {
    name: "MemoryStore",
    sqlite: false,
    open() {
      const s = new MemoryStore();
      return { a: s, b: s, all: [s] };
    },
  },
  {
    name: "SqliteStore",
    sqlite: true,
    open() {
      const file = freshDbFile();
      const s = new SqliteStore(file);
      return { a: s, b: s, all: [s], file };
    },
  },
  {
    // Two runtime replicas sharing one database: cases write through `a` and read through `b`.
    name: "two SqliteStore replicas on one file",
    sqlite: true,
    open() {
      const file = freshDbFile();
      const a = new SqliteStore(file);
      const b = new SqliteStore(file);
      return { a, b, all: [a, b], file };
    },
  },
];

/** Opens `backend`, runs `body`, closes every handle. */
export async function withStores(backend: Backend, body: (s: Stores) => Promise<void>) {
  const stores = backend.open();
  try {
    await body(stores);
  } finally {
    for (const s of new Set(stores.all)) await s.close();
  }
}

export const T0 = 1_700_000_000_000;

/** A registration with distinct values in every field. */
export function host(hostId: string, over: Partial<HostRegistration> = {}): HostRegistration {
  return {
    hostId,
    address: `https://${hostId}.test:4433`,
    actorTypes: ["Counter", "Chat"],
    registeredAt: new Date(T0),
    lastSeenAt: new Date(T0 + 500),
    certNotAfter: new Date(T0 + 86_400_000),
    certSerial: "0a1b2c3d",
    generation: 0,
    ...over,
  };
}

export type AlarmInput = Omit<AlarmRecord, "attempts" | "version" | "firing">;

/** An alarm input with distinct values in every field. */
export function alarm(name: string, over: Partial<AlarmInput> = {}): AlarmInput {
  return {
    actorType: "Counter",
    actorId: "c-1",
    name,
    dueAt: 1_000,
    intervalMs: null,
    expiresAt: null,
    data: `{"alarm":${JSON.stringify(name)}}`,
    maxAttempts: 5,
    retryDelayMs: 250,
    ...over,
  };
}

/** What each thread did, by task. */
export interface ThreadResult {
  error?: string;
  /** place: the owner each placeActor call returned, by actor index. */
  owners?: string[];
  /** lease: names of the alarms this thread leased. */
  leased?: string[];
  /** jti: the jtis this thread consumed first. */
  consumed?: string[];
}

export type ThreadTask =
  | { kind: "open" }
  | { kind: "place"; actors: number }
  | { kind: "lease"; now: number; leaseUntil: number; limit: number }
  | { kind: "jti"; count: number; now: number };

const SQLITE_URL = new URL("../../runtime/store/sqlite.ts", import.meta.url).href;

// Plain JS: every thread opens its own SqliteStore, says it is ready, waits on a
// shared flag so all start at once, then runs its task.
const THREAD_SOURCE = `
import { SqliteStore } from ${JSON.stringify(SQLITE_URL)};
self.onmessage = async ({ data: { file, index, task, go } }) => {
  const flag = new Int32Array(go);
  let store;
  try {
    store = new SqliteStore(file);
  } catch (err) {
    self.postMessage({ ready: true });
    Atomics.wait(flag, 0, 0);
    self.postMessage({ done: { error: "open: " + err } });
    return;
  }
  self.postMessage({ ready: true });
  Atomics.wait(flag, 0, 0);
  const out = {};
  try {
    if (task.kind === "place") {
      out.owners = [];
      for (let i = 0; i < task.actors; i++) {
        out.owners.push(await store.placeActor({ actorType: "T", actorId: "a" + i }, "host-" + index));
      }
    } else if (task.kind === "lease") {
      out.leased = [];
      for (;;) {
        const got = await store.leaseDueAlarms(task.now, "owner-" + index, task.leaseUntil, task.limit);
        if (got.length === 0) break;
        out.leased.push(...got.map((a) => a.name));
      }
    } else if (task.kind === "jti") {
      out.consumed = [];
      for (let i = 0; i < task.count; i++) {
        const jti = "jti-" + i;
        if (await store.consumeJti(jti, new Date(task.now + 60000), new Date(task.now))) {
          out.consumed.push(jti);
        }
      }
    }
  } catch (err) {
    out.error = String(err);
  }
  try {
    await store.close();
  } catch (err) {
    out.error ??= "close: " + err;
  }
  self.postMessage({ done: out });
};
`;

/**
 * `size` threads, each opening its own SqliteStore per task. Started once and
 * reused (Deno type-checks the module graph of every new worker, ~1 s each).
 */
export class StoreThreads {
  readonly size: number;
  #url = URL.createObjectURL(new Blob([THREAD_SOURCE], { type: "text/javascript" }));
  #workers: Worker[];

  constructor(size: number) {
    this.size = size;
    this.#workers = Array.from({ length: size }, () => new Worker(this.#url, { type: "module" }));
  }

  /** Runs `task` on `file` in every thread, released together once all have opened it. */
  run(file: string, task: ThreadTask): Promise<ThreadResult[]> {
    const go = new SharedArrayBuffer(4);
    let ready = 0;
    return Promise.all(
      this.#workers.map((w, index) =>
        new Promise<ThreadResult>((resolve, reject) => {
          w.onerror = (e) => {
            e.preventDefault?.();
            reject(new Error(`thread ${index}: ${e.message}`));
          };
          w.onmessage = ({ data }) => {
            if (data.ready && ++ready === this.size) {
              const flag = new Int32Array(go);
              Atomics.store(flag, 0, 1);
              Atomics.notify(flag, 0);
            }
            if (data.done) resolve(data.done);
          };
          w.postMessage({ file, index, task, go });
        })
      ),
    );
  }

  /** Stops every thread. */
  close(): void {
    for (const w of this.#workers) w.terminate();
    URL.revokeObjectURL(this.#url);
  }
}
