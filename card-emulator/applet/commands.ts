/**
 * The INS table (one CommandSpec per instruction, handlers/*.ts) and the class and instruction
 * checks on it: a class byte the card does not know (6E00), an instruction it does not know (6D00),
 * a class the command does not take (6E00). `process` applies them where docs/protocol.md ("Rules
 * for every command") puts them: the class byte before command chaining, the rest after it.
 */
import { SW } from "../../protocol/sw.js";
import { CHAIN_BIT } from "./chaining.js";
import type { ClassKind, CommandSpec } from "./context.js";
import { externalAuthCommand, initiateAuthCommand } from "./handlers/auth.js";
import { debitCommand } from "./handlers/debit.js";
import {
  blockWalletCommand,
  loadCommand,
  loadReversalCommand,
  unblockWalletCommand,
  updateParametersCommand,
} from "./handlers/online.js";
import { getTransactionLogCommand, readBalanceCommand } from "./handlers/read.js";
import { getChallengeCommand, getDataCommand, selectCommand } from "./handlers/select.js";

export type CommandTable = ReadonlyMap<number, CommandSpec>;

/** The INS table. */
export const COMMANDS: CommandTable = new Map(
  [
    selectCommand,
    getDataCommand,
    getChallengeCommand,
    initiateAuthCommand,
    externalAuthCommand,
    debitCommand,
    getTransactionLogCommand,
    readBalanceCommand,
    loadCommand,
    loadReversalCommand,
    updateParametersCommand,
    blockWalletCommand,
    unblockWalletCommand,
  ].map((spec) => [spec.ins, spec]),
);

const CLASS_BYTE: Record<ClassKind, number> = { iso: 0x00, proprietary: 0x80, secure: 0x84 };

/** 00 ISO, 80 proprietary in the clear, 84 proprietary with secure messaging (chain bit ignored). */
export function classKind(cla: number): ClassKind | undefined {
  const base = cla & ~CHAIN_BIT;
  if (base === CLASS_BYTE.iso) return "iso";
  if (base === CLASS_BYTE.proprietary) return "proprietary";
  if (base === CLASS_BYTE.secure) return "secure";
  return undefined;
}

/** The command for INS in class `kind`, or the status word: unknown INS 6D00, class not taken 6E00. */
export function commandFor(commands: CommandTable, ins: number, kind: ClassKind): CommandSpec | number {
  const spec = commands.get(ins);
  if (!spec) return SW.INS_NOT_SUPPORTED;
  if (!spec.classes.includes(kind)) return SW.CLA_NOT_SUPPORTED;
  return spec;
}
