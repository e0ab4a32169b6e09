/**
 * SPIFFE identities of the cluster: `spiffe://francis/host/<hostId>` and
 * `spiffe://francis/runtime/<runtimeId>`.
 *
 * @module
 */
import { FrancisError } from "../errors.ts";

/** The trust domain every Francis identity lives in. */
export const TRUST_DOMAIN = "francis";
/** The URI SAN of every cluster CA certificate. */
export const CA_SPIFFE_ID = `spiffe://${TRUST_DOMAIN}`;

/** The two kinds of workload identity. */
export type IdentityKind = "host" | "runtime";

/** A parsed workload identity. */
export interface SpiffeIdentity {
  /** `host` or `runtime`. */
  kind: IdentityKind;
  /** The host or runtime ID (one path segment). */
  id: string;
  /** The full URI, e.g. `spiffe://francis/host/h1`. */
  uri: string;
}

// IDs become one SPIFFE path segment: no separators, no percent-encoding, no dot segments.
const ID_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/** True when `id` may be a host or runtime ID. */
export function isValidWorkloadId(id: string): boolean {
  return ID_PATTERN.test(id) && id !== "." && id !== "..";
}

/**
 * The SPIFFE URI for a workload.
 *
 * @throws {FrancisError} `ERR_SPIFFE_ID_INVALID` when `id` is not one safe path segment
 */
export function spiffeId(kind: IdentityKind, id: string): string {
  if (!isValidWorkloadId(id)) {
    throw new FrancisError(
      "ERR_SPIFFE_ID_INVALID",
      `A ${kind} ID must be 1 to 128 characters of A-Z, a-z, 0-9, ".", "_" or "-", got ${
        JSON.stringify(id)
      }`,
    );
  }
  return `spiffe://${TRUST_DOMAIN}/${kind}/${id}`;
}

/**
 * Parses a workload SPIFFE URI of this cluster.
 *
 * @throws {FrancisError} `ERR_SPIFFE_ID_INVALID` for anything but `spiffe://francis/(host|runtime)/<id>`
 */
export function parseSpiffeId(uri: string): SpiffeIdentity {
  const match = /^spiffe:\/\/francis\/(host|runtime)\/([^/?#]+)$/.exec(uri);
  if (!match || !isValidWorkloadId(match[2])) {
    throw new FrancisError(
      "ERR_SPIFFE_ID_INVALID",
      `Not a Francis workload identity: ${JSON.stringify(uri)}`,
    );
  }
  return { kind: match[1] as IdentityKind, id: match[2], uri };
}
