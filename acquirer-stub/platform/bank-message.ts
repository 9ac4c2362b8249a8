/**
 * The load request message the platform sends the bank for each load it signs (seed 000: "Tx Code,
 * ESerNo, E_date, E_time, Teller, Brc, WalletSta, Card No, Circlesavetype, Circleamount,
 * ELcashincard, Eleccashon"), under our names. The simulated bank behind the platform takes it as
 * the record of why it held or took the money; it is stored with the load and shown by
 * `acquirer-stub wallet show`.
 */
import type { CardView, LoadType, WalletStatus } from "../../protocol/platform/api.js";

/** Tx Code: one per load type, stable (the bank books by it). */
export const TRANSACTION_CODES: Readonly<Record<LoadType, string>> = {
  cash: "LOAD_CASH",
  bound: "LOAD_BOUND",
  "non-bound": "LOAD_NON_BOUND",
  auto: "LOAD_AUTO",
  supplementary: "LOAD_SUPPLEMENTARY",
};

export interface BankLoadMessage {
  /** Tx Code. */
  readonly transactionCode: string;
  /** ESerNo: the platform's serial number of the operation. */
  readonly serial: number;
  /** E_date and E_time: the platform's, UTC (YYYY-MM-DD, HH:MM:SS). */
  readonly date: string;
  readonly time: string;
  /** Teller and Brc (trading institution): the counter a cash load was taken at, when there was one. */
  readonly teller: string | null;
  readonly branch: string | null;
  /** WalletSta: the wallet's status at the platform, and the card's own as the terminal read it. */
  readonly walletStatus: WalletStatus;
  readonly cardState: CardView["state"];
  /** Card No: the bank card (account) the money comes from; null for cash and the online account. */
  readonly cardNumber: string | null;
  /** Circlesavetype and Circleamount (minor units, with the currency). */
  readonly loadType: LoadType;
  readonly amount: number;
  readonly currency: number;
  /** ELcashincard and Eleccashon: the card's balance and balance limit before the load (minor units). */
  readonly cardBalance: number;
  readonly balanceLimit: number;
}

export function bankLoadMessage(m: {
  readonly serial: number;
  /** Unix seconds. */
  readonly at: number;
  readonly type: LoadType;
  readonly amount: number;
  readonly currency: number;
  readonly teller: string | null;
  readonly branch: string | null;
  readonly walletStatus: WalletStatus;
  readonly card: CardView;
  readonly account: string | null;
}): BankLoadMessage {
  const stamp = new Date(m.at * 1000).toISOString();
  return {
    transactionCode: TRANSACTION_CODES[m.type],
    serial: m.serial,
    date: stamp.slice(0, 10),
    time: stamp.slice(11, 19),
    teller: m.teller,
    branch: m.branch,
    walletStatus: m.walletStatus,
    cardState: m.card.state,
    cardNumber: m.account,
    loadType: m.type,
    amount: m.amount,
    currency: m.currency,
    cardBalance: m.card.balance,
    balanceLimit: m.card.balanceLimit,
  };
}
