/**
 * Crypto and PKI benchmarks: node:crypto (cached KeyObjects) against @noble/curves for P-256 sign,
 * verify, ECDH and key generation; AES-GCM; certificate chain verification and issuance.
 * Every rate metric `x` comes with `x.latency` (per-op percentiles in ms).
 */
import {
  aesGcmSeal,
  ecdh,
  ecdsaSign,
  ecdsaVerify,
  generateP256KeyPair,
  nobleP256,
  publicKeyFromRaw,
  rawPublicKey,
  systemRandom,
} from "../../protocol/crypto.js";
import { issueCertificate, parseCertificate, TrustStore } from "../../protocol/pki.js";
import { FIXTURE_TIME, loadFixturePki } from "../../protocol/pki-fixtures.js";
import { type BenchSuite, type Measurement, type Metric, measure, opsMetrics } from "./harness.js";

export const suite: BenchSuite = {
  name: "crypto",
  prefixes: ["crypto.", "pki."],
  async run(ctx) {
    const metrics: Metric[] = [];
    const results = new Map<string, Measurement>();
    const bench = async (name: string, n: number, fn: () => unknown, warmup?: number) => {
      if (!ctx.wants(name)) return;
      const count = Math.max(10, Math.round(n * ctx.scale));
      ctx.log(`  ${name} (n=${count})`);
      const m = await measure(fn, { n: count, ...(warmup === undefined ? {} : { warmup }) });
      results.set(name, m);
      metrics.push(...opsMetrics(name, m));
    };

    // A transcript hash-sized message, as the protocol signs.
    const message = systemRandom(32);
    const node = generateP256KeyPair();
    const nodePeer = generateP256KeyPair();
    const noble = nobleP256.generate();
    const noblePeer = nobleP256.generate();
    const nodeSig = ecdsaSign(node.privateKey, message);
    const nobleSig = nobleP256.sign(noble.secretKey, message);
    const rawNodePublic = rawPublicKey(node.publicKey);

    await bench("crypto.p256.sign.node", 20_000, () => ecdsaSign(node.privateKey, message));
    await bench("crypto.p256.sign.noble", 1_000, () => nobleP256.sign(noble.secretKey, message));
    await bench("crypto.p256.verify.node", 20_000, () => ecdsaVerify(node.publicKey, message, nodeSig));
    await bench(
      "crypto.p256.verify.noble",
      400,
      () => nobleP256.verify(noble.publicKey, message, nobleSig),
      40,
    );
    await bench("crypto.p256.verify.node.reimport", 8_000, () =>
      ecdsaVerify(publicKeyFromRaw(rawNodePublic), message, nodeSig),
    );
    await bench("crypto.ecdh.node", 10_000, () => ecdh(node.privateKey, nodePeer.publicKey));
    await bench("crypto.ecdh.noble", 300, () => nobleP256.ecdh(noble.secretKey, noblePeer.publicKey), 30);
    await bench("crypto.keygen.node", 10_000, () => generateP256KeyPair());
    await bench("crypto.keygen.noble", 1_000, () => nobleP256.generate());

    const key = systemRandom(32);
    const nonce = systemRandom(12);
    const plaintext = systemRandom(256);
    const aad = systemRandom(16);
    await bench("crypto.aesgcm.seal256B", 50_000, () => aesGcmSeal(key, nonce, plaintext, aad));

    if (ctx.wants("pki")) {
      const pki = loadFixturePki();
      // A terminal's store: the root plus the issuer CA it accepts (cached after the first leaf).
      const store = new TrustStore([pki.cert("root-ca")], [pki.cert("issuer-ca")]);
      const leaf = pki.der("cards/alice");
      await bench("pki.chain.verify", 5_000, () =>
        store.verifyChain(parseCertificate(leaf), [], { at: FIXTURE_TIME, role: "card" }),
      );
      const issuer = { certificate: pki.der("issuer-ca"), privateKey: pki.key("issuer-ca") };
      const subject = generateP256KeyPair().publicKey;
      let serial = 0x10000;
      await bench("pki.cert.issue", 300, () =>
        issueCertificate({
          role: "card",
          subjectCommonName: "W-BENCH-0001",
          publicKey: subject,
          issuer,
          serialNumber: (serial++).toString(16),
          notBefore: new Date("2025-06-01T00:00:00Z"),
          notAfter: new Date("2035-06-01T00:00:00Z"),
          attributes: { walletId: "W-BENCH-0001" },
        }),
      );
    }

    for (const op of ["p256.sign", "p256.verify", "ecdh", "keygen"]) {
      const fast = results.get(`crypto.${op}.node`);
      const slow = results.get(`crypto.${op}.noble`);
      if (fast && slow)
        ctx.note(
          `${op.padEnd(12)} node ${Math.round(fast.opsPerSecond).toLocaleString("en-US")}/s, noble ${Math.round(
            slow.opsPerSecond,
          ).toLocaleString("en-US")}/s: node/noble ${(fast.opsPerSecond / slow.opsPerSecond).toFixed(1)}×`,
        );
    }
    const cached = results.get("crypto.p256.verify.node");
    const reimport = results.get("crypto.p256.verify.node.reimport");
    if (cached && reimport)
      ctx.note(
        `verify with a cached KeyObject is ${(cached.opsPerSecond / reimport.opsPerSecond).toFixed(1)}× faster than re-importing the key each call`,
      );
    return metrics;
  },
};
