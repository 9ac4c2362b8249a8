/**
 * Regenerates the test-only PKI under fixtures/pki/ (`npm run pki`): keys (encrypted PKCS#8 PEM),
 * certificates (PEM), CRLs (DER and PEM "X509 CRL"), index.json and README.md.
 *
 * Fixed validity dates and serials keep the set stable in meaning; keys and signatures change on
 * every run, so anything recorded against the old keys (APDU transcripts) must be re-recorded.
 * Before writing, every certificate is checked against the expectation stored in index.json.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { encryptPrivateKeyPem, generateP256KeyPair, type KeyPair } from "../protocol/crypto.js";
import { isTapwalletError } from "../protocol/errors.js";
import { fixturesDir } from "../protocol/paths.js";
import {
  type CertAttributes,
  type Certificate,
  type CertRole,
  type Crl,
  certificateToPem,
  crlToPem,
  isCaRole,
  issueCertificate,
  issueCrl,
  type KeyUsageName,
  parseCertificate,
  parseCrl,
  TrustStore,
} from "../protocol/pki.js";
import {
  FIXTURE_ORGANIZATION,
  FIXTURE_PASSPHRASE,
  FIXTURE_TIME,
  type FixtureCertEntry,
  type FixtureCrlEntry,
  type FixtureIndex,
} from "../protocol/pki-fixtures.js";

interface CertSpec {
  name: string;
  role: CertRole;
  cn: string;
  /** null: self-signed. */
  issuer: string | null;
  serial: string;
  notBefore: string;
  notAfter: string;
  pathLength?: number;
  attributes?: CertAttributes;
  keyUsage?: "none" | KeyUsageName[];
  /** extendedKeyUsage purposes (OIDs) instead of the role's, or "none" (hostile fixtures). */
  extendedKeyUsage?: "none" | string[];
  caFlag?: boolean;
  trusted?: boolean;
  description: string;
  /** Role to verify it as, and the outcome with the default trust store, CRLs and FIXTURE_TIME. */
  verifyAs: CertRole;
  expect: "ok" | string;
}

const ROOT_DATES = { notBefore: "2025-01-01T00:00:00Z", notAfter: "2050-01-01T00:00:00Z" };
const CA_DATES = { notBefore: "2025-01-01T00:00:00Z", notAfter: "2045-01-01T00:00:00Z" };
const LEAF_DATES = { notBefore: "2025-06-01T00:00:00Z", notAfter: "2035-06-01T00:00:00Z" };

function card(
  name: string,
  serial: string,
  walletId: string,
  description: string,
  extra: Partial<CertSpec> = {},
) {
  return {
    name: `cards/${name}`,
    role: "card" as const,
    cn: walletId,
    issuer: "issuer-ca",
    serial,
    ...LEAF_DATES,
    attributes: { walletId },
    description,
    verifyAs: "card" as const,
    expect: "ok",
    ...extra,
  };
}

function terminal(
  name: string,
  serial: string,
  attributes: CertAttributes & { terminalId: string },
  description: string,
  extra: Partial<CertSpec> = {},
) {
  return {
    name: `terminals/${name}`,
    role: "terminal" as const,
    cn: attributes.terminalId,
    issuer: "acquirer-ca",
    serial,
    ...LEAF_DATES,
    attributes,
    description,
    verifyAs: "terminal" as const,
    expect: "ok",
    ...extra,
  };
}

const SPECS: CertSpec[] = [
  {
    name: "root-ca",
    role: "root",
    cn: "Scheme Root CA",
    issuer: null,
    serial: "01",
    ...ROOT_DATES,
    pathLength: 1,
    trusted: true,
    description: "the payment scheme's root (trust anchor), pathLen 1",
    verifyAs: "root",
    expect: "ok",
  },
  {
    name: "issuer-ca",
    role: "issuer-ca",
    cn: "Issuer Bank CA",
    issuer: "root-ca",
    serial: "1001",
    ...CA_DATES,
    pathLength: 0,
    description: "the wallet's bank: issues card certificates, pathLen 0",
    verifyAs: "issuer-ca",
    expect: "ok",
  },
  {
    name: "acquirer-ca",
    role: "acquirer-ca",
    cn: "Acquirer CA",
    issuer: "root-ca",
    serial: "1002",
    ...CA_DATES,
    pathLength: 0,
    description: "the acquirer: issues terminal certificates, pathLen 0",
    verifyAs: "acquirer-ca",
    expect: "ok",
  },
  card("alice", "c001", "W-ALICE-0001", "a good card"),
  card("bob", "c002", "W-BOB-0002", "a second good card"),
  card("expired", "c003", "W-EXPIRED-0003", "validity ended 2025-06-01", {
    notBefore: "2025-01-01T00:00:00Z",
    notAfter: "2025-06-01T00:00:00Z",
    expect: "PROTO_ERR_CERT_EXPIRED",
  }),
  card("not-yet-valid", "c004", "W-FUTURE-0004", "validity starts 2040-01-01", {
    notBefore: "2040-01-01T00:00:00Z",
    notAfter: "2045-01-01T00:00:00Z",
    expect: "PROTO_ERR_CERT_NOT_YET_VALID",
  }),
  card("revoked", "c005", "W-REVOKED-0005", "listed on crl/issuer-ca", {
    expect: "PROTO_ERR_CERT_REVOKED",
  }),
  card("no-key-usage", "c006", "W-NOKU-0006", "no keyUsage extension at all", {
    keyUsage: "none",
    expect: "PROTO_ERR_CERT_KEY_USAGE",
  }),
  card(
    "leaf-as-ca",
    "c007",
    "W-LEAFCA-0007",
    "an ordinary card (CA:FALSE) whose key signed cards/signed-by-leaf",
  ),
  {
    ...card(
      "signed-by-leaf",
      "c008",
      "W-CHILD-0008",
      "a card certificate issued by cards/leaf-as-ca: not a CA",
    ),
    issuer: "cards/leaf-as-ca",
    expect: "PROTO_ERR_CERT_NOT_CA",
  },
  terminal(
    "term-0001",
    "d001",
    {
      terminalId: "T-0001",
      merchantId: "M-0001",
      merchantCategory: "5411",
      region: "TW",
    },
    "a good terminal (grocery, MCC 5411)",
  ),
  terminal(
    "term-0002",
    "d002",
    { terminalId: "T-0002", merchantId: "M-0002", merchantCategory: "5812", region: "TW" },
    "a second good terminal (restaurant, MCC 5812)",
  ),
  terminal(
    "expired",
    "d003",
    { terminalId: "T-0003", merchantId: "M-0001", merchantCategory: "5411", region: "TW" },
    "validity ended 2025-06-01",
    { notBefore: "2025-01-01T00:00:00Z", notAfter: "2025-06-01T00:00:00Z", expect: "PROTO_ERR_CERT_EXPIRED" },
  ),
  terminal(
    "revoked",
    "d004",
    { terminalId: "T-0004", merchantId: "M-0002", merchantCategory: "5812", region: "TW" },
    "listed on crl/acquirer-ca",
    { expect: "PROTO_ERR_CERT_REVOKED" },
  ),
  {
    name: "rogue-root",
    role: "root",
    cn: "Rogue Root CA",
    issuer: null,
    serial: "6660",
    ...ROOT_DATES,
    pathLength: 1,
    description: "a self-signed root nobody trusts",
    verifyAs: "root",
    expect: "PROTO_ERR_CERT_ISSUER",
  },
  {
    name: "rogue-issuer-ca",
    role: "issuer-ca",
    // Same subject as issuer-ca on purpose: an impostor must be told apart by key, not by name.
    cn: "Issuer Bank CA",
    issuer: "rogue-root",
    serial: "6661",
    ...CA_DATES,
    pathLength: 0,
    description: "signed by rogue-root, with the same subject Name as issuer-ca",
    verifyAs: "issuer-ca",
    expect: "PROTO_ERR_CERT_ISSUER",
  },
  {
    ...card("rogue", "c666", "W-ROGUE-0666", "a card issued by rogue-issuer-ca"),
    issuer: "rogue-issuer-ca",
    expect: "PROTO_ERR_CERT_ISSUER",
  },
  // CA roles: a bank's key must not mint terminals, an acquirer's must not mint cards.
  {
    ...terminal(
      "by-issuer-ca",
      "d666",
      { terminalId: "T-0666", merchantId: "M-0666", merchantCategory: "5411", region: "TW" },
      "a terminal certificate issued by issuer-ca (a bank minting terminals)",
    ),
    issuer: "issuer-ca",
    expect: "PROTO_ERR_CERT_ROLE",
  },
  {
    ...card("by-acquirer-ca", "c667", "W-ACQ-0667", "a card certificate issued by acquirer-ca"),
    issuer: "acquirer-ca",
    expect: "PROTO_ERR_CERT_ROLE",
  },
  {
    name: "unmarked-ca",
    role: "issuer-ca",
    cn: "Unmarked CA",
    issuer: "root-ca",
    serial: "1666",
    ...CA_DATES,
    pathLength: 0,
    extendedKeyUsage: "none",
    description: "a CA signed by root-ca with no role purpose (no extendedKeyUsage)",
    verifyAs: "issuer-ca",
    expect: "PROTO_ERR_CERT_ROLE",
  },
  {
    ...card("by-unmarked-ca", "c668", "W-UNMARKED-0668", "a card issued by unmarked-ca"),
    issuer: "unmarked-ca",
    expect: "PROTO_ERR_CERT_ROLE",
  },
];

const CRL_SPECS = [
  {
    name: "crl/issuer-ca-empty",
    issuer: "issuer-ca",
    crlNumber: 1,
    revoked: [] as string[],
    description: "issuer-ca's CRL with no entries",
  },
  {
    name: "crl/issuer-ca",
    issuer: "issuer-ca",
    crlNumber: 2,
    revoked: ["cards/revoked"],
    description: "issuer-ca's CRL revoking cards/revoked",
  },
  {
    name: "crl/acquirer-ca",
    issuer: "acquirer-ca",
    crlNumber: 1,
    revoked: ["terminals/revoked"],
    description: "acquirer-ca's CRL revoking terminals/revoked",
  },
];
const CRL_DATES = { thisUpdate: "2025-06-01T00:00:00Z", nextUpdate: "2045-01-01T00:00:00Z" };
const REVOCATION_DATE = "2025-06-15T00:00:00Z";

/** The default verification context recorded in index.json (`expect` of each certificate). */
const DEFAULT_STORE = { roots: ["root-ca"], intermediates: ["issuer-ca", "acquirer-ca"] };
const DEFAULT_CRLS = ["crl/issuer-ca", "crl/acquirer-ca"];

function chainOf(name: string): string[] {
  const chain: string[] = [];
  let spec = SPECS.find((s) => s.name === name)!;
  while (spec.issuer !== null) {
    chain.push(spec.issuer);
    spec = SPECS.find((s) => s.name === spec.issuer)!;
  }
  return chain;
}

async function main(): Promise<void> {
  const outDir = fixturesDir("pki");
  const keys = new Map<string, KeyPair>();
  const ders = new Map<string, Uint8Array>();
  const certs = new Map<string, Certificate>();

  // SPECS is ordered so that every issuer comes before what it issues.
  for (const spec of SPECS) {
    const keyPair = generateP256KeyPair();
    keys.set(spec.name, keyPair);
    const issuer =
      spec.issuer === null
        ? { selfSigned: true as const, privateKey: keyPair.privateKey }
        : { certificate: ders.get(spec.issuer)!, privateKey: keys.get(spec.issuer)!.privateKey };
    const der = await issueCertificate({
      role: spec.role,
      subjectCommonName: spec.cn,
      ...(isCaRole(spec.role) ? { subjectOrganization: FIXTURE_ORGANIZATION } : {}),
      publicKey: keyPair.publicKey,
      issuer,
      serialNumber: spec.serial,
      notBefore: new Date(spec.notBefore),
      notAfter: new Date(spec.notAfter),
      ...(spec.pathLength === undefined ? {} : { pathLength: spec.pathLength }),
      ...(spec.attributes ? { attributes: spec.attributes } : {}),
      ...(spec.keyUsage ? { keyUsage: spec.keyUsage } : {}),
      ...(spec.extendedKeyUsage ? { extendedKeyUsage: spec.extendedKeyUsage } : {}),
      ...(spec.caFlag === undefined ? {} : { caFlag: spec.caFlag }),
    });
    ders.set(spec.name, der);
    certs.set(spec.name, parseCertificate(der));
  }

  const crlDers = new Map<string, Uint8Array>();
  const crls = new Map<string, Crl>();
  for (const spec of CRL_SPECS) {
    const der = await issueCrl({
      issuer: { certificate: ders.get(spec.issuer)!, privateKey: keys.get(spec.issuer)!.privateKey },
      thisUpdate: new Date(CRL_DATES.thisUpdate),
      nextUpdate: new Date(CRL_DATES.nextUpdate),
      crlNumber: spec.crlNumber,
      revoked: spec.revoked.map((name) => ({
        serialNumber: certs.get(name)!.serialNumber,
        revocationDate: new Date(REVOCATION_DATE),
        reason: "keyCompromise",
      })),
    });
    crlDers.set(spec.name, der);
    crls.set(spec.name, parseCrl(der, certs.get(spec.issuer)!));
  }

  // Check every expectation before writing anything.
  const store = new TrustStore(
    DEFAULT_STORE.roots.map((n) => certs.get(n)!),
    DEFAULT_STORE.intermediates.map((n) => certs.get(n)!),
  );
  const failures: string[] = [];
  for (const spec of SPECS) {
    let outcome = "ok";
    try {
      store.verifyChain(
        certs.get(spec.name)!,
        chainOf(spec.name).map((n) => certs.get(n)!),
        { at: FIXTURE_TIME, role: spec.verifyAs, crls: DEFAULT_CRLS.map((n) => crls.get(n)!) },
      );
    } catch (e) {
      outcome = isTapwalletError(e) ? e.code : String(e);
    }
    if (outcome !== spec.expect) failures.push(`${spec.name}: expected ${spec.expect}, got ${outcome}`);
  }
  if (failures.length > 0) throw new Error(`fixture expectations do not hold:\n  ${failures.join("\n  ")}`);

  rmSync(outDir, { recursive: true, force: true });
  const write = (relative: string, data: string | Uint8Array, mode = 0o644) => {
    const file = join(outDir, relative);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, data, { mode });
  };

  const certificates: Record<string, FixtureCertEntry> = {};
  for (const spec of SPECS) {
    const cert = certs.get(spec.name)!;
    write(`${spec.name}.crt.pem`, certificateToPem(ders.get(spec.name)!));
    write(
      `${spec.name}.key.pem`,
      encryptPrivateKeyPem(keys.get(spec.name)!.privateKey, FIXTURE_PASSPHRASE),
      0o600,
    );
    certificates[spec.name] = {
      role: spec.role,
      description: spec.description,
      cert: `${spec.name}.crt.pem`,
      key: `${spec.name}.key.pem`,
      issuer: spec.issuer,
      chain: chainOf(spec.name),
      trusted: spec.trusted === true,
      subject: cert.subject,
      serialNumber: cert.serialNumber,
      fingerprint: cert.fingerprint,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
      attributes: cert.attributes,
      derBytes: cert.der.length,
      expect: { role: spec.verifyAs, result: spec.expect },
    };
  }
  const crlEntries: Record<string, FixtureCrlEntry> = {};
  for (const spec of CRL_SPECS) {
    const der = crlDers.get(spec.name)!;
    write(`${spec.name}.crl`, der);
    write(`${spec.name}.crl.pem`, crlToPem(der));
    crlEntries[spec.name] = {
      description: spec.description,
      der: `${spec.name}.crl`,
      pem: `${spec.name}.crl.pem`,
      issuer: spec.issuer,
      crlNumber: spec.crlNumber,
      thisUpdate: CRL_DATES.thisUpdate.replace("Z", ".000Z"),
      nextUpdate: CRL_DATES.nextUpdate.replace("Z", ".000Z"),
      revoked: spec.revoked.map((name) => ({
        certificate: name,
        serialNumber: certs.get(name)!.serialNumber,
      })),
    };
  }

  const index: FixtureIndex = {
    testOnly: true,
    passphrase: FIXTURE_PASSPHRASE,
    regenerate: "npm run pki",
    verification: {
      at: FIXTURE_TIME.toISOString(),
      roots: DEFAULT_STORE.roots,
      intermediates: DEFAULT_STORE.intermediates,
      crls: DEFAULT_CRLS,
    },
    certificates,
    crls: crlEntries,
  };
  write("index.json", `${JSON.stringify(index, null, 2)}\n`);
  write("README.md", readme(index));

  const size = (n: string) => certs.get(n)!.der.length;
  console.log(`fixtures/pki: ${SPECS.length} certificates, ${CRL_SPECS.length} CRLs written to ${outDir}`);
  console.log(
    `sizes (DER bytes): root ${size("root-ca")}, CA ${size("issuer-ca")}, card ${size("cards/alice")}, terminal ${size("terminals/term-0001")}`,
  );
}

function readme(index: FixtureIndex): string {
  const rows = Object.entries(index.certificates).map(
    ([name, e]) =>
      `| \`${name}\` | ${e.role} | ${e.issuer ?? "self-signed"} | ${e.serialNumber} | ${e.notBefore.slice(0, 10)} → ${e.notAfter.slice(0, 10)} | ${
        Object.entries(e.attributes)
          .map(([k, v]) => `${k}=${v}`)
          .join(", ") || "—"
      } | ${e.description} | ${e.expect.result === "ok" ? "verifies" : `\`${e.expect.result}\``} |`,
  );
  const crlRows = Object.entries(index.crls).map(
    ([name, e]) =>
      `| \`${name}\` | ${e.issuer} | ${e.crlNumber} | ${e.revoked.map((r) => `${r.certificate} (${r.serialNumber})`).join(", ") || "—"} |`,
  );
  return `# Test PKI — TEST ONLY

**Every private key in this folder is public. Never use any of it outside tests and demos.**
The private keys are encrypted PKCS#8 PEM with the passphrase \`${index.passphrase}\` (it is public too):
the encryption only exercises the same loading path as a real terminal key.

Generated by \`${index.regenerate}\` (scripts/gen-pki.ts): ECDSA P-256 / SHA-256, X.509 v3 made with
@peculiar/x509 and accepted by \`openssl verify\` / \`openssl crl -verify\` (see protocol/pki-openssl.test.ts).
Validity dates and serial numbers are fixed; keys and signatures change on every run, so recorded APDU
transcripts that contain certificates or signatures must be re-recorded after regenerating.

Real terminal certificates are short-lived (\`posd init\` issues 30-day ones at runtime); these are
long-lived so that tests keep passing for years.

## Files

- \`<name>.crt.pem\`: the certificate (PEM \`CERTIFICATE\`).
- \`<name>.key.pem\`: its private key (PEM \`ENCRYPTED PRIVATE KEY\`, aes-256-cbc, PBKDF2).
  \`openssl pkey -in cards/alice.key.pem -passin pass:${index.passphrase}\`
- \`crl/<name>.crl\`: a CRL in DER; \`crl/<name>.crl.pem\`: the same as PEM \`X509 CRL\` (the label OpenSSL reads).
- \`index.json\`: the machine-readable list (name → files, role, issuer chain, serial, attributes,
  expected verification result). \`protocol/pki-fixtures.ts\` \`loadFixturePki()\` loads all of it.

Expected results are for: trust anchors ${index.verification.roots.join(", ")}; known intermediates
${index.verification.intermediates.join(", ")}; the certificate's \`chain\` presented as intermediates;
CRLs ${index.verification.crls.join(", ")}; time ${index.verification.at}.

## Certificates

| name | role | issuer | serial | validity | attributes | what it is | expected |
| --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join("\n")}

## CRLs (this update ${CRL_DATES.thisUpdate.slice(0, 10)}, next update ${CRL_DATES.nextUpdate.slice(0, 10)})

| name | issuer | CRL number | revoked |
| --- | --- | --- | --- |
${crlRows.join("\n")}

Attributes are non-critical private extensions (DER UTF8String) under the illustrative arc
1.3.6.1.4.1.59999.1 (walletId .1, terminalId .2, merchantId .3, merchantCategory .4, region .5,
merchantName .6). Roles are extendedKeyUsage purposes under 1.3.6.1.4.1.59999.2 (root .1,
issuer-ca .2, acquirer-ca .3, card .4, terminal .5); every certificate of a path must carry the one of
its place. A real deployment would register its own Private Enterprise Number.
`;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
