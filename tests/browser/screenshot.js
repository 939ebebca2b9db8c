// Makes docs/web-client.png: two people chatting, their windows side by side.
// `npm run screenshot` (in tests/browser; the debug binary, Debian's chromium).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Service, launch, register, createChat, send, repo } from './harness.js';

const service = await new Service('screenshot').start();
const browser = await launch();
try {
  const size = { width: 780, height: 540 };
  const a = await (await browser.newContext({ viewport: size })).newPage();
  const b = await (await browser.newContext({ viewport: size })).newPage();
  await register(a, service.base, 'alice');
  const chat = await createChat(a, 'Weekend trip');
  await createChat(a, 'Book club');
  await a.goto(`${service.base}/app/#chat/${chat}`);
  await register(b, service.base, 'bob', 'a good password', `#join/${chat}`);
  await b.getByLabel('Your display name').fill('Bob');
  await b.getByRole('button', { name: 'Join', exact: true }).click();
  await b.locator('#composer-text').waitFor();
  const lines = [
    [a, 'Shall we take the early train on Saturday?'],
    [b, 'Yes! 7:40 from the central station?'],
    [a, 'Perfect. I will bring sandwiches.'],
    [b, 'And I the map. See you there!'],
  ];
  for (const [page, text] of lines) {
    await send(page, text);
    for (const p of [a, b]) await p.locator('#message-list .text', { hasText: text }).waitFor();
  }
  await a.locator('#pending-list .message').first().waitFor({ state: 'detached' }).catch(() => {});
  await b.locator('#pending-list .message').first().waitFor({ state: 'detached' }).catch(() => {});
  for (const p of [a, b]) await p.locator('#conn', { hasText: 'Live' }).waitFor();
  await b.getByLabel('Message', { exact: true }).fill('Typing…');
  const shots = [await a.screenshot(), await b.screenshot()];

  // Side by side on a blank page, then one screenshot of that.
  const sheet = await (await browser.newContext({
    viewport: { width: size.width * 2 + 36, height: size.height + 24 },
  })).newPage();
  await sheet.setContent(`<body style="margin:0;padding:12px;background:#c9d1de;display:flex;gap:12px">${
    shots.map((s) => `<img style="border-radius:6px" src="data:image/png;base64,${s.toString('base64')}">`).join('')
  }</body>`);
  const file = join(repo, 'docs', 'web-client.png');
  writeFileSync(file, await sheet.screenshot());
  console.log(`wrote ${file}`);
} finally {
  await browser.close();
  await service.stop();
}
