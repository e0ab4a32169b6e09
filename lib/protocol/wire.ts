/**
 * Wire payloads between workers and the runtime, as valibot schemas shared by
 * both ends: each side validates what it receives once, at the edge. Requests
 * are strict (unknown keys are refused); responses tolerate additions so a
 * newer runtime can serve older workers.
 *
 * Binary fields are standard base64; certificates are PEM.
 *
 * @module
 */
import { fromBase64 } from "../bytes.ts";
import { v } from "../deps.ts";
import { ACTOR_NAME_PATTERN } from "../actor/types.ts";
import { MAX_CSR_BYTES } from "../pki/csr.ts";
import { FrancisError } from "../errors.ts";

/** Runtime routes (DESIGN.md section 6). */
export const Routes = {
  health: "/healthz",
  challenge: "/v1/bootstrap/challenge",
  register: "/v1/bootstrap/register",
  self: "/v1/hosts/self",
  heartbeat: "/v1/hosts/self/health",
  renew: "/v1/certs/renew",
  placement: "/v1/placement",
  stateGet: "/v1/state/get",
  stateSet: "/v1/state/set",
  stateDelete: "/v1/state/delete",
  alarmSet: "/v1/alarms/set",
  alarmGet: "/v1/alarms/get",
  alarmDelete: "/v1/alarms/delete",
} as const;

/** Worker peer-server routes (mTLS-only). */
export const PeerRoutes = {
  ping: "/v1/peer/ping",
  invoke: "/v1/peer/invoke",
  alarm: "/v1/peer/alarm",
  halt: "/v1/peer/halt",
} as const;

/** The largest JSON body the runtime reads on a public route. */
export const MAX_RUNTIME_BODY_BYTES = 64 * 1024;
/** The largest JSON body on host routes and peer routes (state values, invocation data). */
export const MAX_PEER_BODY_BYTES = 16 * 1024 * 1024;
/** The longest bootstrap token accepted. */
export const MAX_TOKEN_CHARS = 16 * 1024;

/** Standard base64 text that decodes to `min`..`max` bytes, decoded. */
function base64Bytes(min: number, max: number) {
  return v.pipe(
    v.string(),
    v.maxLength(Math.ceil(max / 3) * 4, `must be at most ${max} bytes of base64`),
    v.regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, "must be base64"),
    v.transform(fromBase64),
    v.check(
      (b) => b.length >= min && b.length <= max,
      min === max ? `must be ${min} bytes` : `must be ${min} to ${max} bytes`,
    ),
  );
}

const address = v.pipe(
  v.string(),
  v.maxLength(262),
  v.regex(/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "must be host:port"),
);
const actorTypes = v.pipe(
  v.array(v.pipe(v.string(), v.regex(ACTOR_NAME_PATTERN, "must be an actor type name"))),
  v.maxLength(256),
);
const challengeId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{22}$/, "must be a challenge ID"));
const hostId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9._-]{1,128}$/));
const pem = v.pipe(v.string(), v.maxLength(64 * 1024), v.startsWith("-----BEGIN CERTIFICATE-----"));
const isoDate = v.pipe(v.string(), v.isoTimestamp());

/** `POST /v1/bootstrap/challenge`. */
export const ChallengeRequest = v.strictObject({ clientNonce: base64Bytes(32, 32) });
/** The runtime's answer: its nonce and its proof that it holds the host PSK. */
export const ChallengeResponse = v.object({
  challengeId,
  serverNonce: base64Bytes(32, 32),
  serverProof: base64Bytes(32, 32),
});

const registration = {
  csr: base64Bytes(1, MAX_CSR_BYTES),
  address: v.optional(address),
  actorTypes: v.optional(actorTypes, []),
};

/** `POST /v1/bootstrap/register`, PSK or JWT. */
export const RegisterRequest = v.variant("method", [
  v.strictObject({
    method: v.literal("psk"),
    challengeId,
    clientProof: base64Bytes(32, 32),
    ...registration,
  }),
  v.strictObject({
    method: v.literal("jwt"),
    token: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_TOKEN_CHARS)),
    ...registration,
  }),
]);

/** What register and renew return. */
export const CertificateGrant = v.object({
  hostId,
  spiffeId: v.string(),
  certificate: pem,
  caBundle: pem,
  notAfter: isoDate,
  healthCheckDeadlineMs: v.pipe(v.number(), v.integer(), v.minValue(1)),
});

/** `POST /v1/certs/renew`. */
export const RenewRequest = v.strictObject({ csr: base64Bytes(1, MAX_CSR_BYTES) });

/** `POST /v1/hosts/self/health`. */
export const HeartbeatRequest = v.strictObject({ actorTypes: v.optional(actorTypes) });
/**
 * The runtime's answer to a health check: when the next is due, the current trust
 * bundle, and the host's generation (when it changes, the runtime took the host's
 * placements away and the host must drop its activations).
 */
export const HeartbeatResponse = v.object({
  healthCheckDeadlineMs: v.pipe(v.number(), v.integer(), v.minValue(1)),
  caBundle: pem,
  generation: v.optional(v.pipe(v.number(), v.integer()), 0),
});

/** A host's registration (`GET /v1/hosts/self`). */
export const HostRecord = v.object({
  hostId,
  spiffeId: v.string(),
  address: v.nullable(v.string()),
  actorTypes: v.array(v.string()),
  registeredAt: isoDate,
  lastSeenAt: isoDate,
  certNotAfter: isoDate,
  caBundle: v.optional(pem),
});

const actorName = v.pipe(
  v.string(),
  v.regex(ACTOR_NAME_PATTERN, "must be 1 to 128 characters of A-Z a-z 0-9 . _ : -"),
);
const stateKey = v.pipe(v.string(), v.minLength(1), v.maxLength(256));
const json = v.unknown();
const actor = { actorType: actorName, actorId: actorName };
const positiveMs = v.pipe(
  v.number(),
  v.integer(),
  v.minValue(1),
  v.maxValue(10 * 365 * 86_400_000),
);

/** `POST /v1/placement`: which host runs this actor (placing it if needed). */
export const PlacementRequest = v.strictObject(actor);
/** The owner of an actor. */
export const PlacementResponse = v.object({ hostId, address: v.string() });

/** `POST /v1/state/get` and `/v1/state/delete`. */
export const StateKeyRequest = v.strictObject({ ...actor, key: stateKey });
/** `POST /v1/state/set`. */
export const StateSetRequest = v.strictObject({
  ...actor,
  key: stateKey,
  value: json,
  ttlMs: v.optional(positiveMs),
});
/** A state value; `found: false` when absent or expired. */
export const StateGetResponse = v.object({ found: v.boolean(), value: v.optional(json) });

/** `POST /v1/alarms/set`. */
export const AlarmSetRequest = v.strictObject({
  ...actor,
  name: actorName,
  dueTime: isoDate,
  intervalMs: v.optional(positiveMs),
  expiresAt: v.optional(isoDate),
  data: v.optional(json),
  maxAttempts: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100))),
  retryDelayMs: v.optional(positiveMs),
});
/** `POST /v1/alarms/get` and `/v1/alarms/delete`. */
export const AlarmKeyRequest = v.strictObject({ ...actor, name: actorName });
/** An alarm as stored, or null. */
export const AlarmGetResponse = v.object({
  alarm: v.nullable(v.object({
    name: v.string(),
    dueTime: isoDate,
    intervalMs: v.optional(v.number()),
    expiresAt: v.optional(isoDate),
    data: v.optional(json),
  })),
});

/** `POST /v1/peer/invoke`, host to host. `requestId` makes a retried call run at most once. */
export const PeerInvokeRequest = v.strictObject({
  requestId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{16,64}$/, "must be a request ID")),
  ...actor,
  method: actorName,
  data: v.optional(json),
});
/**
 * `POST /v1/peer/alarm`, coordinator to host. `deliveryId` names one firing: a
 * retried delivery of a firing that already ran (its first delivery timed out
 * at the sender but went on) runs at most once.
 */
export const PeerAlarmRequest = v.strictObject({
  ...actor,
  name: actorName,
  data: v.optional(json),
  deliveryId: v.optional(v.pipe(v.string(), v.maxLength(64))),
});
/** `POST /v1/peer/halt`, host to host. */
export const PeerHaltRequest = v.strictObject(actor);

/** The parsed form of a schema. */
export type Output<S extends v.GenericSchema> = v.InferOutput<S>;
/** The JSON form of a schema (what goes on the wire). */
export type Input<S extends v.GenericSchema> = v.InferInput<S>;

/**
 * Parses a payload against `schema`.
 *
 * @throws {FrancisError} `ERR_BAD_REQUEST` naming each bad field (never echoing its value)
 */
export function parseWire<S extends v.GenericSchema>(
  schema: S,
  data: unknown,
  what: string,
): v.InferOutput<S> {
  const result = v.safeParse(schema, data);
  if (result.success) return result.output;
  const problems = result.issues.slice(0, 5).map((issue) =>
    `${v.getDotPath(issue) ?? "body"}: ${issue.message.replace(/ but received .*$/s, "")}`
  );
  throw new FrancisError("ERR_BAD_REQUEST", `Invalid ${what}: ${problems.join("; ")}`);
}
