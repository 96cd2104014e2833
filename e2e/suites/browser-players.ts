// Two drop-four players in Chromium pages (playwright-core, Debian's Chromium): the first plays Red,
// the second Yellow, and Red is to move once both are seated.
import type { Browser, Page } from 'playwright-core';

export const STEP_MS = 60_000;

export const waitText = (page: Page, selector: string, text: RegExp) => page.locator(selector, { hasText: text }).waitFor({ timeout: STEP_MS });

export async function seatTwoPlayers(browser: Browser, url: string): Promise<{ red: Page; yellow: Page }> {
  const red = await browser.newPage();
  await red.goto(url);
  await waitText(red, '#connection', /^Connected$/);
  await waitText(red, '#you', /^You play Red\.$/);
  const yellow = await browser.newPage();
  await yellow.goto(url);
  await waitText(yellow, '#you', /^You play Yellow\.$/);
  await waitText(red, '#status', /Your turn\.$/);
  return { red, yellow };
}
