/**
 * Reading request bodies at the edge, the same way on the runtime and on peer
 * servers: capped in size, JSON objects only.
 *
 * @module
 */
import { concatBytes } from "../bytes.ts";
import { FrancisError } from "../errors.ts";

/**
 * The request body as a JSON object, read with a size cap whether or not the
 * client sent a content-length; `optional` accepts an empty body as `{}`.
 *
 * @throws {FrancisError} `ERR_BODY_TOO_LARGE`, `ERR_UNSUPPORTED_MEDIA_TYPE`, `ERR_BAD_REQUEST`
 */
export async function readJsonBody(
  request: Request,
  limit: number,
  optional = false,
): Promise<Record<string, unknown>> {
  const text = await readBody(request, limit);
  if (optional && text === "") return {};
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new FrancisError("ERR_UNSUPPORTED_MEDIA_TYPE", "Body must be application/json");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new FrancisError("ERR_BAD_REQUEST", "Body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FrancisError("ERR_BAD_REQUEST", "Body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

async function readBody(request: Request, limit: number): Promise<string> {
  const tooLarge = () => new FrancisError("ERR_BODY_TOO_LARGE", `Body larger than ${limit} bytes`);
  if (Number(request.headers.get("content-length") ?? 0) > limit) throw tooLarge();
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return new TextDecoder("utf-8", { fatal: false }).decode(concatBytes(...chunks));
}
