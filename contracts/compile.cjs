// Compile the project's own contracts with the npm `solc` (solcjs, bundled compiler).
// Reads a solc standard-JSON input on stdin, writes the standard-JSON output on stdout.
// Used by backtest/devnet/artifacts.py, which builds the input and caches the output. The first
// argument names the npm solc package (default `solc`; `solc-0.8.19` for Morpho Blue).
const solc = require(process.argv[2] || "solc");
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const output = solc.compile(input);
  process.stdout.write(JSON.stringify({ version: solc.version(), output: JSON.parse(output) }));
});
