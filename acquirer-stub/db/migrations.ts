/**
 * Versioned schema of the acquirer's database. Migration i brings `PRAGMA user_version` from i to
 * i + 1 and runs in its own transaction. Never edit a shipped migration: append one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: terminals and their chain heads, batches (with the answer replayed for retries), records,
  //    card certificates, blocked wallets, clones, revoked terminals and card serials, meta.
  `
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );

  CREATE TABLE terminals (
    terminal_id   TEXT PRIMARY KEY,
    merchant_id   TEXT NOT NULL,
    chain_head    BLOB NOT NULL CHECK (length(chain_head) = 32),
    last_batch_id TEXT NOT NULL,
    updated_at    INTEGER NOT NULL
  );

  CREATE TABLE revoked_terminals (
    terminal_id TEXT PRIMARY KEY,
    revoked_at  INTEGER NOT NULL,
    reason      TEXT
  );

  -- One row per batch id that got a verdict (settled, or rejected as a whole); the answer is kept
  -- and replayed for every retry with the same content, for as long as the row lives (forever).
  CREATE TABLE batches (
    batch_id           TEXT PRIMARY KEY,
    content_hash       TEXT NOT NULL,
    terminal_id        TEXT NOT NULL,
    merchant_id        TEXT NOT NULL,
    received_at        INTEGER NOT NULL,
    received_day       TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('settled', 'rejected')),
    reason             TEXT,
    http_status        INTEGER NOT NULL,
    response           TEXT NOT NULL,
    manifest           TEXT NOT NULL,
    manifest_signature TEXT NOT NULL,
    record_count       INTEGER NOT NULL,
    accepted           INTEGER NOT NULL,
    rejected           INTEGER NOT NULL,
    differences        TEXT NOT NULL
  );
  CREATE INDEX batches_received_day ON batches (received_day);

  CREATE TABLE card_certificates (
    fingerprint TEXT PRIMARY KEY,
    der         BLOB NOT NULL,
    wallet_id   TEXT NOT NULL,
    serial      TEXT NOT NULL
  );

  -- Every entry of a settled batch, accepted or not (a rejected one is evidence: a clone's record).
  CREATE TABLE records (
    id                 INTEGER PRIMARY KEY,
    batch_id           TEXT NOT NULL REFERENCES batches (batch_id),
    position           INTEGER NOT NULL,
    terminal_id        TEXT NOT NULL,
    merchant_id        TEXT NOT NULL,
    seq                INTEGER NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('accepted', 'rejected', 'voided')),
    reason             TEXT,
    wallet_id          TEXT,
    card_counter       INTEGER,
    type               INTEGER,
    amount             INTEGER CHECK (amount IS NULL OR amount >= 0),
    currency           INTEGER,
    balance_after      INTEGER,
    record_time        INTEGER,
    business_day       TEXT,
    card_record        BLOB,
    card_signature     BLOB,
    card_certificate   TEXT,
    previous_hash      BLOB NOT NULL,
    terminal_signature BLOB NOT NULL,
    UNIQUE (batch_id, position),
    CHECK ((status = 'rejected') = (reason IS NOT NULL)),
    CHECK (status <> 'accepted' OR (wallet_id IS NOT NULL AND card_counter IS NOT NULL AND amount > 0))
  );
  -- The rules the verification enforces, enforced again by the database. Few indexes on purpose:
  -- each one costs every insert (10,000 per batch).
  CREATE UNIQUE INDEX records_wallet_counter ON records (wallet_id, card_counter) WHERE status = 'accepted';
  CREATE UNIQUE INDEX records_terminal_seq ON records (terminal_id, seq) WHERE status IN ('accepted', 'voided');
  CREATE INDEX records_terminal_seq_all ON records (terminal_id, seq);
  CREATE INDEX records_settlement ON records (business_day, merchant_id, currency) WHERE status = 'accepted';

  -- The business days each settled batch carries (one row per batch and day, not per record:
  -- the reconciliation report finds its batches here without one more index on records).
  CREATE TABLE batch_days (
    business_day TEXT NOT NULL,
    batch_id     TEXT NOT NULL REFERENCES batches (batch_id),
    PRIMARY KEY (business_day, batch_id)
  ) WITHOUT ROWID;

  CREATE TABLE blocked_wallets (
    wallet_id  TEXT PRIMARY KEY,
    reason     TEXT NOT NULL CHECK (reason IN ('lost', 'stolen', 'fraud', 'clone', 'other')),
    source     TEXT NOT NULL CHECK (source IN ('operator', 'clone-detection')),
    blocked_at INTEGER NOT NULL
  );

  -- Audit trail of blocks and unblocks (the hotlist itself is blocked_wallets + revoked serials).
  CREATE TABLE wallet_events (
    id        INTEGER PRIMARY KEY,
    wallet_id TEXT NOT NULL,
    action    TEXT NOT NULL CHECK (action IN ('block', 'unblock')),
    reason    TEXT,
    source    TEXT NOT NULL,
    at        INTEGER NOT NULL
  );

  CREATE TABLE clones (
    id                INTEGER PRIMARY KEY,
    wallet_id         TEXT NOT NULL,
    card_counter      INTEGER NOT NULL,
    first_terminal_id TEXT NOT NULL,
    first_seq         INTEGER NOT NULL,
    first_batch_id    TEXT NOT NULL,
    clone_terminal_id TEXT NOT NULL,
    clone_seq         INTEGER NOT NULL,
    clone_batch_id    TEXT NOT NULL,
    detected_at       INTEGER NOT NULL,
    detected_day      TEXT NOT NULL
  );
  CREATE INDEX clones_wallet ON clones (wallet_id);
  CREATE INDEX clones_day ON clones (detected_day);

  -- Card certificate serials revoked by an issuer CA (from the CRLs given at start-up).
  CREATE TABLE revoked_card_serials (
    serial             TEXT NOT NULL,
    issuer_fingerprint TEXT NOT NULL,
    added_at           INTEGER NOT NULL,
    PRIMARY KEY (serial, issuer_fingerprint)
  );
  `,
  // 2: torn intents a terminal could not resolve from the card's log (it no longer covered them),
  //    reported with a settled batch: open until the back office settles them.
  `
  CREATE TABLE unresolved_intents (
    terminal_id       TEXT NOT NULL,
    seq               INTEGER NOT NULL,
    merchant_id       TEXT NOT NULL,
    wallet_id         TEXT NOT NULL,
    amount            INTEGER NOT NULL CHECK (amount > 0),
    currency          INTEGER NOT NULL,
    terminal_time     INTEGER NOT NULL,
    card_counter_seen INTEGER,
    reason            TEXT NOT NULL,
    batch_id          TEXT NOT NULL REFERENCES batches (batch_id),
    received_at       INTEGER NOT NULL,
    status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    PRIMARY KEY (terminal_id, seq)
  );
  CREATE INDEX unresolved_intents_open ON unresolved_intents (wallet_id) WHERE status = 'open';
  `,
  // 3: rolled-back or edited wallets a terminal caught and declined, reported with a batch: the
  //    card-signed record is the proof (verified: reason NULL), the seen values the terminal's word.
  `
  CREATE TABLE terminal_findings (
    terminal_id      TEXT NOT NULL,
    finding_id       INTEGER NOT NULL,
    merchant_id      TEXT NOT NULL,
    wallet_id        TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('rollback', 'balance-forged')),
    seq              INTEGER NOT NULL,
    seen_seq         INTEGER NOT NULL,
    counter_seen     INTEGER NOT NULL,
    balance_seen     INTEGER NOT NULL,
    counter_claimed  INTEGER NOT NULL,
    balance_claimed  INTEGER NOT NULL,
    amount           INTEGER NOT NULL,
    currency         INTEGER NOT NULL,
    card_record      BLOB NOT NULL,
    card_signature   BLOB NOT NULL,
    card_certificate BLOB NOT NULL,
    found_at         INTEGER NOT NULL,
    reason           TEXT,
    fork             INTEGER NOT NULL DEFAULT 0,
    batch_id         TEXT NOT NULL,
    received_at      INTEGER NOT NULL,
    PRIMARY KEY (terminal_id, finding_id)
  );
  CREATE INDEX terminal_findings_wallet ON terminal_findings (wallet_id);
  `,
];
