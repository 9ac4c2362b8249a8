// The end-to-end demo (virtual card, terminal, acquirer). Filled in by the terminal issue.
console.log("demo: not yet — the terminal engine has not landed. Run `npm test` for what exists.");
