/**
 * `npm run demo`: the whole story in virtual-card mode, with nothing to install or configure.
 *
 * Two wallets are personalised, a terminal is initialised from the test PKI, a few taps go through
 * (one declined for insufficient funds, one torn after the card committed and recovered on the
 * next tap), a wallet restored from a backup is caught, a wallet whose balance its holder edited
 * pays (the terminal cannot tell), the records are printed, then an acquirer
 * is started on a free loopback port, the terminal uploads its batch over real HTTP (with the
 * finding about that wallet; the edited wallet is blocked for fraud, and declined after the sync),
 * and the acquirer prints its settlement report with its fraud section.
 * Everything lives in a temporary directory that is removed at the end (--keep keeps it).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AcquirerStore } from "../acquirer-stub/db/store.js";
import { renderReport } from "../acquirer-stub/domain/settle.js";
import { setParameters } from "../acquirer-stub/platform/commands.js";
import { renderReconciliation } from "../acquirer-stub/platform/reconciliation-text.js";
import { platformReconciliation } from "../acquirer-stub/platform/reports.js";
import { PlatformStore } from "../acquirer-stub/platform/store/platform-store.js";
import { issueWallet, openBankAccount, walletView } from "../acquirer-stub/platform/wallets.js";
import { serve } from "../acquirer-stub/server.js";
import { FaultyApplet } from "../card-emulator/applet/faulty.js";
import { FileCardStateStore } from "../card-emulator/applet/state.js";
import { InProcessTransport } from "../card-emulator/inprocess.js";
import { personalize } from "../card-emulator/personalize.js";
import { currencyByCode, formatMoney, parseAmount } from "../protocol/amount.js";
import { createLogger, silentLogger } from "../protocol/logger.js";
import { fixturesDir } from "../protocol/paths.js";
import { AcquirerClient, verifyFetchedHotlist } from "../terminal/adapters/http/acquirer-client.js";
import { syncAttention } from "../terminal/application/attention-sync.js";
import { runRefund } from "../terminal/application/refund.js";
import { runLoad } from "../terminal/application/run-load.js";
import { runPayment } from "../terminal/application/run-payment.js";
import { syncHotlist, uploadBatches } from "../terminal/application/upload.js";
import { openPlatform } from "../terminal/composition/platform.js";
import { openTerminal, paymentDeps } from "../terminal/composition/root.js";
import { loadConfig } from "../terminal/config.js";
import { initTerminal } from "../terminal/init.js";
import { printOutcome, printRecords } from "../terminal/output.js";

const keep = process.argv.includes("--keep");
const EUR = currencyByCode("EUR");
const out = (line = "") => process.stdout.write(`${line}\n`);
const step = (title: string) => out(`\n== ${title}`);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tapwallet-demo-"));
  const home = join(dir, "terminal");
  try {
    step("personalise two wallets (software cards, certified by the test issuer CA)");
    const wallets: Record<string, string> = {};
    for (const [name, walletId, balance] of [
      ["alice", "W-ALICE-0001", 5_000],
      ["bob", "W-BOB-0002", 1_000],
      ["carol", "W-CAROL-0003", 1_000],
    ] as const) {
      const state = await personalize({
        walletId,
        currency: EUR.numeric,
        balance,
        limits: { singleLimit: 3_000 },
      });
      const path = join(dir, `${name}.card.json`);
      new FileCardStateStore(path).commit(state);
      wallets[name] = path;
      out(`${walletId}: ${formatMoney(balance, EUR)} → ${path}`);
    }

    step(
      "the issuer registers the wallets with its wallet platform (opening balances booked) and alice's bank account",
    );
    const acquirerDb = join(dir, "acquirer.sqlite");
    {
      const store = await AcquirerStore.open(acquirerDb);
      const platform = PlatformStore.of(store);
      const now = Math.floor(Date.now() / 1000);
      await openBankAccount(
        platform,
        { number: "TW-0001", holder: "Alice", currency: EUR.numeric, balance: 50_000 },
        now,
      );
      for (const [walletId, opening, bound] of [
        ["W-ALICE-0001", 5_000, "TW-0001"],
        ["W-BOB-0002", 1_000, null],
        ["W-CAROL-0003", 1_000, null],
      ] as const) {
        await issueWallet(
          platform,
          {
            walletId,
            currency: EUR.numeric,
            opening,
            boundAccount: bound,
            balanceLimit: 30_000,
            singleLimit: 3_000,
            autoLoadThreshold: 0,
            autoLoadAmount: 0,
          },
          now,
        );
        out(
          `acquirer-stub wallet issue ${walletId} --opening ${formatMoney(opening, EUR)}${bound ? ` --bound-account ${bound}` : ""}`,
        );
      }
      out("acquirer-stub bank open TW-0001 --holder Alice --balance 500.00");
      await store.close();
    }

    step("initialise the terminal (new key, 30-day certificate from the test acquirer CA)");
    const init = await initTerminal({
      dataDir: home,
      terminalId: "T-0001",
      merchantId: "M-0001",
      merchantCategory: "5411",
      region: "TW",
      currency: "EUR",
    });
    out(
      `terminal T-0001 of merchant M-0001, certificate valid until ${init.certificateNotAfter.toISOString()}`,
    );
    const ctx = openTerminal(loadConfig({ dataDir: home }), silentLogger());
    // What posd itself uses: risk limits, the hotlist and the wallet watch included.
    const deps = paymentDeps(ctx);
    const open = (path: string) => {
      const applet = new FaultyApplet(new FileCardStateStore(path));
      return { applet, transport: new InProcessTransport(applet) };
    };
    const cards = Object.fromEntries(Object.entries(wallets).map(([name, path]) => [name, open(path)]));
    const tap = async (who: string, amount: string) => {
      const o = await runPayment(cards[who]!.transport, deps, {
        amount: parseAmount(amount, EUR),
        currency: EUR.numeric,
      });
      out(`${who} taps for ${amount} EUR:`);
      printOutcome(o);
      return o;
    };

    step("taps");
    const bobBackup = readFileSync(wallets.bob!);
    await tap("alice", "4.50");
    await tap("bob", "12.00");
    out("(the next tap tears: the phone leaves the field right after the card committed the debit)");
    cards.alice!.applet.faults = { tearAfterDebitCommit: true };
    await tap("alice", "3.20");
    cards.alice!.applet.faults = {};
    cards.alice!.transport.insert();
    out("(alice taps again: the terminal first asks her card's log about the torn payment)");
    await tap("alice", "2.00");
    await tap("bob", "1.50");

    step("attack: bob restores his wallet from a backup taken before he paid 1.50");
    writeFileSync(wallets.bob!, bobBackup);
    cards.bob = open(wallets.bob!);
    out("(the terminal verified bob's counter 1; the restored card shows counter 0 at SELECT)");
    await tap("bob", "5.00");
    out("(bob is now on this terminal's local blocklist, and the finding goes with the next upload)");
    await tap("bob", "1.00");

    step(
      "attack: carol edits her card's state file from 10.00 to 500.00 and pays 25.00 where she never paid before",
    );
    {
      const state = JSON.parse(readFileSync(wallets.carol!, "utf8")) as { balance: number };
      state.balance = 50_000;
      writeFileSync(wallets.carol!, JSON.stringify(state));
      cards.carol = open(wallets.carol!);
    }
    out("(the terminal cannot tell: the card's balance is signed by the card, and the key is in the file)");
    await tap("carol", "25.00");

    step("posd records");
    printRecords(ctx.store.list());

    step("start the acquirer on a free loopback port (its own SQLite file, the TEST-ONLY PKI)");
    const acquirer = await serve({
      port: 0,
      host: "127.0.0.1",
      db: acquirerDb,
      pkiDir: fixturesDir("pki"),
      // The acquirer warns that the committed test PKI's keys are public: true, and said above.
      logger: createLogger({ name: "acquirer-stub", level: "error" }),
      // The demo is a terminal's view: no operator routes (none is called over HTTP).
      operator: { off: true },
    });
    out(`acquirer-stub serve → ${acquirer.url}`);

    step("posd upload");
    const client = new AcquirerClient({ baseUrl: acquirer.url, logger: silentLogger() });
    try {
      const summary = await uploadBatches(ctx, client, { maxRecords: 2_000 });
      const voided = summary.results.reduce(
        (n, r) => n + r.records.filter((v) => v.status === "voided").length,
        0,
      );
      out(
        `uploaded ${summary.records} records in ${summary.batches} batch: ${summary.accepted} accepted, ` +
          `${voided} voided intent accounted for, ${summary.rejected} rejected`,
      );
      const sync = await syncHotlist(ctx, client, (wire) =>
        verifyFetchedHotlist(wire, ctx.identity.chain[0]!),
      );
      out(`posd sync: hotlist version ${sync.version}, ${sync.wallets} blocked wallets`);
      out(
        "(the platform's shadow balance saw carol spend 25.00 from an offline account of 10.00: " +
          "her wallet is blocked for fraud and hotlisted in the upload's own transaction)",
      );
      out("carol taps again, after the sync:");
      await tap("carol", "1.00");
    } finally {
      client.close();
    }
    step(
      "posd load --amount 20.00 --cash --teller T01: alice loads cash at the counter (the terminal is online)",
    );
    const online = openPlatform(ctx, acquirer.url);
    try {
      const o = await runLoad(cards.alice!.transport, online.deps, {
        type: "cash",
        amount: 2_000,
        currency: EUR.numeric,
        teller: "T01",
      });
      if (o.status !== "loaded") throw new Error(`the demo's cash load did not go through: ${o.status}`);
      out(
        `loaded ${formatMoney(o.amount, EUR)} onto ${o.walletId}: card balance ${formatMoney(o.balanceAfter, EUR)}, load ${o.loadId}`,
      );

      step(
        "acquirer-stub wallet set-params W-ALICE-0001 --auto-load-threshold 70.00 --auto-load-amount 20.00, then posd sync",
      );
      {
        const store = await AcquirerStore.open(acquirerDb);
        const queued = await setParameters(
          PlatformStore.of(store),
          "W-ALICE-0001",
          { autoLoadThreshold: 7_000, autoLoadAmount: 2_000 },
          Math.floor(Date.now() / 1000),
        );
        await store.close();
        out(
          `UPDATE PARAMETERS queued (command ${queued.commandId}): delivered at the card's next online presentation`,
        );
      }
      const attention = await syncAttention(ctx.attention, online.deps, silentLogger());
      out(
        `posd sync: the platform's attention list has ${attention.wallets} wallet: its next tap at this terminal is presented to the platform`,
      );

      step(
        "alice taps for 5.00 at the online terminal: the tap delivers her new parameters, and her card, now under 70.00, loads 20.00 first",
      );
      const paid = await runPayment(
        cards.alice!.transport,
        { ...deps, online: online.deps },
        { amount: 500, currency: EUR.numeric },
      );
      printOutcome(paid);
      if (paid.online?.delivered.length !== 1)
        throw new Error(`the demo's parameters were not delivered: ${JSON.stringify(paid.online)}`);
      if (paid.status !== "approved" || paid.autoLoad?.status !== "loaded")
        throw new Error(`the demo's automatic load did not run: ${JSON.stringify(paid.autoLoad)}`);

      step(
        `posd refund --seq ${paid.record.seq} --amount 2.00: alice brings back goods worth 2.00 (no card needed)`,
      );
      const { refund } = runRefund(
        { refunds: ctx.refunds, identity: ctx.identity, terminalId: ctx.terminalId, logger: silentLogger() },
        { seq: paid.record.seq, amount: 200, currency: EUR.numeric },
      );
      out(
        `refund ${refund.refundId} of 2.00 EUR for seq ${refund.originalSeq} (wallet ${refund.walletId}) stored, signed by the terminal: ` +
          "it goes up with the next upload, to the wallet's online account, never to the card",
      );

      step("posd upload (the payment after the automatic load, and the refund)");
      const again = new AcquirerClient({ baseUrl: acquirer.url, logger: silentLogger() });
      try {
        const summary = await uploadBatches(ctx, again, { maxRecords: 2_000 });
        out(
          `uploaded ${summary.records} records: ${summary.accepted} accepted, ${summary.rejected} rejected`,
        );
        for (const r of summary.results.flatMap((b) => b.refunds ?? []))
          out(`refund ${r.refundId}: ${r.status}${r.reason ? ` (${r.reason})` : ""}`);
      } finally {
        again.close();
      }
    } finally {
      online.close();
    }
    await acquirer.close();
    ctx.close();

    step("acquirer-stub wallet show W-ALICE-0001");
    {
      const store = await AcquirerStore.open(acquirerDb);
      const view = await walletView(PlatformStore.of(store), "W-ALICE-0001");
      out(
        `offline account ${formatMoney(view.accounts.offline, EUR)} (opening 50.00 + loads − settled spending: the card's balance)`,
      );
      out(
        `online account ${formatMoney(view.accounts.online, EUR)} (the refund of returned goods; not on the card)`,
      );
      for (const l of view.loads)
        out(
          `  load ${l.loadId}  ${l.type}  ${formatMoney(l.amount, EUR)}  ${l.state}${l.teller ? `  teller ${l.teller}` : ""}`,
        );
      await store.close();
    }

    step(`acquirer-stub report --date ${new Date().toISOString().slice(0, 10)}`);
    const store = await AcquirerStore.open(acquirerDb);
    try {
      process.stdout.write(renderReport(await store.settlementReport(new Date().toISOString().slice(0, 10))));
      out();
      process.stdout.write(renderReconciliation(await platformReconciliation(PlatformStore.of(store))));
    } finally {
      await store.close();
    }

    step("try it yourself");
    out("npm run build && npm link            # puts posd, card-emulator and acquirer-stub on your PATH");
    out("export TAPWALLET_HOME=/tmp/tw && posd init");
    out(
      "card-emulator personalize --state alice.card.json --wallet-id W-ALICE-0001 --balance 50.00 --currency EUR",
    );
    out("posd pay --virtual --card alice.card.json --amount 4.50");
    out(
      "export TAPWALLET_ACQUIRER_OPERATOR_TOKEN=$(openssl rand -hex 32)   # operators send Authorization: Bearer <token>",
    );
    out(
      "acquirer-stub serve --port 8443 --db acquirer.sqlite &   posd upload --acquirer http://127.0.0.1:8443",
    );
    if (keep) out(`\nfiles kept in ${dir}`);
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
