// The PKI lives in ./pki/ (der, certificate, crl, trust-store, issue); this path stays the import point.
export * from "./pki/index.js";
