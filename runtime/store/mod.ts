/**
 * Opens the store named by `provider.connectionString`.
 *
 * @module
 */
import type { ProviderConfig } from "../../lib/config/mod.ts";
import { FrancisError } from "../../lib/errors.ts";
import { MemoryStore } from "./memory.ts";
import { SqliteStore } from "./sqlite.ts";
import type { Store } from "./types.ts";

export type { ActorKey, AlarmRecord, HostRegistration, Store } from "./types.ts";
export { MemoryStore } from "./memory.ts";
export { SqliteStore } from "./sqlite.ts";

/** The store for `provider`. */
export function openStore(provider: ProviderConfig): Store {
  switch (provider.kind) {
    case "memory":
      return new MemoryStore();
    case "sqlite":
      return new SqliteStore(provider.path);
    case "postgres":
      throw new FrancisError(
        "ERR_CONFIG_INVALID",
        "provider.connectionString: PostgreSQL is not supported yet; use a SQLite path or memory",
      );
  }
}
