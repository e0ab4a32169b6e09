import { afterAll, describe, expect, test } from "bun:test";
import { deriveCA } from "../../lib/pki/ca.ts";
import { type ExpectedIdentity, TrustStore } from "../../lib/pki/verify.ts";
import { MtlsClient } from "../../lib/transport/client.ts";
import { type HttpsServer, type RequestContext, serveHttps } from "../../lib/transport/server.ts";
import { isFrancisError } from "../../lib/errors.ts";
import { mintIdentity } from "../support/pki.ts";

const ca = await deriveCA("transport-test-runtime-psk-00000000001");
const foreignCA = await deriveCA("transport-test-FOREIGN-psk-0000000001");
const trust = await TrustStore.fromCAs([ca]);
const serverId = await mintIdentity(ca, "spiffe://francis/host/server");
const clientId = await mintIdentity(ca, "spiffe://francis/host/client");
const foreignId = await mintIdentity(foreignCA, "spiffe://francis/host/client");

function describePeer(ctx: RequestContext) {
  return {
    peer: ctx.peer?.spiffeId ?? null,
    error: ctx.peerError?.code ?? null,
    remote: ctx.remoteAddress,
  };
}

const servers: HttpsServer[] = [];
async function start(clientCerts: "optional" | "required", id = serverId) {
  const server = await serveHttps({
    hostname: "127.0.0.1",
    port: 0,
    tls: { ...id, trust },
    clientCerts,
    handler: (_req, ctx) => Response.json(describePeer(ctx)),
  });
  servers.push(server);
  return server;
}
afterAll(async () => {
  for (const s of servers) await s.close(100);
});

const expectServer = { kind: "host" as const, id: "server" };

/** `GET /` of `server` (or of an address) through `client`, expecting the server to be `expect`. */
function get(
  client: MtlsClient,
  server: HttpsServer | string,
  expect: ExpectedIdentity = expectServer,
) {
  const address = typeof server === "string" ? server : `127.0.0.1:${server.port}`;
  return client.request(address, { method: "GET", path: "/", expect });
}

async function failure(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e) => e);
  if (!isFrancisError(err)) throw new Error(`expected a FrancisError, got ${err}`);
  return err.code;
}

describe("optional client certificates", () => {
  test("tells the handler who a verified client is", async () => {
    const server = await start("optional");
    const client = new MtlsClient({ identity: clientId, trust });
    const r = await get(client, server);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      peer: "spiffe://francis/host/client",
      error: null,
      remote: "127.0.0.1",
    });
    client.close();
  });

  test("serves a client without a certificate, with no peer", async () => {
    const server = await start("optional");
    const client = new MtlsClient({ trust });
    const r = await get(client, server);
    expect(r.body).toMatchObject({ peer: null, error: null });
    client.close();
  });

  test("reports a foreign-CA client certificate as refused", async () => {
    const server = await start("optional");
    const client = new MtlsClient({ identity: foreignId, trust });
    const r = await get(client, server);
    expect(r.body).toMatchObject({ peer: null, error: "ERR_CERT_UNTRUSTED_CA" });
    client.close();
  });

  test("refuses a certificate that expired on a kept-alive connection at its next request", async () => {
    const server = await start("optional");
    const shortLived = await mintIdentity(ca, "spiffe://francis/host/client", 2_000);
    const client = new MtlsClient({ identity: shortLived, trust });
    const address = `127.0.0.1:${server.port}`;
    const wait = shortLived.notAfter.getTime() - Date.now();
    if (wait > 1000) await new Promise((r) => setTimeout(r, wait - 1000));
    const before = await get(client, address);
    expect(before.body).toMatchObject({ peer: "spiffe://francis/host/client" });
    await new Promise((r) => setTimeout(r, shortLived.notAfter.getTime() - Date.now() + 50));
    const after = await get(client, address);
    expect(after.body).toMatchObject({ peer: null, error: "ERR_CERT_EXPIRED" });
    expect(client.handshakes).toBe(1); // the same connection
    client.close();
  });
});

describe("required client certificates (mTLS-only)", () => {
  test("answers a client with a cluster certificate", async () => {
    const server = await start("required");
    const client = new MtlsClient({ identity: clientId, trust });
    const r = await get(client, server);
    expect(r.body).toMatchObject({ peer: "spiffe://francis/host/client" });
    client.close();
  });

  test("gives no HTTP answer to a client without a certificate", async () => {
    const server = await start("required");
    const client = new MtlsClient({ trust });
    const code = await failure(get(client, server));
    expect(code).toBe("ERR_UNREACHABLE");
    client.close();
  });

  test("gives no HTTP answer to a client with a foreign-CA certificate", async () => {
    const server = await start("required");
    const client = new MtlsClient({ identity: foreignId, trust });
    const code = await failure(get(client, server));
    expect(code).toBe("ERR_UNREACHABLE");
    client.close();
  });
});

describe("the client checks who the server is", () => {
  test("refuses a server whose certificate names another host", async () => {
    const server = await start("optional");
    const client = new MtlsClient({ identity: clientId, trust });
    const code = await failure(get(client, server, { kind: "host", id: "someone-else" }));
    expect(code).toBe("ERR_CERT_WRONG_IDENTITY");
    client.close();
  });

  test("refuses a server whose certificate is of a CA it does not trust", async () => {
    const server = await start("optional");
    const client = new MtlsClient({
      identity: clientId,
      trust: await TrustStore.fromCAs([foreignCA]),
    });
    const code = await failure(get(client, server));
    expect(code).toBe("ERR_CERT_UNTRUSTED_CA");
    client.close();
  });

  test("reuses one connection for many requests", async () => {
    const server = await start("required");
    const client = new MtlsClient({ identity: clientId, trust, maxSockets: 4 });
    const address = `127.0.0.1:${server.port}`;
    for (let i = 0; i < 30; i++) {
      await get(client, address);
    }
    expect(client.handshakes).toBe(1);
    client.close();
  });
});

describe("live certificate swap", () => {
  test("new connections see the new certificate after updateTls", async () => {
    const server = await start("required");
    const renamed = await mintIdentity(ca, "spiffe://francis/host/renamed");
    const address = `127.0.0.1:${server.port}`;
    server.updateTls({ ...renamed, trust });
    const client = new MtlsClient({ identity: clientId, trust });
    const r = await get(client, address, { kind: "host", id: "renamed" });
    expect(r.status).toBe(200);
    client.close();
  });

  test("a client whose CA was removed from the server's trust is refused on its next connection", async () => {
    const server = await start("required");
    const address = `127.0.0.1:${server.port}`;
    const bothTrust = await TrustStore.fromCAs([foreignCA, ca]);
    server.updateTls({ ...serverId, trust: bothTrust });
    const oldCAClient = new MtlsClient({ identity: clientId, trust });
    expect((await get(oldCAClient, address)).status).toBe(200);
    oldCAClient.close();
    const serverOnForeign = await mintIdentity(foreignCA, "spiffe://francis/host/server");
    server.updateTls({ ...serverOnForeign, trust: await TrustStore.fromCAs([foreignCA]) });
    const again = new MtlsClient({ identity: clientId, trust: bothTrust });
    expect(await failure(get(again, address))).toBe("ERR_UNREACHABLE");
    again.close();
  });
});

describe("graceful close", () => {
  test("closes idle keep-alive connections at once", async () => {
    const server = await start("required");
    const client = new MtlsClient({ identity: clientId, trust });
    await get(client, server);
    const t0 = performance.now();
    await server.close(5_000);
    expect(performance.now() - t0).toBeLessThan(2_000);
    client.close();
  });
});
