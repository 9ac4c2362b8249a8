#!/usr/bin/env node
import { Command } from "commander";

const program = new Command()
  .name("card-emulator")
  .description("the tapwallet software wallet: in-process, or a virtual card on pcscd through vpcd")
  .version("0.1.0");

program.parse();
