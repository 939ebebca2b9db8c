// What the browser tests share: the service (the binary the test run built, on a free
// port, stopped by its PID), the browser (Debian's chromium through playwright-core:
// nothing downloads one), HTTP helpers to seed data, and screenshots of every page when
// a test fails (in target/browser-artifacts/, their paths printed).

import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '..', '..');

/** Where screenshots and service logs go. */
export const artifacts = process.env.BROWSER_ARTIFACTS ?? join(repo, 'target', 'browser-artifacts');
mkdirSync(artifacts, { recursive: true });

/** The `messenger-api` binary: `MESSENGER_API_BIN`, else the debug build of this tree. */
export function binary() {
  if (process.env.MESSENGER_API_BIN) return process.env.MESSENGER_API_BIN;
  const meta = JSON.parse(execFileSync('cargo', ['metadata', '--format-version', '1', '--no-deps'], {
    cwd: repo, encoding: 'utf8',
  }));
  return join(meta.target_directory, 'debug', 'messenger-api');
}

export function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A short random name part, so runs and tests never collide. */
export const unique = () => randomBytes(4).toString('hex');

/** One `messenger-api` process; `restart` keeps its port and configuration. */
export class Service {
  constructor(name, env = {}) {
    this.name = name;
    this.env = env;
    this.child = null;
    this.port = null;
  }

  get base() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    this.port ??= await freePort();
    const log = openSync(join(artifacts, `${this.name}.log`), 'a');
    this.child = spawn(binary(), [], {
      env: {
        PATH: process.env.PATH,
        HOST: '127.0.0.1',
        PORT: String(this.port),
        RUST_LOG: 'warn',
        // Tests register several accounts from one address.
        REGISTER_LIMIT_PER_MIN: '1000',
        ...this.env,
      },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    const child = this.child;
    const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
    child.exited = exited;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) {
        throw new Error(`${this.name} exited at start-up (see ${join(artifacts, `${this.name}.log`)})`);
      }
      try {
        const r = await fetch(`${this.base}/ping`);
        if (r.ok) return this;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error(`${this.name} did not answer /ping within 30 s`);
  }

  /** Stops the process (SIGTERM, then SIGKILL after 15 s) by its PID. */
  async stop() {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await child.exited;
    clearTimeout(killer);
    this.child = null;
  }

  async restart() {
    await this.stop();
    await this.start();
  }
}

/** Calls the API; resolves to `{status, body, headers}`. */
export async function api(base, method, path, { token, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `session_id ${token}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const resp = await fetch(base + path, {
    method, headers: h, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  return { status: resp.status, body: text ? JSON.parse(text) : null, headers: resp.headers };
}

/** Registers and logs in an account through the API; its token. */
export async function account(base, name, password = 'a good password') {
  const reg = await api(base, 'POST', '/v1/auth/register', { body: { user_name: name, password } });
  if (reg.status !== 201) throw new Error(`register ${name}: ${reg.status}`);
  const login = await api(base, 'POST', '/v1/auth/login', { body: { user_name: name, password } });
  if (login.status !== 201) throw new Error(`login ${name}: ${login.status}`);
  return login.body.session_id;
}

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/**
 * Runs `body(open)` with a browser; `open(name, options)` gives a page in a new context
 * (a separate browser profile: its own sessionStorage). Every dialog is recorded in
 * `dialogs` (and dismissed); an uncaught script error or a Content-Security-Policy
 * violation on any page fails the test; when it fails, each page is saved as a screenshot.
 */
export async function withBrowser(testName, body) {
  const browser = await launch();
  const pages = [];
  const dialogs = [];
  const problems = [];
  const open = async (name, options = {}) => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 720 }, ...options });
    const page = await context.newPage();
    page.on('dialog', (d) => {
      dialogs.push(`${name}: ${d.type()} ${d.message()}`);
      d.dismiss().catch(() => {});
    });
    page.on('pageerror', (e) => problems.push(`${name}: uncaught ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) {
        problems.push(`${name}: ${m.text()}`);
      }
    });
    pages.push({ name, page });
    return page;
  };
  try {
    await body(open, dialogs);
    // No script error and nothing the Content-Security-Policy had to block.
    assert.deepEqual(problems, [], 'the pages ran without errors or policy violations');
  } catch (e) {
    const slug = testName.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
    for (const { name, page } of pages) {
      const file = join(artifacts, `${slug}-${name}.png`);
      try {
        await page.screenshot({ path: file, fullPage: true });
        console.error(`screenshot of ${name}: ${file}`);
      } catch (err) {
        console.error(`no screenshot of ${name}: ${err.message}`);
      }
    }
    throw e;
  } finally {
    await browser.close();
  }
}

// --- what a person does on the page -----------------------------------------------------

export async function register(page, base, name, password = 'a good password', hash = '') {
  await page.goto(`${base}/app/${hash}`);
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByText(`Logged in as ${name}`).waitFor();
}

export async function createChat(page, name) {
  await page.getByLabel('New chat').fill(name);
  await page.getByRole('button', { name: 'Create' }).click();
  await page.locator('#chat-title', { hasText: name }).waitFor();
  return page.url().split('#chat/')[1];
}

export async function send(page, text) {
  const box = page.getByLabel('Message', { exact: true });
  await box.fill(text);
  await box.press('Enter');
}

/** The texts of the shown (not pending) messages, in order. */
export function shownTexts(page) {
  return page.locator('#message-list .message .text').allTextContents();
}

/** A chat's entry in the list. */
export function chatEntry(page, chatId) {
  return page.locator(`#chat-list [data-chat-id="${chatId}"]`);
}
