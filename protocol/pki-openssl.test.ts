/**
 * Interop with the real `openssl` CLI: it must accept what we issue, and we must accept what it
 * issues (and refuse what it refuses).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { codeOf } from "../test-support/errors.js";
import { type Certificate, certificateFromPem, parseCertificate, ROLE_OIDS, TrustStore } from "./pki.js";
import { loadFixturePki } from "./pki-fixtures.js";

const pki = loadFixturePki();
const tmp = mkdtempSync(join(tmpdir(), "tapwallet-openssl-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const file = (name: string) => join(pki.dir, name);
const certFile = (name: string) => file(pki.index.certificates[name]!.cert);
/** openssl verify evaluates at FIXTURE_TIME, like the TrustStore tests. */
const attime = String(Math.floor(pki.at.getTime() / 1000));

function openssl(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync("openssl", args, { encoding: "utf8" });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

/** `openssl verify -CAfile root -untrusted <its chain> leaf`, at FIXTURE_TIME. */
function opensslVerify(name: string, extra: string[] = []): { ok: boolean; out: string } {
  const chain = pki.index.certificates[name]!.chain.filter((n) => !pki.index.certificates[n]!.trusted);
  const untrusted = join(tmp, `${name.replaceAll("/", "_")}.chain.pem`);
  writeFileSync(untrusted, chain.map((n) => readFileSync(certFile(n), "utf8")).join(""));
  const args = ["verify", "-attime", attime, "-CAfile", certFile("root-ca"), ...extra];
  if (chain.length > 0) args.push("-untrusted", untrusted);
  return openssl([...args, certFile(name)]);
}

describe("openssl accepts what we issue", () => {
  const good = Object.entries(pki.index.certificates)
    .filter(([, e]) => e.expect.result === "ok")
    .map(([name]) => name);

  it.each(good)("openssl verify accepts %s", (name) => {
    const r = opensslVerify(name);
    expect(r.out).toContain(": OK");
    expect(r.ok).toBe(true);
  });

  it("openssl verify refuses the expired, not-yet-valid, leaf-issued and rogue certificates", () => {
    expect(opensslVerify("cards/expired").out).toContain("certificate has expired");
    expect(opensslVerify("terminals/expired").out).toContain("certificate has expired");
    expect(opensslVerify("cards/not-yet-valid").out).toContain("certificate is not yet valid");
    expect(opensslVerify("cards/signed-by-leaf").out).toContain("invalid CA certificate");
    const rogue = opensslVerify("cards/rogue");
    expect(rogue.ok).toBe(false);
    expect(rogue.out).toMatch(
      /unable to get local issuer certificate|self-signed certificate in certificate chain/,
    );
  });

  it("openssl verify -crl_check refuses the revoked certificates and accepts the others", () => {
    const withCrl = (crl: string) => ["-crl_check", "-CRLfile", file(pki.index.crls[crl]!.pem)];
    expect(opensslVerify("cards/revoked", withCrl("crl/issuer-ca")).out).toContain("certificate revoked");
    expect(opensslVerify("terminals/revoked", withCrl("crl/acquirer-ca")).out).toContain(
      "certificate revoked",
    );
    expect(opensslVerify("cards/alice", withCrl("crl/issuer-ca")).ok).toBe(true);
    expect(opensslVerify("cards/revoked", withCrl("crl/issuer-ca-empty")).ok).toBe(true);
  });

  it.each(Object.keys(pki.index.crls))("openssl crl -verify accepts %s (DER and PEM)", (name) => {
    const entry = pki.index.crls[name]!;
    const der = openssl([
      "crl",
      "-verify",
      "-noout",
      "-CAfile",
      certFile(entry.issuer),
      "-in",
      file(entry.der),
      "-inform",
      "DER",
    ]);
    expect(der.out).toContain("verify OK");
    expect(der.ok).toBe(true);
    const pem = openssl([
      "crl",
      "-verify",
      "-noout",
      "-CAfile",
      certFile(entry.issuer),
      "-in",
      file(entry.pem),
    ]);
    expect(pem.out).toContain("verify OK");
    // Signed by another CA: openssl refuses it too.
    const wrong = openssl([
      "crl",
      "-verify",
      "-noout",
      "-CAfile",
      certFile("rogue-issuer-ca"),
      "-in",
      file(entry.pem),
    ]);
    expect(wrong.out).not.toContain("verify OK");
  });

  it("openssl reads our private attributes as UTF8String extensions", () => {
    const text = openssl(["x509", "-noout", "-text", "-in", certFile("terminals/term-0001")]).out;
    expect(text).toContain("1.3.6.1.4.1.59999.1.3:");
    expect(text).toContain("M-0001");
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Key Agreement/);
    // The role is an extendedKeyUsage purpose; a leaf has no basicConstraints (absent = not a CA).
    expect(text).toMatch(/Extended Key Usage:\s+1\.3\.6\.1\.4\.1\.59999\.2\.5\s/);
    expect(text).not.toContain("Basic Constraints");
    const ca = openssl(["x509", "-noout", "-text", "-in", certFile("acquirer-ca")]).out;
    expect(ca).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(ca).toMatch(/Extended Key Usage:\s+1\.3\.6\.1\.4\.1\.59999\.2\.3\s/);
  });

  it("openssl verify accepts the role-confused chains (it knows nothing of our roles): we must refuse them", () => {
    for (const name of ["terminals/by-issuer-ca", "cards/by-acquirer-ca", "cards/by-unmarked-ca"]) {
      expect(opensslVerify(name).ok, name).toBe(true);
      expect(pki.index.certificates[name]!.expect.result).toBe("PROTO_ERR_CERT_ROLE");
    }
  });
});

describe("TrustStore accepts what openssl issues", () => {
  // The issuer-ca key, decrypted to a temp file as an operator would hand it to openssl.
  const caKeyFile = (name: string) => {
    const out = join(tmp, `${name.replaceAll("/", "_")}.key.pem`);
    writeFileSync(out, pki.key(name).export({ format: "pem", type: "pkcs8" }) as string, { mode: 0o600 });
    return out;
  };

  /** Sign a CSR for `key` (or a fresh key) with `signer` (a fixture name or an openssl-made CA). */
  function opensslCard(options: {
    signer: string | OpensslCa;
    walletId: string;
    curve?: string;
    aki?: boolean;
    critical?: string;
    /** extendedKeyUsage purposes (default: the card role's); null leaves the extension out. */
    purposes?: string[] | null;
    /** Extension lines instead of the card's wallet id (a terminal's ids). */
    attributes?: string[];
  }): Certificate {
    const id = options.walletId;
    const key = join(tmp, `${id}.key`);
    const csr = join(tmp, `${id}.csr`);
    const crt = join(tmp, `${id}.crt`);
    const ext = join(tmp, `${id}.ext`);
    execFileSync("openssl", [
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      `ec_paramgen_curve:${options.curve ?? "P-256"}`,
      "-out",
      key,
    ]);
    execFileSync("openssl", ["req", "-new", "-key", key, "-subj", `/CN=${id}/O=tapwallet TEST`, "-out", csr]);
    writeFileSync(
      ext,
      [
        "[v3]",
        "basicConstraints = critical, CA:FALSE",
        "keyUsage = critical, digitalSignature, keyAgreement",
        "subjectKeyIdentifier = hash",
        // openssl 3 adds an AKI unless told "none"
        options.aki === false ? "authorityKeyIdentifier = none" : "authorityKeyIdentifier = keyid",
        ...(options.attributes ?? [`1.3.6.1.4.1.59999.1.1 = ASN1:UTF8String:${id}`]),
        ...(options.purposes === null
          ? []
          : [`extendedKeyUsage = ${(options.purposes ?? [ROLE_OIDS.card]).join(", ")}`]),
        ...(options.critical ? [`${options.critical} = critical, ASN1:NULL`] : []),
        "",
      ].join("\n"),
    );
    execFileSync("openssl", [
      "x509",
      "-req",
      "-in",
      csr,
      "-sha256",
      "-days",
      "30",
      "-CA",
      typeof options.signer === "string" ? certFile(options.signer) : options.signer.cert,
      "-CAkey",
      typeof options.signer === "string" ? caKeyFile(options.signer) : options.signer.key,
      "-set_serial",
      "0xC0FFEE",
      "-extfile",
      ext,
      "-extensions",
      "v3",
      "-out",
      crt,
    ]);
    return certificateFromPem(readFileSync(crt, "utf8"));
  }

  interface OpensslCa {
    cert: string;
    key: string;
    certificate: Certificate;
  }

  /** A CA certified by the fixture root with `openssl x509 -req`, with or without a role purpose. */
  function opensslCa(name: string, purposes: string[] | null): OpensslCa {
    const key = join(tmp, `${name}.key`);
    const csr = join(tmp, `${name}.csr`);
    const cert = join(tmp, `${name}.crt`);
    const ext = join(tmp, `${name}.ext`);
    execFileSync("openssl", [
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-out",
      key,
    ]);
    execFileSync("openssl", [
      "req",
      "-new",
      "-key",
      key,
      "-subj",
      `/CN=${name}/O=tapwallet TEST`,
      "-out",
      csr,
    ]);
    writeFileSync(
      ext,
      [
        "[v3]",
        "basicConstraints = critical, CA:TRUE, pathlen:0",
        "keyUsage = critical, keyCertSign, cRLSign",
        "subjectKeyIdentifier = hash",
        "authorityKeyIdentifier = keyid",
        ...(purposes === null ? [] : [`extendedKeyUsage = ${purposes.join(", ")}`]),
        "",
      ].join("\n"),
    );
    execFileSync("openssl", [
      "x509",
      "-req",
      "-in",
      csr,
      "-sha256",
      "-days",
      "60",
      "-CA",
      certFile("root-ca"),
      "-CAkey",
      caKeyFile("root-ca"),
      "-set_serial",
      "0xCA01",
      "-extfile",
      ext,
      "-extensions",
      "v3",
      "-out",
      cert,
    ]);
    return { cert, key, certificate: certificateFromPem(readFileSync(cert, "utf8")) };
  }

  const now = () => ({ at: new Date(), role: "card" as const });

  it("accepts an openssl-issued card that chains to our root", () => {
    const cert = opensslCard({ signer: "issuer-ca", walletId: "W-OPENSSL-0009" });
    expect(cert.attributes.walletId).toBe("W-OPENSSL-0009");
    expect(cert.serialNumber).toBe("c0ffee");
    const path = pki.trustStore.verifyChain(cert, [], now());
    expect(path.map((c) => c.commonName)).toEqual(["W-OPENSSL-0009", "Issuer Bank CA", "Scheme Root CA"]);
  });

  it("refuses one signed by the impostor CA with the same Name, with or without an AKI", () => {
    const withAki = opensslCard({ signer: "rogue-issuer-ca", walletId: "W-OPENSSL-0010" });
    expect(codeOf(() => pki.trustStore.verifyChain(withAki, [], now()))).toBe("PROTO_ERR_CERT_ISSUER");
    // Without an AKI the Name matches issuer-ca, so the signature check is what stops it.
    const noAki = opensslCard({ signer: "rogue-issuer-ca", walletId: "W-OPENSSL-0011", aki: false });
    expect(codeOf(() => pki.trustStore.verifyChain(noAki, [], now()))).toBe("PROTO_ERR_CERT_SIGNATURE");
  });

  it("refuses a card that an acquirer CA of our own PKI signed, even where that CA is known", () => {
    const cert = opensslCard({ signer: "acquirer-ca", walletId: "W-OPENSSL-0012" });
    // The default store knows acquirer-ca and the signature chains to the root: the role stops it.
    expect(codeOf(() => pki.trustStore.verifyChain(cert, [], now()))).toBe("PROTO_ERR_CERT_ROLE");
    // A terminal that accepts cards only from issuer-ca (the DESIGN's "issuer CAs it accepts").
    const onlyCards = new TrustStore([pki.cert("root-ca")], [pki.cert("issuer-ca")]);
    expect(codeOf(() => onlyCards.verifyChain(cert, [], now()))).toBe("PROTO_ERR_CERT_ISSUER");
  });

  it("refuses an openssl-issued card without the card purpose, and one with the terminal purpose", () => {
    const unmarked = opensslCard({ signer: "issuer-ca", walletId: "W-OPENSSL-0015", purposes: null });
    expect(unmarked.roles).toEqual([]);
    expect(codeOf(() => pki.trustStore.verifyChain(unmarked, [], now()))).toBe("PROTO_ERR_CERT_ROLE");
    const other = opensslCard({
      signer: "issuer-ca",
      walletId: "W-OPENSSL-0016",
      purposes: [ROLE_OIDS.terminal],
    });
    expect(codeOf(() => pki.trustStore.verifyChain(other, [], now()))).toBe("PROTO_ERR_CERT_ROLE");
    // Purposes that are not ours (clientAuth) are allowed beside the role.
    const mixed = opensslCard({
      signer: "issuer-ca",
      walletId: "W-OPENSSL-0017",
      purposes: ["clientAuth", ROLE_OIDS.card],
    });
    expect(pki.trustStore.verifyChain(mixed, [], now())).toHaveLength(3);
  });

  it("accepts an openssl-made issuer CA with the issuer purpose and refuses one without any role", () => {
    const marked = opensslCa("OpenSSL Issuer CA", [ROLE_OIDS["issuer-ca"]]);
    expect(marked.certificate.roles).toEqual(["issuer-ca"]);
    const card = opensslCard({ signer: marked, walletId: "W-OPENSSL-0018" });
    expect(pki.trustStore.verifyChain(card, [marked.certificate], now()).map((c) => c.commonName)).toEqual([
      "W-OPENSSL-0018",
      "OpenSSL Issuer CA",
      "Scheme Root CA",
    ]);

    const unmarked = opensslCa("OpenSSL Unmarked CA", null);
    const underUnmarked = opensslCard({ signer: unmarked, walletId: "W-OPENSSL-0019" });
    // openssl accepts the chain; we refuse it because the CA carries no role.
    const r = openssl([
      "verify",
      "-CAfile",
      certFile("root-ca"),
      "-untrusted",
      unmarked.cert,
      join(tmp, "W-OPENSSL-0019.crt"),
    ]);
    expect(r.out).toContain(": OK");
    expect(codeOf(() => pki.trustStore.verifyChain(underUnmarked, [unmarked.certificate], now()))).toBe(
      "PROTO_ERR_CERT_ROLE",
    );
  });

  it("refuses an openssl-made terminal issued by the bank's issuer CA (a bank minting terminals)", () => {
    const terminal = opensslCard({
      signer: "issuer-ca",
      walletId: "T-OSSL-0020",
      purposes: [ROLE_OIDS.terminal],
      attributes: [
        "1.3.6.1.4.1.59999.1.2 = ASN1:UTF8String:T-OSSL-0020",
        "1.3.6.1.4.1.59999.1.3 = ASN1:UTF8String:M-0001",
      ],
    });
    expect(terminal.attributes).toMatchObject({ terminalId: "T-OSSL-0020", merchantId: "M-0001" });
    // What a card holds: the root and whatever CA the terminal presents.
    const card = new TrustStore([pki.cert("root-ca")]);
    expect(
      codeOf(() => card.verifyChain(terminal, [pki.cert("issuer-ca")], { at: new Date(), role: "terminal" })),
    ).toBe("PROTO_ERR_CERT_ROLE");
  });

  it("refuses a P-384 key and an RSA certificate (PROTO_ERR_CERT_ALGORITHM)", () => {
    expect(codeOf(() => opensslCard({ signer: "issuer-ca", walletId: "W-P384-0013", curve: "P-384" }))).toBe(
      "PROTO_ERR_CERT_ALGORITHM",
    );
    const rsa = join(tmp, "rsa.crt");
    execFileSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      join(tmp, "rsa.key"),
      "-subj",
      "/CN=rsa",
      "-days",
      "1",
      "-out",
      rsa,
    ]);
    expect(codeOf(() => certificateFromPem(readFileSync(rsa, "utf8")))).toBe("PROTO_ERR_CERT_ALGORITHM");
  });

  it("refuses an unknown critical extension (PROTO_ERR_CERT_EXTENSION), which openssl refuses too", () => {
    const cert = opensslCard({ signer: "issuer-ca", walletId: "W-CRIT-0014", critical: "1.2.3.4.5.6" });
    expect(cert.unknownCriticalExtensions).toEqual(["1.2.3.4.5.6"]);
    expect(codeOf(() => pki.trustStore.verifyChain(cert, [], now()))).toBe("PROTO_ERR_CERT_EXTENSION");
    const crt = join(tmp, "crit.pem");
    writeFileSync(
      crt,
      `-----BEGIN CERTIFICATE-----\n${Buffer.from(cert.der).toString("base64")}\n-----END CERTIFICATE-----\n`,
    );
    const r = openssl(["verify", "-CAfile", certFile("root-ca"), "-untrusted", certFile("issuer-ca"), crt]);
    expect(r.out).toContain("unhandled critical extension");
  });

  it("reads openssl's DER re-encoding of our certificate as the same certificate", () => {
    const der = execFileSync("openssl", ["x509", "-in", certFile("cards/alice"), "-outform", "DER"]);
    expect(parseCertificate(new Uint8Array(der)).fingerprint).toBe(pki.cert("cards/alice").fingerprint);
  });
});
