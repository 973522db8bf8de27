// A static server for the page on 127.0.0.1: the page's files, the built
// module and the digits data. Exported for the browser test; run directly
// (`node test/serve.mjs MODULE.wasm DIGITS_CSV [PORT]`) to try the page.
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const web = join(dirname(fileURLToPath(import.meta.url)), "..", "web");
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".csv": "text/csv" };

export function serve(wasmPath, csvPath, port = 0) {
  const files = {
    "/": join(web, "index.html"),
    "/index.html": join(web, "index.html"),
    "/app.js": join(web, "app.js"),
    "/vicreg_wasm.wasm": wasmPath,
    "/digits.csv": csvPath,
  };
  const server = createServer((req, res) => {
    const path = files[new URL(req.url, "http://localhost").pathname];
    if (!path) { res.writeHead(404).end("not found"); return; }
    const type = TYPES[path.slice(path.lastIndexOf("."))] ?? "application/octet-stream";
    res.writeHead(200, { "content-type": type }).end(readFileSync(path));
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [wasmPath, csvPath, port] = process.argv.slice(2);
  const server = await serve(wasmPath, csvPath, Number(port ?? 8080));
  console.log(`http://127.0.0.1:${server.address().port}/`);
}
