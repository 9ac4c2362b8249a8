/**
 * Versioned schema of the terminal's record store. Migration i brings `PRAGMA user_version` from
 * i to i + 1; each runs in its own transaction. Never edit a shipped migration: append one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: transactions (intents and records in one table, keyed by the terminal seq), certificates, meta
  `
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );

  CREATE TABLE certificates (
    fingerprint TEXT PRIMARY KEY,
    der         BLOB NOT NULL
  );

  -- seq is the terminal seq: AUTOINCREMENT keeps the highest seq ever handed out in
  -- sqlite_sequence, so a seq is never reused, even after rows are deleted.
  CREATE TABLE transactions (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'complete', 'voided')),
    wallet_id          TEXT NOT NULL,
    amount             INTEGER NOT NULL CHECK (amount > 0),
    currency           INTEGER NOT NULL,
    terminal_time      INTEGER NOT NULL,
    transcript_hash    BLOB NOT NULL,
    reference          TEXT,
    created_at         INTEGER NOT NULL,
    resolved_at        INTEGER,
    resolution         TEXT,
    card_counter       INTEGER,
    balance_after      INTEGER,
    card_record        BLOB,
    card_signature     BLOB,
    card_certificate   TEXT REFERENCES certificates (fingerprint),
    chain_index        INTEGER UNIQUE,
    previous_hash      BLOB,
    terminal_signature BLOB,
    chain_hash         BLOB,
    batch_id           TEXT,
    upload_status      TEXT CHECK (upload_status IN ('accepted', 'rejected', 'voided')),
    upload_reason      TEXT,
    UNIQUE (wallet_id, card_counter),
    CHECK ((status = 'complete') = (card_record IS NOT NULL)),
    CHECK ((status = 'pending') = (chain_index IS NULL))
  );

  CREATE INDEX transactions_pending ON transactions (wallet_id) WHERE status = 'pending';
  CREATE INDEX transactions_unbatched ON transactions (chain_index) WHERE batch_id IS NULL AND chain_index IS NOT NULL;
  `,
  // 2: cash-register payments by the register's service id (idempotency key), so a register that
  // lost an answer can ask again, also after a restart of posd
  `
  CREATE TABLE ecr_payments (
    service_id   TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    amount       INTEGER NOT NULL,
    currency     INTEGER NOT NULL,
    reference    TEXT,
    state        TEXT NOT NULL,
    seq          INTEGER REFERENCES transactions (seq),
    outcome      TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
  );
  CREATE INDEX ecr_payments_created ON ecr_payments (created_at);
  `,
  // 3: upload batches (closed in chain order; re-sent under the same id until the acquirer
  // answers) and the hotlist the terminal enforces offline
  `
  CREATE TABLE batches (
    batch_id           TEXT PRIMARY KEY,
    status             TEXT NOT NULL CHECK (status IN ('closed', 'settled', 'rejected')),
    first_chain_index  INTEGER NOT NULL,
    last_chain_index   INTEGER NOT NULL,
    manifest           TEXT NOT NULL,
    manifest_signature TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    settled_at         INTEGER,
    result             TEXT
  );

  CREATE TABLE hotlist_wallets (wallet_id TEXT PRIMARY KEY);
  CREATE TABLE hotlist_serials (serial TEXT PRIMARY KEY);
  `,
  // 4: a cash-register payment found by its intent's seq (naming the earlier payment a tap resolved)
  `
  CREATE INDEX ecr_payments_seq ON ecr_payments (seq) WHERE seq IS NOT NULL;
  `,
  // 5: per wallet, the newest record this terminal verified (rollback and edited-balance checks,
  // seeded from the records already stored), the terminal's own blocklist (apart from the
  // acquirer's hotlist, which a sync replaces) and the findings that travel with the next upload
  `
  CREATE TABLE seen_wallets (
    wallet_id     TEXT PRIMARY KEY,
    seq           INTEGER NOT NULL,
    card_counter  INTEGER NOT NULL,
    balance_after INTEGER NOT NULL,
    currency      INTEGER NOT NULL,
    seen_at       INTEGER NOT NULL
  );
  INSERT INTO seen_wallets (wallet_id, seq, card_counter, balance_after, currency, seen_at)
    SELECT t.wallet_id, t.seq, t.card_counter, t.balance_after, t.currency, COALESCE(t.resolved_at, t.created_at)
    FROM transactions t
    WHERE t.status = 'complete'
      AND t.seq = (SELECT MAX(u.seq) FROM transactions u WHERE u.wallet_id = t.wallet_id AND u.status = 'complete');

  CREATE TABLE wallet_findings (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    wallet_id        TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('rollback', 'balance-forged')),
    seq              INTEGER NOT NULL,
    seen_seq         INTEGER NOT NULL,
    seen_counter     INTEGER NOT NULL,
    seen_balance     INTEGER NOT NULL,
    seen_currency    INTEGER NOT NULL,
    claimed_counter  INTEGER NOT NULL,
    claimed_balance  INTEGER NOT NULL,
    amount           INTEGER NOT NULL,
    currency         INTEGER NOT NULL,
    card_record      BLOB NOT NULL,
    card_signature   BLOB NOT NULL,
    card_certificate BLOB NOT NULL,
    found_at         INTEGER NOT NULL,
    reported_in      TEXT
  );
  CREATE INDEX wallet_findings_unreported ON wallet_findings (seq) WHERE reported_in IS NULL;

  CREATE TABLE local_blocklist (
    wallet_id  TEXT PRIMARY KEY,
    finding_id INTEGER NOT NULL REFERENCES wallet_findings (id),
    blocked_at INTEGER NOT NULL
  );
  `,
  // 6: torn intents the card's log no longer covers: the card counter seen before DEBIT, and the
  // intent left unresolved (still pending) with its reason and the batch that reported it
  `
  ALTER TABLE transactions ADD COLUMN card_counter_seen INTEGER;
  ALTER TABLE transactions ADD COLUMN unresolved_reason TEXT;
  ALTER TABLE transactions ADD COLUMN unresolved_at INTEGER;
  ALTER TABLE transactions ADD COLUMN unresolved_batch_id TEXT;
  `,
  // 7: loads this terminal ran (written before the platform is asked; pending = in doubt)
  `
  CREATE TABLE load_intents (
    load_id     TEXT PRIMARY KEY CHECK (length(load_id) = 16),
    wallet_id   TEXT NOT NULL,
    type        TEXT NOT NULL CHECK (type IN ('cash', 'bound', 'non-bound', 'auto', 'supplementary')),
    amount      INTEGER NOT NULL CHECK (amount > 0),
    currency    INTEGER NOT NULL,
    teller      TEXT,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'loaded', 'refused', 'voided', 'reversed')),
    created_at  INTEGER NOT NULL,
    resolved_at INTEGER,
    resolution  TEXT,
    -- the card's verified LOAD record, kept until the platform booked it
    card_record    BLOB,
    card_signature BLOB
  );
  CREATE INDEX load_intents_pending ON load_intents (created_at) WHERE state = 'pending';
  `,
  // 8: refunds of returned goods, terminal-signed credits referenced to a complete debit of this
  // terminal. refund_id is the refund counter: AUTOINCREMENT keeps the highest ever handed out, so
  // an id is allocated (and persisted) in the transaction that stores the refund and never reused.
  // The total per original is checked in that same transaction (one writer: BEGIN IMMEDIATE).
  `
  CREATE TABLE refunds (
    refund_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    original_seq  INTEGER NOT NULL REFERENCES transactions (seq),
    wallet_id     TEXT NOT NULL,
    card_counter  INTEGER NOT NULL,
    amount        INTEGER NOT NULL CHECK (amount > 0),
    currency      INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    signature     BLOB,
    service_id    TEXT UNIQUE,
    request_hash  TEXT,
    batch_id      TEXT,
    upload_status TEXT CHECK (upload_status IN ('settled', 'pending', 'rejected')),
    upload_reason TEXT
  );
  CREATE INDEX refunds_original ON refunds (original_seq);
  CREATE INDEX refunds_unbatched ON refunds (refund_id) WHERE batch_id IS NULL;
  `,
  // 9: the cash register's stored-value operations (load, reverse, balance inquiry) by its service
  // id, so that a register that lost an answer can ask again, also after a restart. load_id is the
  // load the operation is about: a reverse's from the start, a load's own once it is linked (before
  // its load_intents row is written).
  `
  CREATE TABLE ecr_stored_values (
    service_id   TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    operation    TEXT NOT NULL CHECK (operation IN ('load', 'reverse', 'balance')),
    amount       INTEGER CHECK (amount > 0),
    currency     INTEGER,
    source       TEXT CHECK (source IN ('cash', 'account', 'from-account', 'online')),
    teller       TEXT,
    from_account TEXT,
    load_id      TEXT CHECK (length(load_id) = 16),
    state        TEXT NOT NULL CHECK (state IN ('waiting_for_card', 'in_progress', 'done', 'declined',
                                               'in_doubt', 'aborted', 'timed_out', 'error')),
    outcome      TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
  );
  CREATE INDEX ecr_stored_values_unfinished ON ecr_stored_values (created_at)
    WHERE state IN ('waiting_for_card', 'in_progress');
  `,
  // 10: the wallets the platform has work for (an issuer command queued, a load in doubt), as last
  // fetched: a plain payment at an online terminal presents only these to the platform.
  `
  CREATE TABLE platform_attention (
    wallet_id TEXT PRIMARY KEY
  ) WITHOUT ROWID;
  `,
  // 11: the hotlist keyed by issuer (format 2): each blocked wallet id and revoked serial with the
  // issuer CA it holds for (its certificate's SHA-256 fingerprint), or NULL for every issuer. The
  // rows already held migrate as every issuer, so an upgraded terminal forgets no block before its
  // next sync. NULL cannot sit in a primary key: the key is a unique index on COALESCE(issuer, '').
  `
  CREATE TABLE hotlist_wallets_11 (
    wallet_id TEXT NOT NULL,
    issuer    TEXT CHECK (issuer IS NULL OR length(issuer) = 64)
  );
  INSERT INTO hotlist_wallets_11 (wallet_id, issuer) SELECT wallet_id, NULL FROM hotlist_wallets;
  DROP TABLE hotlist_wallets;
  ALTER TABLE hotlist_wallets_11 RENAME TO hotlist_wallets;
  CREATE UNIQUE INDEX hotlist_wallets_key ON hotlist_wallets (wallet_id, COALESCE(issuer, ''));

  CREATE TABLE hotlist_serials_11 (
    serial TEXT NOT NULL,
    issuer TEXT CHECK (issuer IS NULL OR length(issuer) = 64)
  );
  INSERT INTO hotlist_serials_11 (serial, issuer) SELECT serial, NULL FROM hotlist_serials;
  DROP TABLE hotlist_serials;
  ALTER TABLE hotlist_serials_11 RENAME TO hotlist_serials;
  CREATE UNIQUE INDEX hotlist_serials_key ON hotlist_serials (serial, COALESCE(issuer, ''));
  `,
];
