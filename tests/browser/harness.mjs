// What the browser tests and the screenshot script share: the real server binary on a free
// port with a temporary data dir, an HTTPS client for its API, and Debian's Chromium.
import {spawn} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {request} from 'node:https';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {chromium} from 'playwright-core';

export const ADMIN_PASSWORD = 'admin-password-for-browser-tests';

/**
 * Starts TOKENAUTH_SERVER_BIN on 127.0.0.1:0; resolves to {base, dataDir, api(method, path,
 * {bearer, body}), stop()} once its "listening" line names the port. With dataDir, the server
 * uses that directory (its data in dataDir/data) and stop() leaves it; stop() resolves when
 * the server has exited.
 */
export function startServer(binary = process.env.TOKENAUTH_SERVER_BIN, {dataDir: given} = {}) {
    if (!binary) throw new Error('set TOKENAUTH_SERVER_BIN to the tokenauth-server binary');
    const dataDir = given || mkdtempSync(join(tmpdir(), 'tokenauth-ui-'));
    const child = spawn(binary, ['--listen', '127.0.0.1:0', '--data-dir', join(dataDir, 'data'), '--threads', '4'], {
        env: {...process.env, TOKENAUTH_ADMIN_PASSWORD: ADMIN_PASSWORD},
        stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const stop = async () => {
        child.kill('SIGTERM');
        await exited;
        if (!given) rmSync(dataDir, {recursive: true, force: true});
    };
    return new Promise((resolve, reject) => {
        let log = '';
        const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 30000);
        child.stderr.on('data', (chunk) => {
            log += chunk;
            const line = log.split('\n').find((l) => l.includes('"event":"listening"'));
            if (!line) return;
            clearTimeout(timer);
            const base = `https://127.0.0.1:${JSON.parse(line).port}`;
            resolve({base, dataDir, api: (method, path, options) => call(base, method, path, options), stop});
        });
        child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${log}`)));
    });
}

/** One HTTPS request (the server's certificate is self-signed). */
function call(base, method, path, {bearer, body} = {}) {
    return new Promise((resolve, reject) => {
        const headers = {};
        if (bearer) headers.Authorization = `Bearer ${bearer}`;
        const text = body === undefined ? '' : JSON.stringify(body);
        if (text) headers['Content-Type'] = 'application/json';
        const req = request(`${base}${path}`, {method, headers, rejectUnauthorized: false}, (res) => {
            let data = '';
            res.on('data', (c) => { data += c; });
            res.on('end', () => {
                let json = null;
                try { json = data ? JSON.parse(data) : null; } catch { json = null; }
                resolve({status: res.statusCode, headers: res.headers, body: json, text: data});
            });
        });
        req.on('error', reject);
        req.end(text);
    });
}

/** Headless Chromium with the flags this closed network needs (no background connections). */
export function launchChromium() {
    return chromium.launch({
        executablePath: process.env.TOKENAUTH_CHROMIUM || '/usr/bin/chromium',
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
               '--disable-component-update', '--disable-sync'],
    });
}
