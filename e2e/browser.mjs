// How the end-to-end tests start Debian's Chromium: headless, as root, no background
// traffic, trusting exactly the test server's key. One place for the flags both specs use.

import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/**
 * Starts Chromium on the profile in `userDataDir` (a new empty directory for a first visit,
 * the same one again for a repeat visit), trusting the certificate whose SPKI pin is `pin`.
 */
export function launchChromium(userDataDir, pin) {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1100, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Trust exactly the server's key: unlike --ignore-certificate-errors, this keeps the
      // early-hinted fetches usable (no second fetch of each resource).
      `--ignore-certificate-errors-spki-list=${pin}`,
    ],
  });
}
