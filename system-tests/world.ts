/**
 * The one set-up of the system tests: the tests that start the real programs as processes (`posd`,
 * `card-emulator serve`, vicc) and kill them. `systemWorld()` is called once per file, at the top of
 * its describe; it registers the file's beforeAll and afterAll:
 *
 *   created   a temporary directory `dir` (tapwallet-<name>-…), with `data` = dir/posd
 *   beforeAll pcsc: pcscd started (scripts/pcsc-setup.sh), the readers seen empty;
 *             posd: `posd init` into `data`; cards: each personalized into cardPath(name)
 *   afterAll  every daemon it started SIGKILLed, the file's cleanups run (newest first), every card
 *             in a reader stopped; pcsc: pcscd started again (a file that stopped it leaves it
 *             running for the next) and the readers seen empty; `dir` removed
 *
 * A reader holds one card at a time: `serve()` and `insertCard()` stop the one already there and
 * wait until pcscd saw it go (its 400 ms presence poll) before the next enters the field.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import {
  cardShown,
  startPcscd,
  VPCD_PORT_0,
  VPCD_PORT_1,
  VPCD_READER_0,
  VPCD_READER_1,
  waitForEmptyReader,
} from "../test-support/pcsc.js";
import {
  PosdDaemon,
  type PosdResult,
  personalize,
  posdInit,
  runPosd,
  type ServedCard,
  serveCard,
  until,
} from "../test-support/posd-process.js";

/** The vpcd port the card side of each virtual reader connects to. */
const VPCD_PORTS: Record<string, number> = { [VPCD_READER_0]: VPCD_PORT_0, [VPCD_READER_1]: VPCD_PORT_1 };

export interface CardSpec {
  walletId: string;
  /** Major units, as `card-emulator personalize --balance` takes them; default 50.00. */
  balance?: string;
  /** More `card-emulator personalize` options (e.g. `--balance-limit`). */
  args?: string[];
}

export interface SystemWorldOptions {
  /** The temporary directory's prefix: tapwallet-<name>-. */
  name: string;
  /** Real pcscd + vpcd: `true` for reader 0, or the readers the file uses. */
  pcsc?: boolean | { readers: string[] };
  /** `posd init` into `data` before the file's own beforeAll (default false). */
  posd?: boolean;
  /** Software cards personalized before the file's own beforeAll: name → cardPath(name). */
  cards?: Record<string, CardSpec>;
}

/** Anything that can sit in a vpcd reader: a `card-emulator serve` process, vicc, a VpcdLink. */
export interface FieldCard {
  stop(): Promise<void>;
  /** Out of the field; the card keeps running. */
  remove?(): Promise<void> | void;
  /** Back into the field. */
  insert?(): Promise<void> | void;
}

export interface SystemWorld {
  readonly dir: string;
  /** posd's data directory (dir/posd); initialized when `posd: true`. */
  readonly data: string;
  /** A card's state file in `dir`: <name>.card.json. */
  cardPath(name: string): string;
  /**
   * `card-emulator serve` on `cardPath` into `reader` (default reader 0) with its control port,
   * after the card already there left; resolves once pcscd shows the card.
   */
  serve(cardPath: string, options?: { faults?: string[]; reader?: string }): Promise<ServedCard>;
  /**
   * A card that is not `serve` (vicc, a VpcdLink): `start` runs after the card already in `reader`
   * left; resolves once pcscd shows the new one. The world stops it in afterAll.
   */
  insertCard<C extends FieldCard>(start: () => C | Promise<C>, options?: { reader?: string }): Promise<C>;
  /** Stop the card in `reader` (if any) and wait until pcscd saw it go. */
  stopCard(reader?: string): Promise<void>;
  /** Take the card in `reader` out of the field and wait until pcscd saw it go. */
  takeOut(reader?: string): Promise<void>;
  /** Put it back and wait until pcscd shows it. */
  putBack(reader?: string): Promise<void>;
  /** `posd run` on `data`, SIGKILLed in afterAll if still running. */
  startDaemon(args: string[], options?: Parameters<typeof PosdDaemon.start>[2]): Promise<PosdDaemon>;
  /** A one-shot `posd --data-dir data …args` to its end. */
  posd(args: string[], options?: Parameters<typeof runPosd>[2]): Promise<PosdResult>;
  /** Something else to undo in afterAll, after the daemons are killed and before the cards stop. */
  cleanup(fn: () => Promise<void> | void): void;
}

export function systemWorld(options: SystemWorldOptions): SystemWorld {
  const dir = mkdtempSync(join(tmpdir(), `tapwallet-${options.name}-`));
  const data = join(dir, "posd");
  const readers =
    options.pcsc === true ? [VPCD_READER_0] : options.pcsc ? options.pcsc.readers : ([] as string[]);
  const inField = new Map<string, FieldCard>();
  const daemons: PosdDaemon[] = [];
  const cleanups: (() => Promise<void> | void)[] = [];
  const cardPath = (name: string) => join(dir, `${name}.card.json`);
  const emptyReaders = () => Promise.all(readers.map((r) => waitForEmptyReader(r)));

  function cardIn(reader: string): FieldCard {
    const card = inField.get(reader);
    if (!card) throw new Error(`no card in "${reader}"`);
    return card;
  }

  async function stopCard(reader = VPCD_READER_0): Promise<void> {
    const card = inField.get(reader);
    inField.delete(reader);
    await card?.stop();
    await waitForEmptyReader(reader);
  }

  async function insertCard<C extends FieldCard>(
    start: () => C | Promise<C>,
    { reader = VPCD_READER_0 }: { reader?: string } = {},
  ): Promise<C> {
    await stopCard(reader);
    const card = await start();
    inField.set(reader, card);
    await until(() => cardShown(reader), `a card in ${reader}`);
    return card;
  }

  beforeAll(async () => {
    if (options.pcsc) {
      await startPcscd();
      await emptyReaders();
    }
    if (options.posd) await posdInit(data);
    await Promise.all(
      Object.entries(options.cards ?? {}).map(([name, card]) =>
        personalize(cardPath(name), card.walletId, card.balance ?? "50.00", card.args ?? []),
      ),
    );
  });

  afterAll(async () => {
    for (const daemon of daemons) await daemon.kill();
    for (const fn of cleanups.splice(0).reverse()) await fn();
    for (const card of inField.values()) await card.stop();
    inField.clear();
    if (options.pcsc) {
      await startPcscd(); // whatever a test did to pcscd, the next file needs it
      await emptyReaders();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  return {
    dir,
    data,
    cardPath,
    serve(path, { faults = [], reader = VPCD_READER_0 } = {}) {
      const port = VPCD_PORTS[reader];
      if (port === undefined) throw new Error(`not a vpcd reader: "${reader}"`);
      return insertCard(() => serveCard(path, port, faults), { reader });
    },
    insertCard,
    stopCard,
    async takeOut(reader = VPCD_READER_0) {
      const card = cardIn(reader);
      if (!card.remove) throw new Error(`the card in "${reader}" cannot leave the field by itself`);
      await card.remove();
      await waitForEmptyReader(reader);
    },
    async putBack(reader = VPCD_READER_0) {
      const card = cardIn(reader);
      if (!card.insert) throw new Error(`the card in "${reader}" cannot come back by itself`);
      await card.insert();
      await until(() => cardShown(reader), `the card back in ${reader}`);
    },
    async startDaemon(args, daemonOptions) {
      const daemon = await PosdDaemon.start(data, args, daemonOptions);
      daemons.push(daemon);
      return daemon;
    },
    posd: (args, runOptions) => runPosd(data, args, runOptions),
    cleanup(fn) {
      cleanups.push(fn);
    },
  };
}
