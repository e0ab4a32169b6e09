/**
 * The worker's control server: the app's own surface, plain HTTP on loopback
 * by default. `GET /status` reports the host's identity.
 *
 * @module
 */
import http from "node:http";
import { getRequestListener, Hono } from "../lib/deps.ts";
import { errorBody, errorResponseOf } from "../lib/protocol/errors.ts";
import { splitAddress } from "../lib/transport/client.ts";
import type { ActorService } from "../lib/actor/types.ts";
import { FrancisError } from "../lib/errors.ts";
import type { HostStatus } from "./host.ts";

/** What the control server needs from the host. */
export interface ControlTarget {
  readonly status: HostStatus;
  readonly service: ActorService;
}

/** A running control server. */
export interface ControlServer {
  readonly port: number;
  close(): Promise<void>;
}

/** The control app (exported for tests). */
export function createControlApp(host: ControlTarget): Hono {
  const app = new Hono();
  app.onError((err, c) => {
    const { status, body } = errorResponseOf(err);
    return c.json(body, status as 400);
  });
  app.notFound((c) =>
    c.json(errorBody("ERR_NOT_FOUND", `No route ${c.req.method} ${c.req.path}`), 404)
  );
  app.get("/status", (c) => c.json(host.status));
  app.post("/invoke/:actorType/:actorId/:method", async (c) => {
    const { actorType, actorId, method } = c.req.param();
    const text = await c.req.text();
    let data: unknown;
    try {
      data = text === "" ? undefined : JSON.parse(text);
    } catch {
      throw new FrancisError("ERR_BAD_REQUEST", "Body is not valid JSON");
    }
    const result = await host.service.invoke(actorType, actorId, method, data);
    return c.json(result ?? null);
  });
  app.post("/halt/:actorType/:actorId", async (c) => {
    const { actorType, actorId } = c.req.param();
    await host.service.halt(actorType, actorId);
    return c.body(null, 204);
  });
  return app;
}

/** Serves the control app on `address` (`host:port`, port 0 for any). */
export async function serveControl(host: ControlTarget, address: string): Promise<ControlServer> {
  const { hostname, port } = splitAddress(address, { allowZero: true });
  const app = createControlApp(host);
  const server = http.createServer(getRequestListener(app.fetch, { overrideGlobalObjects: false }));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => resolve());
  });
  const bound = server.address();
  return {
    port: typeof bound === "object" && bound ? bound.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
