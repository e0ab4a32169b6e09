// A bare Hono JSON echo over the project's own mTLS transport, in its own Bun
// process: the baseline that invoke_cross_host is compared with. Prints one JSON
// line with its port and a client identity, then serves until killed.
import { Hono } from "../../lib/deps.ts";
import { deriveCA } from "../../lib/pki/ca.ts";
import { TrustStore } from "../../lib/pki/verify.ts";
import { serveHttps } from "../../lib/transport/server.ts";
import { mintIdentity } from "../support/pki.ts";

const ca = await deriveCA("bench-echo-runtime-psk-00000000000000000001");
const trust = await TrustStore.fromCAs([ca]);
const app = new Hono();
app.post("/echo", async (c) => c.json(await c.req.json()));
const server = await serveHttps({
  hostname: "127.0.0.1",
  port: 0,
  tls: { ...await mintIdentity(ca, "spiffe://francis/host/echo"), trust },
  clientCerts: "required",
  handler: (request) => app.fetch(request),
});
const client = await mintIdentity(ca, "spiffe://francis/host/client");
console.log(JSON.stringify({ port: server.port, client, caPem: ca.certPem }));
