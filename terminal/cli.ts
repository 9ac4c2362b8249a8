#!/usr/bin/env node
import { Command } from "commander";

const program = new Command()
  .name("posd")
  .description(
    "the tapwallet terminal daemon: takes an amount, authenticates a wallet over NFC, debits it and stores a signed record",
  )
  .version("0.1.0");

program.parse();
