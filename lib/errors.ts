/**
 * The one error type of the project: a stable string `code` that callers can
 * `switch` on, a sentence-case message, and the original `cause`.
 *
 * @module
 */

/** Every error code the library raises, grouped by concern. */
export type ErrorCode =
  // Certificates and chains (lib/pki/verify.ts)
  | "ERR_CERT_MALFORMED"
  | "ERR_CERT_UNSUPPORTED_ALGORITHM"
  | "ERR_CERT_CHAIN_EMPTY"
  | "ERR_CERT_CHAIN_INCOMPLETE"
  | "ERR_CERT_UNTRUSTED_CA"
  | "ERR_CERT_BAD_SIGNATURE"
  | "ERR_CERT_EXPIRED"
  | "ERR_CERT_NOT_YET_VALID"
  | "ERR_CERT_LEAF_IS_CA"
  | "ERR_CERT_KEY_USAGE"
  | "ERR_CERT_EXTENDED_KEY_USAGE"
  | "ERR_CERT_SPIFFE_ID_MISSING"
  | "ERR_CERT_SPIFFE_ID_MULTIPLE"
  | "ERR_CERT_FORBIDDEN_SAN"
  | "ERR_CERT_UNKNOWN_CRITICAL_EXTENSION"
  | "ERR_CERT_WRONG_IDENTITY_KIND"
  | "ERR_CERT_WRONG_IDENTITY"
  // Issuance (lib/pki/csr.ts, lib/pki/issue.ts, lib/pki/ca.ts)
  | "ERR_CSR_MALFORMED"
  | "ERR_CSR_BAD_SIGNATURE"
  | "ERR_CSR_UNSUPPORTED_KEY"
  | "ERR_CERT_TTL_INVALID"
  | "ERR_SPIFFE_ID_INVALID"
  | "ERR_PSK_TOO_SHORT"
  | "ERR_PEM_MALFORMED"
  // Bootstrap (lib/bootstrap/)
  | "ERR_BOOTSTRAP_BAD_SERVER_PROOF"
  | "ERR_BOOTSTRAP_BAD_CLIENT_PROOF"
  | "ERR_BOOTSTRAP_BAD_NONCE"
  // Configuration (lib/config/)
  | "ERR_CONFIG_NOT_FOUND"
  | "ERR_CONFIG_PARSE"
  | "ERR_CONFIG_INVALID"
  | "ERR_CONFIG_ENV_UNSET"
  | "ERR_DURATION_INVALID"
  // The wire (lib/protocol/errors.ts maps each to an HTTP status)
  | "ERR_BAD_REQUEST"
  | "ERR_BODY_TOO_LARGE"
  | "ERR_UNSUPPORTED_MEDIA_TYPE"
  | "ERR_NOT_FOUND"
  | "ERR_METHOD_NOT_ALLOWED"
  | "ERR_UNAUTHENTICATED"
  | "ERR_FORBIDDEN"
  | "ERR_RATE_LIMITED"
  | "ERR_TIMEOUT"
  | "ERR_HOST_NOT_REGISTERED"
  | "ERR_CHALLENGE_UNKNOWN"
  | "ERR_TOKEN_INVALID"
  | "ERR_TOKEN_REPLAYED"
  | "ERR_JWKS_UNAVAILABLE"
  | "ERR_UNAVAILABLE"
  | "ERR_INTERNAL"
  // Transport and the worker's view of the runtime
  | "ERR_UNREACHABLE"
  | "ERR_BAD_RESPONSE"
  | "ERR_RUNTIME_REJECTED"
  | "ERR_PINNED_CA_MISMATCH"
  | "ERR_HOST_CONFIG"
  // The actor plane
  | "ERR_ACTOR_TYPE_UNKNOWN"
  | "ERR_ACTOR_METHOD_UNKNOWN"
  | "ERR_ACTOR_FAILED"
  | "ERR_ACTOR_REENTRANT"
  | "ERR_ACTOR_OVERLOADED"
  | "ERR_NO_HOST_FOR_TYPE"
  | "ERR_NOT_OWNER"
  | "ERR_HOST_STOPPED";

/** An error with a stable `code`; `name` is always `"FrancisError"`. */
export class FrancisError extends Error {
  /** The stable machine-readable code. */
  readonly code: ErrorCode;

  /**
   * Creates an error with a stable code.
   *
   * @param code the stable code
   * @param message a sentence-case message without a final period
   * @param options `cause`, passed through to `Error`
   */
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FrancisError";
    this.code = code;
  }
}

/** True when `err` is a {@linkcode FrancisError}, optionally with the given code. */
export function isFrancisError(err: unknown, code?: ErrorCode): err is FrancisError {
  return err instanceof FrancisError && (code === undefined || err.code === code);
}
