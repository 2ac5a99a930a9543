// What the client scripts share: a check that ends the run at the first wrong answer, and the
// `ok STEP` line per step the Rust tests count.
export function check(ok, what) {
  if (!ok) {
    console.error(`FAIL: ${what}`);
    process.exit(1);
  }
}

export const step = (what) => console.log(`ok ${what}`);
