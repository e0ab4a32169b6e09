/**
 * The wire form of errors, shared by the runtime and the worker:
 * `{"error": {"code": "...", "message": "..."}}` with an HTTP status.
 *
 * @module
 */
import { type ErrorCode, FrancisError } from "../errors.ts";

/** The JSON body of every error response. */
export interface ErrorBody {
  /** The error. */
  error: { code: ErrorCode; message: string };
}

// Certificate and proof failures are authentication failures; everything a
// client sent wrong is a 4xx; only our own faults are 5xx.
const STATUS: Partial<Record<ErrorCode, number>> = {
  ERR_BAD_REQUEST: 400,
  ERR_CSR_MALFORMED: 400,
  ERR_CSR_UNSUPPORTED_KEY: 400,
  ERR_CSR_BAD_SIGNATURE: 400,
  ERR_BOOTSTRAP_BAD_NONCE: 400,
  ERR_SPIFFE_ID_INVALID: 400,
  ERR_UNAUTHENTICATED: 401,
  ERR_BOOTSTRAP_BAD_CLIENT_PROOF: 401,
  ERR_CHALLENGE_UNKNOWN: 401,
  ERR_TOKEN_INVALID: 401,
  ERR_TOKEN_REPLAYED: 401,
  ERR_FORBIDDEN: 403,
  ERR_NOT_FOUND: 404,
  ERR_HOST_NOT_REGISTERED: 404,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_TIMEOUT: 408,
  ERR_BODY_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_RATE_LIMITED: 429,
  ERR_ACTOR_TYPE_UNKNOWN: 404,
  ERR_ACTOR_METHOD_UNKNOWN: 404,
  ERR_NO_HOST_FOR_TYPE: 404,
  ERR_NOT_OWNER: 409,
  ERR_ACTOR_FAILED: 422,
  ERR_ACTOR_REENTRANT: 422,
  ERR_ACTOR_OVERLOADED: 503,
  ERR_HOST_STOPPED: 503,
  ERR_INTERNAL: 500,
  ERR_BAD_RESPONSE: 502,
  ERR_UNREACHABLE: 503,
  ERR_JWKS_UNAVAILABLE: 503,
  ERR_UNAVAILABLE: 503,
};

/** The HTTP status for an error code: 401 for certificate failures, 500 for anything unmapped. */
export function statusOf(code: ErrorCode): number {
  return STATUS[code] ?? (code.startsWith("ERR_CERT_") ? 401 : 500);
}

/** The error body for `code` and `message`. */
export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}

/** Status and body for any thrown value: a FrancisError keeps its code, anything else is internal. */
export function errorResponseOf(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof FrancisError) {
    return { status: statusOf(err.code), body: errorBody(err.code, err.message) };
  }
  return { status: 500, body: errorBody("ERR_INTERNAL", "Internal error") };
}
