// The page in a real headless Chromium: it trains, the loss falls, the
// 5-shot accuracy of its representation rises, nothing errors in the
// console; a screenshot is saved.
//   node test/browser.mjs MODULE.wasm DIGITS_CSV SCREENSHOT.png
import { chromium } from "playwright-core";
import { serve } from "./serve.mjs";

const [wasmPath, csvPath, screenshot] = process.argv.slice(2);
if (!screenshot) {
  console.error("usage: node browser.mjs MODULE.wasm DIGITS_CSV SCREENSHOT.png");
  process.exit(2);
}
let passed = 0, failed = 0;
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  ok ? passed++ : failed++;
}

const server = await serve(wasmPath, csvPath);
const url = `http://127.0.0.1:${server.address().port}/`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1040, height: 800 } });
  const problems = [];
  page.on("console", (msg) => { if (msg.type() === "error") problems.push(msg.text()); });
  page.on("pageerror", (err) => problems.push(String(err)));
  await page.goto(url);
  await page.waitForFunction(() => window.vicregResult !== undefined, null, { timeout: 180_000 });
  const result = await page.evaluate(() => window.vicregResult);
  console.log(`page trained ${result.steps} steps at ${result.stepsPerSecond.toFixed(0)} steps/s: loss ${result.first[0].toFixed(3)} → ${result.last[0].toFixed(3)}, ` +
    `5-shot accuracy ${result.fewShotBefore.toFixed(3)} → ${result.fewShotAfter.toFixed(3)}`);
  check(result.steps === 300, "the page ran every step");
  check(result.last[0] < result.first[0] - 1.0, "the loss falls in the browser");
  check(result.fewShotAfter > result.fewShotBefore + 0.02, "the 5-shot accuracy of the representation rises");
  const text = await page.evaluate(() => document.body.innerText);
  for (const label of ["principal component", "λ·invariance", "learning rate", "5-shot accuracy"]) {
    check(text.includes(label) || (await page.evaluate((l) => document.documentElement.outerHTML.includes(l), label)),
      `the page shows "${label}"`);
  }
  // A bad learning rate (negative, zero, an empty box) is refused on the
  // page, not trained with.
  for (const bad of ["-1", "0", ""]) {
    await page.fill("#lr", bad);
    await page.click("#restart");
    const refused = await page.textContent("#status");
    check(refused.includes("refused"), `a learning rate of "${bad}" is refused: "${refused}"`);
  }
  // The loss terms in the colours of the jobs' SVG charts.
  const swatches = await page.$$eval("#legend i", (is) => is.map((i) => getComputedStyle(i).backgroundColor));
  check(swatches.join(";") === "rgb(31, 119, 180);rgb(255, 127, 14);rgb(44, 160, 44);rgb(214, 39, 40)",
    `the legend's colours are the charts': ${swatches.join("; ")}`);
  // The CNN, chosen on the page: its own rate, a 64-d representation, and
  // its loss falls within a few dozen steps.
  await page.selectOption("#encoder", "1");
  check(await page.inputValue("#lr") === "0.002", "choosing the CNN sets its learning rate");
  await page.fill("#steps", "40");
  await page.click("#restart");
  await page.waitForFunction(() => window.vicregResult !== undefined, null, { timeout: 180_000 });
  const cnn = await page.evaluate(() => window.vicregResult);
  console.log(`the CNN trained ${cnn.steps} steps at ${cnn.stepsPerSecond.toFixed(1)} steps/s: loss ${cnn.first[0].toFixed(3)} → ${cnn.last[0].toFixed(3)}, ` +
    `5-shot accuracy ${cnn.fewShotBefore.toFixed(3)} → ${cnn.fewShotAfter.toFixed(3)}`);
  check(cnn.encoder === 1 && cnn.repr === 64 && cnn.steps === 40, "the page trained the CNN (64-d) for every step");
  check(cnn.last[0] < cnn.first[0] - 1.0, "the CNN's loss falls in the browser");
  await page.selectOption("#encoder", "0");
  await page.fill("#steps", "300");
  await page.fill("#lr", "0.001");
  await page.click("#restart");
  await page.waitForFunction(() => window.vicregResult !== undefined, null, { timeout: 180_000 });
  check(problems.length === 0, `no console errors${problems.length ? ": " + problems.join("; ") : ""}`);
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`screenshot: ${screenshot}`);
} finally {
  await browser.close();
  server.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
