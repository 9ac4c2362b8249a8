#!/usr/bin/env node
import { Command } from "commander";

const program = new Command()
  .name("acquirer-stub")
  .description(
    "the tapwallet acquirer: verifies uploaded batches, settles per merchant, publishes the hotlist",
  )
  .version("0.1.0");

program.parse();
