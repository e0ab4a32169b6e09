// A meddler in the middle for bootstrap tests: a TLS-terminating relay that
// presents its own certificate to the client, opens its own TLS connection to
// the real target (accepting whatever certificate it shows) and pipes the
// decrypted bytes both ways. Nothing is altered: only the TLS sessions differ.
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import type { TlsIdentity } from "../../lib/transport/server.ts";

/** A running relay. */
export interface Relay {
  /** `127.0.0.1:<port>`: point the client here. */
  readonly address: string;
  /** Client connections whose TLS handshake with the relay completed. */
  readonly accepted: number;
  /** Upstream connections whose TLS handshake with the target completed. */
  readonly upstream: number;
  /** Bytes relayed from the client to the target. */
  readonly bytesToTarget: number;
  /** Bytes relayed from the target to the client. */
  readonly bytesToClient: number;
  /** Stops listening and cuts every relayed connection. */
  close(): Promise<void>;
}

/** Starts a relay on 127.0.0.1 that presents `identity` and forwards to `target` (`host:port`). */
export async function startRelay(target: string, identity: TlsIdentity): Promise<Relay> {
  const [targetHost, targetPort] = target.split(":");
  const sockets = new Set<tls.TLSSocket>();
  let accepted = 0;
  let upstream = 0;
  let bytesToTarget = 0;
  let bytesToClient = 0;

  const server = tls.createServer({
    cert: identity.certPem,
    key: identity.keyPem,
    minVersion: "TLSv1.3",
  }, (client) => {
    accepted++;
    const remote = tls.connect({
      host: targetHost,
      port: Number(targetPort),
      servername: "",
      // The relay does not care who the target is: it only wants the bytes.
      rejectUnauthorized: false,
      minVersion: "TLSv1.3",
    }, () => upstream++);
    sockets.add(client);
    sockets.add(remote);
    const end = () => {
      client.destroy();
      remote.destroy();
      sockets.delete(client);
      sockets.delete(remote);
    };
    client.on("data", (chunk: Uint8Array) => {
      bytesToTarget += chunk.length;
      remote.write(chunk);
    });
    remote.on("data", (chunk: Uint8Array) => {
      bytesToClient += chunk.length;
      client.write(chunk);
    });
    for (const s of [client, remote]) {
      s.on("error", end);
      s.on("close", end);
      s.on("end", end);
    }
  });
  // A client that refuses the relay's certificate aborts the handshake: not our problem.
  server.on("tlsClientError", () => {});
  server.on("error", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;

  return {
    address: `127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    get upstream() {
      return upstream;
    },
    get bytesToTarget() {
      return bytesToTarget;
    },
    get bytesToClient() {
      return bytesToClient;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        sockets.clear();
        server.close(() => resolve());
      }),
  };
}
