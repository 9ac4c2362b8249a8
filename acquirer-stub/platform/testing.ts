/**
 * Test wiring for the wallet platform (tests only, like ../testing.ts): signed requests from a
 * test-PKI terminal, a real card driven over its transport the way an online terminal relays
 * issuer commands (SELECT, GET CHALLENGE, the platform's command, the signed record back), and
 * the money invariants a test checks after every step.
 *
 * The card itself comes from the test (card-emulator/, test-support/): this file imports
 * protocol/ only, like the rest of acquirer-stub/.
 */
import { type KeyObject, randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { commandApdu } from "../../protocol/apdu.js";
import { fromHex, hex } from "../../protocol/bytes.js";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import type {
  CardRecordProof,
  CardView,
  LoadCommand,
  LoadRequest,
  LoadState,
  PresentedAnswer,
  ReversalCommand,
  ReversalOutcome,
  ReversalRequest,
} from "../../protocol/platform/api.js";
import { signPlatformRequest } from "../../protocol/platform/request-auth.js";
import { SW } from "../../protocol/sw.js";
import { transmit } from "../../protocol/transmit.js";
import type { Transport } from "../../protocol/transport.js";
import type { BatchResult, BatchUpload } from "../../protocol/wallet/batch.js";
import { CLA, INS, WALLET_SW } from "../../protocol/wallet/constants.js";
import { getChallengeCommand, parseSignedRecord, selectCommand } from "../../protocol/wallet/messages.js";
import { buildApp } from "../app.js";
import { AcquirerStore } from "../db/store.js";
import { type TestAcquirer, testAcquirer, testPki } from "../testing.js";
import { PlatformStore } from "./store/platform-store.js";
import { type AccountOpening, issueWallet, openBankAccount, type WalletIssue } from "./wallets.js";

export interface RequestSigner {
  readonly privateKey: KeyObject;
  /** Leaf first, then its CA certificates (DER). */
  readonly chain: readonly Uint8Array[];
}

/** A fixture terminal's key and chain (terminals/term-0001 by default: T-0001 of M-0001). */
export function fixtureSigner(name = "terminals/term-0001"): RequestSigner {
  const pki = loadFixturePki();
  return { privateKey: pki.key(name), chain: [pki.der(name), ...pki.intermediates(name).map((c) => c.der)] };
}

export interface SignedPostOptions {
  readonly signer?: RequestSigner;
  /** Change the body after it was signed (what a party in between would do). */
  readonly tamper?: (body: string) => string;
  /** Headers to add or override (e.g. drop the signature). */
  readonly headers?: Record<string, string>;
}

export interface PostResult<T> {
  readonly status: number;
  readonly body: T & { code?: string; message?: string; details?: Record<string, unknown> };
}

/** POST `body` as JSON, signed like a terminal signs it. */
export async function signedPost<T = Record<string, unknown>>(
  app: FastifyInstance,
  path: string,
  body: unknown,
  options: SignedPostOptions = {},
): Promise<PostResult<T>> {
  const text = JSON.stringify(body);
  const signer = options.signer ?? fixtureSigner();
  const headers = signPlatformRequest(signer.privateKey, signer.chain, { method: "POST", path, body: text });
  const res = await app.inject({
    method: "POST",
    url: path,
    payload: options.tamper ? options.tamper(text) : text,
    headers: { "content-type": "application/json", ...headers, ...options.headers },
  });
  return { status: res.statusCode, body: res.json() };
}

/** What the card answered to an issuer command: its status word and, on 9000, the signed record. */
export interface CardAnswer {
  readonly sw: number;
  readonly proof?: CardRecordProof;
}

/** An online terminal's side of the card: SELECT, GET CHALLENGE, relay an issuer command. */
export class RelayedCard {
  constructor(readonly transport: Transport) {}

  async select(): Promise<void> {
    const r = await transmit(this.transport, selectCommand());
    if (r.sw !== SW.OK) throw new Error(`SELECT answered ${r.sw.toString(16)}`);
  }

  /** The card's GET CHALLENGE answer, 32 hex. */
  async challenge(): Promise<string> {
    const r = await transmit(this.transport, getChallengeCommand());
    if (r.sw !== SW.OK) throw new Error(`GET CHALLENGE answered ${r.sw.toString(16)}`);
    return hex(r.data);
  }

  /** Send the platform's command data (hex) as INS `ins`, outside a terminal session (CLA 80). */
  async relay(ins: number, command: string): Promise<CardAnswer> {
    const r = await transmit(
      this.transport,
      commandApdu({ cla: CLA.PROPRIETARY, ins, data: fromHex(command), ne: 256 }),
    );
    if (r.sw !== SW.OK) return { sw: r.sw };
    const signed = parseSignedRecord(r.data);
    return { sw: r.sw, proof: { record: hex(signed.bytes), signature: hex(signed.signature) } };
  }
}

/** POST a terminal's batch to the acquirer (`POST /v1/batches`), as the terminal's uploader does. */
export async function postBatch(
  app: FastifyInstance,
  upload: BatchUpload,
): Promise<{ status: number; body: BatchResult & { code?: string } }> {
  const res = await app.inject({ method: "POST", url: "/v1/batches", payload: upload });
  return { status: res.statusCode, body: res.json() };
}

/** Bookings whose entries do not sum to zero (there must be none). */
export async function unbalancedBookings(store: AcquirerStore): Promise<string[]> {
  const rows = await store.db
    .selectFrom("platform_entries")
    .select(["booking_id", (eb) => eb.fn.sum<number>("amount").as("total")])
    .groupBy("booking_id")
    .execute();
  return rows.filter((r) => Number(r.total) !== 0).map((r) => r.booking_id);
}

/** Bank accounts whose balance column differs from the sum of their `bank:N` entries. */
export async function bankBalanceBreaks(store: AcquirerStore): Promise<string[]> {
  const accounts = await store.db.selectFrom("bank_accounts").select(["number", "balance"]).execute();
  const breaks: string[] = [];
  for (const a of accounts) {
    const row = await store.db
      .selectFrom("platform_entries")
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>("amount"), eb.lit(0)).as("total"))
      .where("account", "=", `bank:${a.number}`)
      .executeTakeFirstOrThrow();
    if (Number(row.total) !== a.balance) breaks.push(a.number);
  }
  return breaks;
}

/** Every account's balance, the bank accounts' columns and holds, and the loads: compare two of them. */
export async function moneySnapshot(store: AcquirerStore) {
  const balances = await store.db
    .selectFrom("platform_entries")
    .select(["account", (eb) => eb.fn.sum<number>("amount").as("total")])
    .groupBy("account")
    .orderBy("account")
    .execute();
  return {
    balances: Object.fromEntries(balances.map((b) => [b.account, Number(b.total)])),
    bookings: (
      await store.db.selectFrom("platform_bookings").select("booking_id").orderBy("booking_id").execute()
    ).map((b) => b.booking_id),
    bank: await store.db
      .selectFrom("bank_accounts")
      .select(["number", "balance", "held"])
      .orderBy("number")
      .execute(),
    holds: await store.db.selectFrom("bank_holds").selectAll().orderBy("load_id").execute(),
    loads: await store.db
      .selectFrom("platform_loads")
      .select(["load_id", "state"])
      .orderBy("load_id")
      .execute(),
    challenges: (await store.db.selectFrom("platform_challenges").select("challenge").execute()).length,
  };
}

export const newLoadId = (): string => randomBytes(8).toString("hex");
export const newRequestId = (): string => randomBytes(16).toString("hex");

/** The card an online terminal has in its field, as the test made it. */
export interface FieldCard {
  readonly walletId: string;
  /** Its certificate, base64 DER. */
  readonly certificate: string;
  readonly transport: Transport;
  /** What READ BALANCE would tell the terminal now. */
  view(): CardView;
}

/** The part of a software card's state a terminal reads (structurally, card-emulator's CardState). */
interface ReadableCard {
  readonly transport: Transport;
  readonly applet: {
    readonly state: {
      readonly balance: number;
      readonly counter: number;
      readonly blocked: boolean;
      readonly limits: { readonly balanceLimit: number };
    };
  };
}

/** A test's software card (test-support/card-fixture.ts) as the terminal sees it. */
export function fieldCard(card: ReadableCard, walletId: string, certificateDer: Uint8Array): FieldCard {
  return {
    walletId,
    certificate: Buffer.from(certificateDer).toString("base64"),
    transport: card.transport,
    view: () => ({
      balance: card.applet.state.balance,
      balanceLimit: card.applet.state.limits.balanceLimit,
      counter: card.applet.state.counter,
      state: card.applet.state.blocked ? "blocked" : "active",
    }),
  };
}

/**
 * An online terminal in front of one card: each method is one step of the flows of
 * protocol/platform/api.ts, through the real HTTP routes, signed with the terminal's key.
 */
export class OnlineTerminal {
  readonly card: RelayedCard;

  constructor(
    readonly app: FastifyInstance,
    readonly field: FieldCard,
    readonly clock: () => Date,
    readonly signer: RequestSigner = fixtureSigner(),
  ) {
    this.card = new RelayedCard(field.transport);
  }

  time(): number {
    return Math.floor(this.clock().getTime() / 1000);
  }

  post<T>(path: string, body: unknown, options: SignedPostOptions = {}): Promise<PostResult<T>> {
    return signedPost<T>(this.app, path, body, { signer: this.signer, ...options });
  }

  present(requestId = newRequestId()): Promise<PostResult<PresentedAnswer>> {
    return this.post(`/v1/platform/wallets/${this.field.walletId}/presented`, {
      requestId,
      cardCertificate: this.field.certificate,
      card: this.field.view(),
      time: this.time(),
    });
  }

  /** A load request over a fresh card challenge (SELECT, GET CHALLENGE), with `fields` over the defaults. */
  async loadRequest(
    fields: Partial<LoadRequest> & Pick<LoadRequest, "type" | "amount">,
  ): Promise<LoadRequest> {
    await this.card.select();
    return {
      loadId: newLoadId(),
      walletId: this.field.walletId,
      cardCertificate: this.field.certificate,
      currency: 978,
      card: this.field.view(),
      challenge: await this.card.challenge(),
      time: this.time(),
      ...(fields.type === "cash" ? { teller: "T01" } : {}),
      ...fields,
    };
  }

  askLoad(request: LoadRequest, options?: SignedPostOptions): Promise<PostResult<LoadCommand>> {
    return this.post("/v1/platform/loads", request, options);
  }

  complete(loadId: string, proof: CardRecordProof): Promise<PostResult<LoadState>> {
    return this.post(`/v1/platform/loads/${loadId}/complete`, proof);
  }

  /** The whole load: request, relay to the card, forward its record. */
  async load(fields: Partial<LoadRequest> & Pick<LoadRequest, "type" | "amount">) {
    const request = await this.loadRequest(fields);
    const command = await this.askLoad(request);
    if (command.status !== 200) throw new Error(`load refused: ${JSON.stringify(command.body)}`);
    const answer = await this.card.relay(INS.LOAD, command.body.command);
    if (!answer.proof) throw new Error(`the card answered ${answer.sw.toString(16)} to LOAD`);
    const completed = await this.complete(request.loadId, answer.proof);
    return { request, command, proof: answer.proof, completed };
  }

  /** A reversal request over a fresh card challenge. */
  async askReversal(
    loadId: string,
    fields: Partial<ReversalRequest> = {},
  ): Promise<PostResult<ReversalCommand> & { request: ReversalRequest }> {
    await this.card.select();
    const request: ReversalRequest = {
      requestId: newRequestId(),
      challenge: await this.card.challenge(),
      time: this.time(),
      ...fields,
    };
    return {
      request,
      ...(await this.post<ReversalCommand>(`/v1/platform/loads/${loadId}/reversal`, request)),
    };
  }

  completeReversal(loadId: string, outcome: ReversalOutcome): Promise<PostResult<LoadState>> {
    return this.post(`/v1/platform/loads/${loadId}/reversal/complete`, outcome);
  }

  /** The whole reversal: request, relay LOAD REVERSAL, report the card's answer (record or 930E). */
  async reverse(loadId: string, fields: Partial<ReversalRequest> = {}) {
    const asked = await this.askReversal(loadId, fields);
    if (asked.status !== 200) throw new Error(`reversal refused: ${JSON.stringify(asked.body)}`);
    const answer = await this.card.relay(INS.LOAD_REVERSAL, asked.body.command);
    let outcome: ReversalOutcome;
    if (answer.proof)
      outcome = { requestId: asked.request.requestId, outcome: "reversed", proof: answer.proof };
    else if (answer.sw === WALLET_SW.LOAD_NOT_FOUND)
      outcome = { requestId: asked.request.requestId, outcome: "not-found" };
    else throw new Error(`the card answered ${answer.sw.toString(16)} to LOAD REVERSAL`);
    return { asked, answer, outcome, completed: await this.completeReversal(loadId, outcome) };
  }
}

export const EUR = 978;

/** A bank account of the default world: 500.00 EUR, bound to the wallet. */
export const BOUND_ACCOUNT = "NL-0001";
/** Another account of the default world: 100.00 EUR, for non-bound loads. */
export const OTHER_ACCOUNT = "NL-0002";

export interface PlatformWorld {
  readonly acq: TestAcquirer;
  readonly store: PlatformStore;
  readonly terminal: OnlineTerminal;
  close(): Promise<void>;
}

/**
 * An acquirer with the platform on a fresh database of the engine under test, the card's wallet
 * issued (opening balance = the card's, bound to BOUND_ACCOUNT, the card's balance limit) and an
 * online terminal in front of the card, all on `clock`.
 */
export async function platformWorld(
  card: FieldCard,
  clock: () => Date,
  wallet: Partial<WalletIssue> = {},
  acquirer: { operatorToken?: string; hotlistGraceSeconds?: number } = {},
): Promise<PlatformWorld> {
  const acq = await testAcquirer({ clock, ...acquirer });
  const store = PlatformStore.of(acq.store);
  const now = Math.floor(clock().getTime() / 1000);
  const accounts: AccountOpening[] = [
    { number: BOUND_ACCOUNT, holder: "Alice", currency: EUR, balance: 50_000 },
    { number: OTHER_ACCOUNT, holder: "Alice's other bank", currency: EUR, balance: 10_000 },
  ];
  for (const a of accounts) await openBankAccount(store, a, now);
  const view = card.view();
  await issueWallet(
    store,
    {
      walletId: card.walletId,
      currency: EUR,
      opening: view.balance,
      boundAccount: BOUND_ACCOUNT,
      balanceLimit: view.balanceLimit,
      singleLimit: 2_000,
      autoLoadThreshold: 0,
      autoLoadAmount: 0,
      ...wallet,
    },
    now,
  );
  return { acq, store, terminal: new OnlineTerminal(acq.app, card, clock), close: () => acq.close() };
}

/**
 * A second acquirer instance on the same database (terminal routes only), for two instances
 * settling at once; `run` gets its app, and the instance is closed after.
 */
export async function withSecondInstance<T>(
  dbPath: string,
  clock: () => Date,
  run: (app: FastifyInstance) => Promise<T>,
): Promise<T> {
  const p = testPki();
  const store = await AcquirerStore.open(dbPath);
  const app = await buildApp({
    store,
    trust: p.trust,
    hotlistSigner: p.hotlistSigner,
    clock,
    operator: { off: true },
  });
  try {
    return await run(app);
  } finally {
    await app.close();
    await store.close();
  }
}
