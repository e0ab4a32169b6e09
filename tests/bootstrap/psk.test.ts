import { describe, expect, test } from "bun:test";
import { fromHex, toHex, utf8 } from "../../lib/bytes.ts";
import { type ErrorCode, FrancisError } from "../../lib/errors.ts";
import {
  type BootstrapKeys,
  bootstrapTranscript,
  channelBinding,
  clientProof,
  deriveBootstrapKeys,
  deriveBootstrapSubkeyBytes,
  HOST_PSK_MIN_BYTES,
  newNonce,
  NONCE_BYTES,
  serverProof,
  verifyClientProof,
  verifyServerProof,
} from "../../lib/bootstrap/mod.ts";

// Known answers computed independently in Python (hmac, hashlib, HKDF written
// by hand per RFC 5869 and checked against its test case 3), not with this code.
const PSK = "francis-test-host-psk-0123456789";
const CLIENT_NONCE = Uint8Array.from({ length: 32 }, (_, i) => i); // 0x00..0x1f
const SERVER_NONCE = Uint8Array.from({ length: 32 }, (_, i) => 0x20 + i); // 0x20..0x3f
const CB = Uint8Array.from({ length: 32 }, (_, i) => 0x40 + i); // 0x40..0x5f
const K_CLIENT = "1516452bbb422793b42f1126a4c266fa3257913c4fde690ba7171ff1d71edbd3";
const K_SERVER = "1ed8f205191fc70b66eb5fc57f081b39949d24f52316968a1d5784fe58a65034";
const TRANSCRIPT = "00000020" + "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" +
  "00000020" + "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f" +
  "00000020" + "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f";
const SERVER_PROOF = "928c49ca4d27d38d9604031ee5253a38f997150962fb7e35047c5f9585515709";
const CLIENT_PROOF = "438a001f5b379ddc113a54d315e003edec399bd8d0cb1dc57ae8c17b48edd599";
// Eight U+00E9 (é) are 16 bytes of UTF-8 but only 8 characters.
const PSK_E_ACUTE = "\u00e9".repeat(8);
const K_CLIENT_E_ACUTE = "fa1fc377043fe61a58cbf2b0753eeda5465aa9f183d4dd389a177a3dcfe8c04c";
const K_SERVER_E_ACUTE = "835f478f7183db57d2295a4949a7ac20036cb90fa7657fd664ac7f2e51d317c8";

/** The error `run` throws or rejects with; fails the test when it succeeds. */
async function errorOf(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  throw new Error("Expected an error, but the call succeeded");
}

async function expectFrancisError(
  run: () => unknown,
  code: ErrorCode,
  message?: string,
): Promise<void> {
  const err = await errorOf(run);
  expect(err).toBeInstanceOf(FrancisError);
  expect((err as FrancisError).code).toBe(code);
  if (message !== undefined) expect((err as FrancisError).message).toBe(message);
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3] ^= 1 << (bit & 7);
  return out;
}

const keys: BootstrapKeys = await deriveBootstrapKeys(PSK);
const transcript = bootstrapTranscript(CLIENT_NONCE, SERVER_NONCE, CB);

describe("subkey derivation", () => {
  test("derives kClient and kServer with HKDF-SHA256 (known answers)", async () => {
    const raw = await deriveBootstrapSubkeyBytes(PSK);
    expect(toHex(raw.kClient)).toBe(K_CLIENT);
    expect(toHex(raw.kServer)).toBe(K_SERVER);
  });

  test("accepts 16 bytes of multi-byte UTF-8 and derives from the bytes (known answers)", async () => {
    expect(PSK_E_ACUTE.length).toBe(8);
    expect(utf8(PSK_E_ACUTE).length).toBe(HOST_PSK_MIN_BYTES);
    const raw = await deriveBootstrapSubkeyBytes(PSK_E_ACUTE);
    expect(toHex(raw.kClient)).toBe(K_CLIENT_E_ACUTE);
    expect(toHex(raw.kServer)).toBe(K_SERVER_E_ACUTE);
  });

  test("refuses a PSK of 15 bytes", async () => {
    const message = "Host bootstrap PSK must be at least 16 bytes of UTF-8, got 15";
    await expectFrancisError(
      () => deriveBootstrapSubkeyBytes("a".repeat(15)),
      "ERR_PSK_TOO_SHORT",
      message,
    );
    await expectFrancisError(
      () => deriveBootstrapKeys("a".repeat(15)),
      "ERR_PSK_TOO_SHORT",
      message,
    );
  });

  test("counts UTF-8 bytes, not characters", async () => {
    // Seven é and one "a": 8 characters, 15 bytes.
    await expectFrancisError(
      () => deriveBootstrapKeys("\u00e9".repeat(7) + "a"),
      "ERR_PSK_TOO_SHORT",
      "Host bootstrap PSK must be at least 16 bytes of UTF-8, got 15",
    );
    await expectFrancisError(
      () => deriveBootstrapKeys(""),
      "ERR_PSK_TOO_SHORT",
      "Host bootstrap PSK must be at least 16 bytes of UTF-8, got 0",
    );
  });

  test("holds the subkeys as non-extractable HMAC-SHA256 keys", () => {
    for (const key of [keys.kClient, keys.kServer]) {
      expect(key.extractable).toBe(false);
      expect(key.type).toBe("secret");
      expect(key.algorithm).toMatchObject({ name: "HMAC", hash: { name: "SHA-256" } });
      expect(key.usages).toEqual(["sign"]);
    }
  });
});

describe("nonces", () => {
  test("are 32 fresh random bytes", () => {
    const a = newNonce();
    const b = newNonce();
    expect(a.length).toBe(NONCE_BYTES);
    expect(b.length).toBe(NONCE_BYTES);
    expect(toHex(a)).not.toBe(toHex(b));
  });
});

describe("transcript", () => {
  test("frames each field with a 4-byte big-endian length (known answer)", () => {
    expect(transcript.length).toBe(3 * (4 + 32));
    expect(toHex(transcript)).toBe(TRANSCRIPT);
  });

  test("decodes back to exactly its three fields, so no two inputs share a transcript", () => {
    const view = new DataView(transcript.buffer);
    const fields: string[] = [];
    let offset = 0;
    while (offset < transcript.length) {
      const length = view.getUint32(offset, false);
      fields.push(toHex(transcript.subarray(offset + 4, offset + 4 + length)));
      offset += 4 + length;
    }
    expect(offset).toBe(transcript.length);
    expect(fields).toEqual([toHex(CLIENT_NONCE), toHex(SERVER_NONCE), toHex(CB)]);
  });

  test("changes when bytes shift between fields or fields swap roles", async () => {
    // The same 96 bytes split 31/33 or 33/31 cannot be framed at all, let alone identically.
    const all = new Uint8Array([...CLIENT_NONCE, ...SERVER_NONCE]);
    for (const cut of [31, 33]) {
      await expectFrancisError(
        () => bootstrapTranscript(all.subarray(0, cut), all.subarray(cut), CB),
        "ERR_BOOTSTRAP_BAD_NONCE",
        `Client nonce must be 32 bytes, got ${cut}`,
      );
    }
    // Swapping client and server nonces gives a different transcript.
    expect(toHex(bootstrapTranscript(SERVER_NONCE, CLIENT_NONCE, CB))).not.toBe(TRANSCRIPT);
    // Moving one byte from the end of the client nonce to the start of the server
    // nonce (keeping both 32 bytes) changes the framed bytes too.
    const shiftedClient = new Uint8Array([0xff, ...CLIENT_NONCE.subarray(0, 31)]);
    const shiftedServer = new Uint8Array([CLIENT_NONCE[31], ...SERVER_NONCE.subarray(0, 31)]);
    expect(toHex(bootstrapTranscript(shiftedClient, shiftedServer, CB))).not.toBe(TRANSCRIPT);
  });

  test("refuses nonces and channel bindings of the wrong length", async () => {
    const cases: [Uint8Array, Uint8Array, Uint8Array, string][] = [
      [new Uint8Array(31), SERVER_NONCE, CB, "Client nonce must be 32 bytes, got 31"],
      [new Uint8Array(33), SERVER_NONCE, CB, "Client nonce must be 32 bytes, got 33"],
      [new Uint8Array(0), SERVER_NONCE, CB, "Client nonce must be 32 bytes, got 0"],
      [CLIENT_NONCE, new Uint8Array(16), CB, "Server nonce must be 32 bytes, got 16"],
      [CLIENT_NONCE, new Uint8Array(64), CB, "Server nonce must be 32 bytes, got 64"],
      [CLIENT_NONCE, SERVER_NONCE, new Uint8Array(31), "Channel binding must be 32 bytes, got 31"],
      [CLIENT_NONCE, SERVER_NONCE, new Uint8Array(48), "Channel binding must be 32 bytes, got 48"],
    ];
    for (const [clientNonce, serverNonce, cb, message] of cases) {
      await expectFrancisError(
        () => bootstrapTranscript(clientNonce, serverNonce, cb),
        "ERR_BOOTSTRAP_BAD_NONCE",
        message,
      );
    }
  });
});

describe("proofs", () => {
  test("are HMAC-SHA256 of the transcript under kServer and kClient (known answers)", async () => {
    expect(toHex(await serverProof(keys, transcript))).toBe(SERVER_PROOF);
    expect(toHex(await clientProof(keys, transcript))).toBe(CLIENT_PROOF);
  });

  test("verify when computed from the same PSK, nonces and channel binding", async () => {
    await verifyServerProof(keys, transcript, fromHex(SERVER_PROOF));
    await verifyClientProof(keys, transcript, fromHex(CLIENT_PROOF));
    // Keys derived separately on each side agree.
    const otherSide = await deriveBootstrapKeys(PSK);
    await verifyServerProof(otherSide, transcript, await serverProof(keys, transcript));
    await verifyClientProof(otherSide, transcript, await clientProof(keys, transcript));
  });

  test("rejects a server proof reflected back as a client proof, and the reverse", async () => {
    await expectFrancisError(
      () => verifyClientProof(keys, transcript, fromHex(SERVER_PROOF)),
      "ERR_BOOTSTRAP_BAD_CLIENT_PROOF",
      "Client bootstrap proof does not match",
    );
    await expectFrancisError(
      () => verifyServerProof(keys, transcript, fromHex(CLIENT_PROOF)),
      "ERR_BOOTSTRAP_BAD_SERVER_PROOF",
      "Server bootstrap proof does not match",
    );
  });

  test("rejects a proof with any single bit flipped", async () => {
    for (let bit = 0; bit < 256; bit++) {
      await expectFrancisError(
        () => verifyServerProof(keys, transcript, flipBit(fromHex(SERVER_PROOF), bit)),
        "ERR_BOOTSTRAP_BAD_SERVER_PROOF",
      );
      await expectFrancisError(
        () => verifyClientProof(keys, transcript, flipBit(fromHex(CLIENT_PROOF), bit)),
        "ERR_BOOTSTRAP_BAD_CLIENT_PROOF",
      );
    }
  });

  test("rejects a truncated, extended or empty proof", async () => {
    const server = fromHex(SERVER_PROOF);
    const client = fromHex(CLIENT_PROOF);
    const badServer = [
      server.subarray(0, 31),
      server.subarray(0, 16),
      new Uint8Array(0),
      new Uint8Array([...server, 0x00]),
    ];
    const badClient = [
      client.subarray(0, 31),
      new Uint8Array(0),
      new Uint8Array([...client, 0x00]),
    ];
    for (const proof of badServer) {
      await expectFrancisError(
        () => verifyServerProof(keys, transcript, proof),
        "ERR_BOOTSTRAP_BAD_SERVER_PROOF",
      );
    }
    for (const proof of badClient) {
      await expectFrancisError(
        () => verifyClientProof(keys, transcript, proof),
        "ERR_BOOTSTRAP_BAD_CLIENT_PROOF",
      );
    }
  });

  test("rejects a proof relayed through a TLS terminating proxy (different channel binding)", async () => {
    // The runtime binds to its own certificate; the worker sees the relay's.
    const runtimeCb = await channelBinding(utf8("runtime leaf certificate DER"));
    const relayCb = await channelBinding(utf8("relay leaf certificate DER"));
    const runtimeSide = bootstrapTranscript(CLIENT_NONCE, SERVER_NONCE, runtimeCb);
    const workerSide = bootstrapTranscript(CLIENT_NONCE, SERVER_NONCE, relayCb);
    await expectFrancisError(
      async () => verifyServerProof(keys, workerSide, await serverProof(keys, runtimeSide)),
      "ERR_BOOTSTRAP_BAD_SERVER_PROOF",
    );
    await expectFrancisError(
      async () => verifyClientProof(keys, runtimeSide, await clientProof(keys, workerSide)),
      "ERR_BOOTSTRAP_BAD_CLIENT_PROOF",
    );
  });

  test("rejects a proof replayed into a challenge with a different nonce", async () => {
    const fresh = bootstrapTranscript(CLIENT_NONCE, newNonce(), CB);
    await expectFrancisError(
      () => verifyClientProof(keys, fresh, fromHex(CLIENT_PROOF)),
      "ERR_BOOTSTRAP_BAD_CLIENT_PROOF",
    );
    await expectFrancisError(
      () =>
        verifyServerProof(
          keys,
          bootstrapTranscript(newNonce(), SERVER_NONCE, CB),
          fromHex(SERVER_PROOF),
        ),
      "ERR_BOOTSTRAP_BAD_SERVER_PROOF",
    );
  });

  test("rejects proofs made with a different PSK", async () => {
    const other = await deriveBootstrapKeys("francis-other-host-psk-987654321");
    await expectFrancisError(
      async () => verifyServerProof(keys, transcript, await serverProof(other, transcript)),
      "ERR_BOOTSTRAP_BAD_SERVER_PROOF",
    );
    await expectFrancisError(
      async () => verifyClientProof(keys, transcript, await clientProof(other, transcript)),
      "ERR_BOOTSTRAP_BAD_CLIENT_PROOF",
    );
  });
});
