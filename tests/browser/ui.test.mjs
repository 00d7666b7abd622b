// End-to-end tests of the web UI: the real tokenauth-server binary on a free port with a
// temporary data dir, Debian's Chromium (headless) driven by playwright-core, and the
// documentation's words as the accessible names. Run by ctest (browser.ui):
//   TOKENAUTH_SERVER_BIN=build/reference_server/tokenauth-server node --test tests/browser/ui.test.mjs
import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {ADMIN_PASSWORD, launchChromium, startServer} from './harness.mjs';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

let server;
let browser;
let api;
const pageErrors = [];

async function adminSession() {
    const r = await api('POST', '/v1/session/login', {body: {username: 'admin', password: ADMIN_PASSWORD}});
    assert.equal(r.status, 200);
    return r.body.bearer_token;
}

async function newPage() {
    const context = await browser.newContext({ignoreHTTPSErrors: true, baseURL: server.base});
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('dialog', (d) => { pageErrors.push(`unexpected browser dialog: ${d.message()}`); d.dismiss(); });
    return page;
}

async function signIn(page, user = 'admin', password = ADMIN_PASSWORD) {
    await page.goto('/');
    await page.getByLabel('Username').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', {name: 'Sign in'}).click();
    await page.getByRole('button', {name: 'Sign out'}).waitFor();
}

/** Runs a row's action from its Actions menu. */
async function rowAction(row, name) {
    await row.getByRole('button', {name: /^Actions/}).click();
    await row.getByRole('menuitem', {name, exact: true}).click();
}

/** The actions a row's menu offers, by name (the menu is closed again). */
async function rowActions(row) {
    await row.getByRole('button', {name: /^Actions/}).click();
    const names = await row.getByRole('menuitem').allTextContents();
    await row.page().keyboard.press('Escape');
    return names;
}

async function open(page, item) {
    await page.getByRole('button', {name: 'Cluster'}).click();
    await page.getByRole('menuitem', {name: item}).click();
    await page.getByRole('heading', {level: 1, name: item}).waitFor();
}

before(async () => {
    server = await startServer();
    api = server.api;
    browser = await launchChromium();
});

after(async () => {
    if (browser) await browser.close();
    if (server) server.stop();
});

test('the documentation\'s service-account steps end with a working access token', async () => {
    const page = await newPage();
    await signIn(page);
    // Cluster > Local Users & Groups > Users > Create > "Create user".
    await open(page, 'Local Users & Groups');
    const users = page.getByRole('region', {name: 'Users'});
    await users.getByRole('button', {name: 'Create', exact: true}).click();
    const createUser = page.getByRole('dialog', {name: 'Create user'});
    await createUser.getByLabel('User name').fill('svc-backup');
    await createUser.getByLabel('Password', {exact: true}).fill('svc-backup-password-1');
    await createUser.getByLabel('Confirm password').fill('svc-backup-password-1');
    await createUser.getByRole('button', {name: 'Create', exact: true}).click();
    await users.getByRole('rowheader', {name: 'svc-backup', exact: true}).waitFor();

    // Cluster > Role Management > Create Role: Name, Description, two privileges, Save.
    await open(page, 'Role Management');
    await page.getByRole('button', {name: 'Create Role'}).click();
    const createRole = page.getByRole('dialog', {name: 'Create role'});
    await createRole.getByLabel('Name', {exact: true}).fill('BackupRole');
    await createRole.getByLabel('Description').fill('backup service');
    await createRole.getByLabel('Filter privileges').fill('access_tokens');
    await createRole.getByLabel('PRIVILEGE_ACCESS_TOKENS_READ', {exact: true}).check();
    await createRole.getByLabel('Filter privileges').fill('');
    await createRole.getByLabel('PRIVILEGE_LOCAL_USER_READ', {exact: true}).check();
    await createRole.getByRole('button', {name: 'Save'}).click();
    const roleRow = page.getByRole('row').filter({has: page.getByRole('rowheader', {name: 'BackupRole', exact: true})});
    await roleRow.waitFor();
    // Add Member > "Add Member to BackupRole": Trustee, "Yes, Add Member".
    await roleRow.getByRole('button', {name: 'Add Member'}).click();
    const addMember = page.getByRole('dialog', {name: 'Add Member to BackupRole'});
    await addMember.getByLabel('Trustee').fill('svc-backup');
    await addMember.getByRole('button', {name: 'Yes, Add Member'}).click();
    await roleRow.getByText('svc-backup').waitFor();
    const role = await api('GET', '/v1/auth/roles/BackupRole', {bearer: await adminSession()});
    assert.deepEqual(role.body.privileges.sort(), ['PRIVILEGE_ACCESS_TOKENS_READ', 'PRIVILEGE_LOCAL_USER_READ']);

    // Cluster > Access Tokens > Create Access Token > "Create access token".
    await open(page, 'Access Tokens');
    await page.getByRole('button', {name: 'Create Access Token'}).click();
    const create = page.getByRole('dialog', {name: 'Create access token'});
    await create.getByLabel('User', {exact: true}).fill('svc-backup');
    await create.getByLabel('Name', {exact: true}).fill('nightly backup');
    await create.getByLabel('Expires').selectOption({label: 'On a date (UTC)'});
    await create.getByLabel('Expiration time').fill('2099-01-01T00:00');
    await create.getByRole('button', {name: 'Create', exact: true}).click();
    const field = create.getByLabel('Bearer token');
    await field.waitFor();
    assert.equal(await field.getAttribute('readonly'), '');
    await create.getByText('only time the token is shown').waitFor();
    await create.getByRole('button', {name: 'Copy'}).waitFor();
    await create.getByRole('button', {name: 'Download credentials file'}).waitFor();
    const bearer = await field.inputValue();
    assert.match(bearer, /^access-v1:[A-Za-z0-9+/]{71}=$/);
    let who = await api('GET', '/v1/session/who-am-i', {bearer});
    assert.equal(who.status, 200);
    assert.equal(who.body.name, 'svc-backup');
    // The download is the credentials file qq --file writes.
    const [download] = await Promise.all([page.waitForEvent('download'),
                                          create.getByRole('button', {name: 'Download credentials file'}).click()]);
    const chunks = [];
    for await (const c of await download.createReadStream()) chunks.push(c);
    assert.deepEqual(JSON.parse(Buffer.concat(chunks).toString()), {bearer_token: bearer, version: 1});
    await create.getByRole('button', {name: 'Done'}).click();
    await create.waitFor({state: 'detached'});
    assert.equal(await page.getByText(bearer.slice(10, 40)).count(), 0);  // the token has left the page
    assert.ok(!(await page.content()).includes(bearer.slice(10)));

    // The table shows it; Disable -> 401, Enable -> 200, Delete -> 401.
    const tokenId = who.body.access_token_id;
    const row = page.getByRole('row').filter({has: page.getByRole('rowheader', {name: tokenId})});
    await row.waitFor();
    assert.match(await row.textContent(), /2099-01-01 00:00 UTC/);
    assert.equal(await row.locator('time').first().getAttribute('title'), '2099-01-01 00:00:00 UTC');
    await row.getByRole('cell', {name: 'nightly backup', exact: true}).waitFor();
    await rowAction(row, 'Disable');
    await row.getByRole('cell', {name: 'Disabled', exact: true}).waitFor();
    await page.getByRole('status').filter({hasText: `Access token ${tokenId} disabled.`}).waitFor();
    who = await api('GET', '/v1/session/who-am-i', {bearer});
    assert.equal(who.status, 401);
    assert.equal(who.body.error_class, 'access_token_disabled_error');
    await rowAction(row, 'Enable');
    await row.getByRole('cell', {name: 'Enabled', exact: true}).waitFor();
    assert.equal((await api('GET', '/v1/session/who-am-i', {bearer})).status, 200);
    // Change the expiration.
    await rowAction(row, 'Change expiration');
    const change = page.getByRole('dialog', {name: 'Change expiration'});
    await change.getByLabel('Expiration time').fill('2098-06-30T12:00');
    await change.getByRole('button', {name: 'Save'}).click();
    await change.waitFor({state: 'detached'});
    const t = await api('GET', `/v1/auth/access-tokens/${tokenId}`, {bearer: await adminSession()});
    assert.equal(t.body.expiration_time.slice(0, 19), '2098-06-30T12:00:00');
    assert.equal(t.body.name, 'nightly backup');
    // Rename, then clear the name (an empty field removes it).
    for (const [typed, stored] of [['weekly backup', 'weekly backup'], ['', null]]) {
        await rowAction(row, 'Rename');
        const rename = page.getByRole('dialog', {name: 'Rename access token'});
        await rename.getByLabel('Name', {exact: true}).fill(typed);
        await rename.getByRole('button', {name: 'Save'}).click();
        await rename.waitFor({state: 'detached'});
        const named = await api('GET', `/v1/auth/access-tokens/${tokenId}`, {bearer: await adminSession()});
        assert.equal(named.body.name, stored);
    }
    await row.getByRole('cell', {name: 'weekly backup'}).waitFor({state: 'detached'});
    // Networks: bound to one the test's client is outside of, the token is refused; cleared,
    // it works again.
    await rowAction(row, 'Networks');
    let networks = page.getByRole('dialog', {name: 'Change allowed networks'});
    await networks.getByLabel('Allowed networks').fill('192.0.2.0/24, 2001:db8::/32');
    await networks.getByRole('button', {name: 'Save'}).click();
    await networks.waitFor({state: 'detached'});
    await row.getByText('from 192.0.2.0/24, 2001:db8::/32').waitFor();
    assert.equal((await api('GET', '/v1/session/who-am-i', {bearer})).status, 401);
    await rowAction(row, 'Networks');
    networks = page.getByRole('dialog', {name: 'Change allowed networks'});
    await networks.getByLabel('Allowed networks').fill('10.0.0.1/8');
    await networks.getByRole('button', {name: 'Save'}).click();
    await networks.getByText(/allowed_cidrs/).waitFor();  // the server's 400, shown in the dialog
    await networks.getByLabel('Allowed networks').fill('');
    await networks.getByRole('button', {name: 'Save'}).click();
    await networks.waitFor({state: 'detached'});
    assert.equal((await api('GET', '/v1/session/who-am-i', {bearer})).status, 200);
    // Rotate, keeping the old token for an hour: the new one is shown once, both work.
    await rowAction(row, 'Rotate');
    const rotateDialog = page.getByRole('dialog', {name: 'Rotate access token'});
    await rotateDialog.getByLabel('Old token keeps working').selectOption({label: 'For 1 hour'});
    await rotateDialog.getByRole('button', {name: 'Rotate', exact: true}).click();
    const successorField = rotateDialog.getByLabel('Bearer token');
    await successorField.waitFor();
    const successor = await successorField.inputValue();
    assert.match(successor, /^access-v1:[A-Za-z0-9+/]{71}=$/);
    assert.notEqual(successor, bearer);
    await rotateDialog.getByRole('button', {name: 'Done'}).click();
    await rotateDialog.waitFor({state: 'detached'});
    assert.equal((await api('GET', '/v1/session/who-am-i', {bearer: successor})).status, 200);
    assert.equal((await api('GET', '/v1/session/who-am-i', {bearer})).status, 200);
    // The old row says so and offers nothing but Delete.
    await row.getByRole('cell', {name: 'Rotated', exact: true}).waitFor();
    assert.deepEqual(await rowActions(row), ['Delete']);
    // Delete, confirmed in a dialog.
    await rowAction(row, 'Delete');
    await page.getByRole('dialog', {name: 'Delete access token'}).getByRole('button', {name: 'Yes, Delete'}).click();
    await row.waitFor({state: 'detached'});
    assert.equal((await api('GET', '/v1/session/who-am-i', {bearer})).status, 401);
    await page.close();
});

test('a user named with markup shows up literally and runs nothing', async () => {
    const evil = '<img src=x onerror="window.__pwned=1">';
    const r = await api('POST', '/v1/users/', {bearer: await adminSession(),
        body: {name: evil, primary_group: '0', uid: '', home_directory: null, password: null}});
    assert.equal(r.status, 200);
    const page = await newPage();
    await signIn(page);
    await open(page, 'Local Users & Groups');
    await page.getByRole('rowheader', {name: evil, exact: true}).waitFor();
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    assert.equal(await page.locator('img').count(), 0);
    await open(page, 'Access Tokens');
    await page.getByRole('button', {name: 'Create Access Token'}).click();
    const create = page.getByRole('dialog', {name: 'Create access token'});
    await create.getByLabel('User', {exact: true}).fill(evil);
    await create.getByLabel('Expires').selectOption({label: 'Never'});
    // No expiration: a warning first, and nothing created until "Create anyway".
    await create.getByRole('button', {name: 'Create', exact: true}).click();
    await create.getByRole('alert').filter({hasText: 'never expire'}).waitFor();
    assert.equal((await api('GET', '/v1/auth/access-tokens/', {bearer: await adminSession()})).body.entries
        .filter((t) => t.user.name === evil).length, 0);
    await create.getByRole('button', {name: 'Create anyway'}).click();
    await create.getByLabel('Bearer token').waitFor();
    await create.getByRole('button', {name: 'Done'}).click();
    await page.getByRole('cell', {name: evil, exact: true}).first().waitFor();
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    await page.close();
});

test('expired and expiring tokens are marked, and a past expiration is warned about before creating', async () => {
    const bearer = await adminSession();
    const soon = new Date(Date.now() + 2 * 86400 * 1000 - 60000).toISOString();
    await api('POST', '/v1/users/', {bearer, body: {name: 'svc-expiry', primary_group: '0', uid: '', home_directory: null,
                                                    password: null}});
    const expiring = (await api('POST', '/v1/auth/access-tokens/', {bearer,
        body: {user: {name: 'svc-expiry'}, expiration_time: soon}})).body.id;
    const expired = (await api('POST', '/v1/auth/access-tokens/', {bearer,
        body: {user: {name: 'svc-expiry'}, expiration_time: '2001-01-01T00:00:00Z'}})).body.id;
    const page = await newPage();
    await signIn(page);
    await open(page, 'Access Tokens');
    const rowOf = (id) => page.getByRole('row').filter({has: page.getByRole('rowheader', {name: id})});
    await rowOf(expiring).getByText('(in 2 d)').waitFor();
    await rowOf(expired).getByText('(expired)').waitFor();

    await page.getByRole('button', {name: 'Create Access Token'}).click();
    const create = page.getByRole('dialog', {name: 'Create access token'});
    await create.getByLabel('User', {exact: true}).fill('admin');
    await create.getByLabel('Expires').selectOption({label: 'On a date (UTC)'});
    await create.getByLabel('Expiration time').fill('2001-06-01T00:00');
    await create.getByRole('button', {name: 'Create', exact: true}).click();
    await create.getByRole('alert').filter({hasText: 'in the past'}).waitFor();
    // Another time warns again if it is bad too; a good one creates at once.
    await create.getByLabel('Expiration time').fill('2099-06-01T00:00');
    await create.getByRole('button', {name: 'Create anyway'}).click();
    await create.getByLabel('Bearer token').waitFor();
    await create.getByRole('button', {name: 'Done'}).click();
    await page.close();
});

test('a user with some read privileges sees what they may read, and in place what they may not', async () => {
    const bearer = await adminSession();
    const password = 'reader-password-1';
    const created = await api('POST', '/v1/users/', {bearer, body: {name: 'svc-reader', primary_group: '0', uid: '',
                                                                    home_directory: null, password}});
    assert.equal(created.status, 200);
    assert.equal((await api('POST', '/v1/auth/roles/', {bearer, body: {name: 'Readers', description: 'read users and tokens',
        privileges: ['PRIVILEGE_LOCAL_USER_READ', 'PRIVILEGE_ACCESS_TOKENS_READ']}})).status, 200);
    assert.equal((await api('POST', '/v1/auth/roles/Readers/members', {bearer, body: {name: 'svc-reader'}})).status, 200);
    const token = (await api('POST', '/v1/auth/access-tokens/', {bearer,
        body: {user: {name: 'svc-reader'}, expiration_time: '2099-01-01T00:00:00Z'}})).body.id;

    const page = await newPage();
    await signIn(page, 'svc-reader', password);
    // Users: the table, no write controls; groups: said in place.
    await open(page, 'Local Users & Groups');
    const users = page.getByRole('region', {name: 'Users'});
    await users.getByRole('rowheader', {name: 'admin', exact: true}).waitFor();
    // Finding and paging only: no button that changes anything.
    assert.deepEqual(await users.getByRole('button').allTextContents(), ['Find']);
    await users.getByText('Creating and changing users needs PRIVILEGE_LOCAL_USER_WRITE.').waitFor();
    await page.getByRole('region', {name: 'Groups'}).getByText('Reading groups needs PRIVILEGE_LOCAL_GROUP_READ.').waitFor();
    // Tokens: listed, without actions; creating is said to need the write privilege.
    await open(page, 'Access Tokens');
    await page.getByRole('rowheader', {name: token}).waitFor();
    await page.getByText('Creating and changing access tokens needs PRIVILEGE_ACCESS_TOKENS_WRITE.').waitFor();
    assert.equal(await page.getByRole('button', {name: 'Create Access Token'}).count(), 0);
    assert.equal(await page.getByRole('button', {name: 'Delete'}).count(), 0);
    // Roles: said in place.
    await open(page, 'Role Management');
    await page.getByText('Reading roles needs PRIVILEGE_ROLE_READ.').waitFor();
    assert.equal(await page.getByRole('alert').filter({hasText: /\S/}).count(), 0);  // no error shown
    await page.close();
});

test('mismatched passwords show a message in the dialog and create nothing', async () => {
    const page = await newPage();
    await signIn(page);
    await open(page, 'Local Users & Groups');
    await page.getByRole('region', {name: 'Users'}).getByRole('button', {name: 'Create', exact: true}).click();
    const dlg = page.getByRole('dialog', {name: 'Create user'});
    await dlg.getByLabel('User name').fill('mismatch-user');
    await dlg.getByLabel('Password', {exact: true}).fill('one-password-1');
    await dlg.getByLabel('Confirm password').fill('another-password-2');
    await dlg.getByRole('button', {name: 'Create', exact: true}).click();
    await dlg.getByRole('alert').filter({hasText: 'match'}).waitFor();
    assert.ok(await dlg.isVisible());
    const list = await api('GET', '/v1/users/', {bearer: await adminSession()});
    assert.ok(!list.body.some((u) => u.name === 'mismatch-user'));
    // An API error is shown with its description: the name is taken.
    await dlg.getByLabel('User name').fill('admin');
    await dlg.getByLabel('Confirm password').fill('one-password-1');
    await dlg.getByRole('button', {name: 'Create', exact: true}).click();
    await dlg.getByRole('alert').filter({hasText: /admin/}).waitFor();
    await page.close();
});

test('identities typed in the UI are parsed by the server\'s grammar, the one the CLI uses', async () => {
    const admin = await adminSession();
    const user = await api('POST', '/v1/users/', {bearer: admin,
        body: {name: 'parse-svc', primary_group: '0', uid: '', home_directory: null, password: null}});
    assert.equal(user.status, 200);
    assert.equal((await api('POST', '/v1/auth/roles/', {bearer: admin,
        body: {name: 'ParseRole', description: 'grammar', privileges: ['PRIVILEGE_LOCAL_USER_READ']}})).status, 200);
    const page = await newPage();
    await signIn(page);
    await open(page, 'Role Management');
    const roleRow = page.getByRole('row').filter({has: page.getByRole('rowheader', {name: 'ParseRole', exact: true})});
    await roleRow.getByRole('button', {name: 'Add Member'}).click();
    const dlg = page.getByRole('dialog', {name: 'Add Member to ParseRole'});
    // uid:abc is no uid (a second grammar once sent {"uid": NaN}); an unknown prefix is no name.
    await dlg.getByLabel('Trustee').fill('uid:abc');
    await dlg.getByRole('button', {name: 'Yes, Add Member'}).click();
    await dlg.getByRole('alert').filter({hasText: 'uid and gid must be non-negative 32-bit integers'}).waitFor();
    await dlg.getByLabel('Trustee').fill('foo:parse-svc');
    await dlg.getByRole('button', {name: 'Yes, Add Member'}).click();
    await dlg.getByRole('alert').filter({hasText: 'unknown identity prefix'}).waitFor();
    await dlg.getByLabel('Trustee').fill(` auth_id:${user.body.id} `);
    await dlg.getByRole('button', {name: 'Yes, Add Member'}).click();
    await dlg.waitFor({state: 'detached'});
    const members = await api('GET', '/v1/auth/roles/ParseRole/members/', {bearer: admin});
    assert.equal(Object.keys(members.body.members).length, 1);
    assert.ok(JSON.stringify(members.body.members).includes(`"${user.body.id}"`));
    await page.close();
});

test('ending sessions: a user\'s from the Users table, and one\'s own others from the header', async () => {
    const admin = await adminSession();
    assert.equal((await api('POST', '/v1/users/', {bearer: admin,
        body: {name: 'ending-user', primary_group: '0', uid: '', home_directory: null, password: 'ending-password-1'}})).status, 200);
    const login = async () => (await api('POST', '/v1/session/login',
        {body: {username: 'ending-user', password: 'ending-password-1'}})).body.bearer_token;
    const theirs = await login();
    const page = await newPage();
    await signIn(page);
    await open(page, 'Local Users & Groups');
    await page.getByRole('button', {name: 'End sessions of ending-user'}).click();
    const dlg = page.getByRole('dialog', {name: 'End sessions'});
    await dlg.getByRole('button', {name: 'Yes, End sessions'}).click();
    await page.getByRole('status').filter({hasText: 'Every session of ending-user has ended.'}).waitFor();
    assert.equal((await api('GET', '/v1/session/who-am-i', {bearer: theirs})).status, 401);

    // The admin's other session ends; this page's goes on with its successor.
    const other = await adminSession();
    await page.getByRole('button', {name: 'End other sessions'}).click();
    await page.getByRole('dialog', {name: 'End other sessions'}).getByRole('button', {name: 'Yes, End them'}).click();
    await page.getByRole('status').filter({hasText: 'Your other sessions have ended.'}).waitFor();
    assert.equal((await api('GET', '/v1/session/who-am-i', {bearer: other})).status, 401);
    await open(page, 'Access Tokens');  // still signed in
    await page.getByRole('button', {name: 'Sign out'}).waitFor();
    await page.close();
});

test('every UI response carries the security headers', async () => {
    for (const path of ['/', '/ui/app.js', '/ui/app.css', '/ui/dom.js']) {
        const r = await api('GET', path);
        assert.equal(r.status, 200, path);
        const csp = r.headers['content-security-policy'];
        assert.ok(csp, `${path}: no CSP`);
        assert.match(csp, /frame-ancestors 'none'/);
        assert.match(csp, /script-src 'self'(;|$)/);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
        assert.equal(r.headers['x-content-type-options'], 'nosniff');
        assert.equal(r.headers['referrer-policy'], 'no-referrer');
    }
    assert.equal((await api('GET', '/ui/nope.js')).status, 404);
    assert.match((await api('GET', '/')).headers['content-type'], /^text\/html/);
    assert.match((await api('GET', '/ui/app.js')).headers['content-type'], /^text\/javascript/);
});

test('sign-in: a wrong password stays on the form; the session lives in sessionStorage; sign-out', async () => {
    const page = await newPage();
    await page.goto('/');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', {name: 'Sign in'}).click();
    await page.getByRole('alert').filter({hasText: 'invalid username or password'}).waitFor();
    await page.getByRole('button', {name: 'Sign in'}).waitFor();

    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', {name: 'Sign in'}).click();
    await page.getByText('Signed in as admin').waitFor();
    const storage = await page.evaluate(() => ({
        local: localStorage.length, cookie: document.cookie, session: sessionStorage.getItem('tokenauth.session'),
    }));
    assert.equal(storage.local, 0);
    assert.equal(storage.cookie, '');
    assert.match(storage.session, /^session-v1:/);
    // A reload keeps the tab's session; sign-out ends it, and a reload then shows the form.
    await page.reload();
    await page.getByRole('button', {name: 'Sign out'}).click();
    await page.getByRole('button', {name: 'Sign in'}).waitFor();
    await page.reload();
    await page.getByRole('button', {name: 'Sign in'}).waitFor();
    assert.equal(await page.getByRole('button', {name: 'Sign out'}).count(), 0);
    await page.close();
});

test('a 401 returns to the sign-in form; the user can change their own password', async () => {
    const admin = await adminSession();
    await api('POST', '/v1/users/', {bearer: admin, body: {name: 'ops', primary_group: '0', uid: '',
                                                             home_directory: null, password: 'ops-password-1'}});
    const page = await newPage();
    await signIn(page, 'ops', 'ops-password-1');
    await page.getByRole('button', {name: 'Change password'}).click();
    const dlg = page.getByRole('dialog', {name: 'Change password'});
    await dlg.getByLabel('Current password').fill('ops-password-1');
    await dlg.getByLabel('New password', {exact: true}).fill('ops-password-2');
    await dlg.getByLabel('Confirm new password').fill('ops-password-2');
    await dlg.getByRole('button', {name: 'Change password'}).click();
    await dlg.waitFor({state: 'detached'});
    assert.equal((await api('POST', '/v1/session/login', {body: {username: 'ops', password: 'ops-password-2'}})).status, 200);
    // The page kept working with the fresh session; an admin ending it sends it to sign-in.
    const ops = (await api('GET', '/v1/users/', {bearer: admin})).body.find((u) => u.name === 'ops');
    await api('POST', `/v1/users/${ops.id}/setpassword`, {bearer: admin, body: {new_password: 'ops-password-3'}});
    await page.getByRole('button', {name: 'Cluster'}).click();
    await page.getByRole('menuitem', {name: 'Access Tokens'}).click();
    await page.getByRole('button', {name: 'Sign in'}).waitFor();
    await page.getByText('Your session has ended').waitFor();
    await page.close();
});

/** A user holding the Administrators role (so that tokens for it may carry any scope). */
async function administrator(bearer, name) {
    assert.equal((await api('POST', '/v1/users/', {bearer, body: {name, primary_group: '0', uid: '', home_directory: null,
                                                                  password: null}})).status, 200);
    assert.equal((await api('POST', '/v1/auth/roles/Administrators/members', {bearer, body: {name}})).status, 200);
    return name;
}

/** Creates a token through the API (a name and privileges long enough to need room). */
async function tokenFor(bearer, user, extra = {}) {
    const r = await api('POST', '/v1/auth/access-tokens/', {bearer, body: {user: {name: user},
        expiration_time: '2099-01-01T00:00:00Z', ...extra}});
    assert.equal(r.status, 200);
    return r.body.id;
}

test('the tokens table fits 1280 px: one line a row, actions visible, ids shortened and copied whole', async () => {
    const bearer = await adminSession();
    const id = await tokenFor(bearer, await administrator(bearer, 'svc-wide'), {
        name: 'a very long token name that would wrap the row if it were shown whole',
        privileges: ['PRIVILEGE_LOCAL_USER_READ', 'PRIVILEGE_ACCESS_TOKENS_READ', 'PRIVILEGE_ROLE_READ'],
        allowed_cidrs: ['10.0.0.0/8', '192.168.0.0/16', '2001:db8::/32']});
    const context = await browser.newContext({ignoreHTTPSErrors: true, baseURL: server.base,
                                              viewport: {width: 1280, height: 800}});
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], {origin: server.base});
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await signIn(page);
    await open(page, 'Access Tokens');
    const row = page.getByRole('row').filter({has: page.getByRole('rowheader', {name: id})});
    await row.waitFor();
    const fit = await page.evaluate(() => {
        const table = document.querySelector('table');
        const rows = [...table.querySelectorAll('tbody tr')].map((r) => r.getBoundingClientRect().height);
        const line = parseFloat(getComputedStyle(table).lineHeight);
        const columns = [...table.querySelectorAll('thead th')].map((th) => `${th.textContent} ${Math.round(th.getBoundingClientRect().width)}`);
        return {page: document.documentElement.scrollWidth, table: table.getBoundingClientRect().right, rows, line, columns};
    });
    assert.ok(fit.page <= 1280, `the page is ${fit.page} px wide (${fit.columns.join(', ')})`);
    assert.ok(fit.table <= 1280, `the table ends at ${fit.table} px`);
    for (const height of fit.rows) assert.ok(height < 2 * fit.line + 20, `a row is ${height} px high (a line is ${fit.line})`);
    const actions = await row.getByRole('button', {name: /^Actions/}).boundingBox();
    assert.ok(actions && actions.x + actions.width <= 1280, 'the Actions button is on screen');
    // The id: shortened in the cell, whole on hover and when copied.
    const code = row.getByRole('rowheader').locator('code');
    assert.match(await code.textContent(), /^\d{4}\u2026\d{4}$/);
    assert.match(await code.getAttribute('title'), new RegExp(`^${id}, created `));
    await row.getByRole('button', {name: `Copy token id ${id}`}).click();
    await page.getByRole('status').filter({hasText: `Token id ${id} copied.`}).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), id);
    await context.close();
});

test('dialogs: destructive confirmations focus Cancel, Escape asks before a new token is discarded', async () => {
    await administrator(await adminSession(), 'svc-dialogs');
    const page = await newPage();
    await signIn(page);
    await open(page, 'Access Tokens');
    await page.getByRole('button', {name: 'Create Access Token'}).click();
    const create = page.getByRole('dialog', {name: 'Create access token'});
    await create.getByLabel('User', {exact: true}).fill('svc-dialogs');
    // The presets: 30 days from now, shown in UTC.
    await create.getByLabel('Expires').selectOption({label: 'In 30 days'});
    const in30 = new Date(Date.now() + 30 * 86400 * 1000).toISOString().slice(0, 10);
    await create.getByText(new RegExp(`^Expires ${in30} \\d\\d:\\d\\d:\\d\\d UTC$`)).waitFor();
    await create.getByRole('button', {name: 'Create', exact: true}).click();
    await create.getByLabel('Bearer token').waitFor();
    await page.getByRole('status').filter({hasText: /created; its bearer token is shown once/}).waitFor();
    const id = (await create.getByText(/^Token id:/).textContent()).replace('Token id: ', '');
    const t = await api('GET', `/v1/auth/access-tokens/${id}`, {bearer: await adminSession()});
    assert.equal(t.body.expiration_time.slice(0, 10), in30);
    // Escape: asked first; "Keep it" goes back to the token; Escape again and "Discard" close.
    await page.keyboard.press('Escape');
    const ask = create.getByRole('alertdialog', {name: 'Discard the token?'});
    await ask.waitFor();
    assert.equal(await create.isVisible(), true);
    await ask.getByRole('button', {name: 'Keep it'}).click();
    await ask.waitFor({state: 'hidden'});
    await page.keyboard.press('Escape');
    await ask.getByRole('button', {name: 'Discard'}).click();
    await create.waitFor({state: 'detached'});
    // Delete's confirmation opens with Cancel focused: Enter cancels.
    const row = page.getByRole('row').filter({has: page.getByRole('rowheader', {name: id})});
    await rowAction(row, 'Delete');
    const confirmDelete = page.getByRole('dialog', {name: 'Delete access token'});
    await confirmDelete.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Cancel');
    await page.keyboard.press('Enter');
    await confirmDelete.waitFor({state: 'detached'});
    assert.equal((await api('GET', `/v1/auth/access-tokens/${id}`, {bearer: await adminSession()})).status, 200);
    await page.close();
});

test('a dialog open when the session ends closes, and signing in returns to it', async () => {
    const page = await newPage();
    await signIn(page);
    await open(page, 'Access Tokens');
    await page.getByRole('button', {name: 'Create Access Token'}).click();
    const create = page.getByRole('dialog', {name: 'Create access token'});
    await create.getByLabel('User', {exact: true}).fill('admin');
    // Another session of admin ends every other one, this page's included.
    assert.equal((await api('POST', '/v1/session/end-others', {bearer: await adminSession()})).status, 200);
    await create.getByRole('button', {name: 'Create', exact: true}).click();
    await page.getByRole('heading', {name: 'Sign in'}).waitFor();
    await create.waitFor({state: 'detached'});
    await page.getByText('Your session has ended; sign in again.').waitFor();
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', {name: 'Sign in'}).click();
    await page.getByRole('heading', {level: 1, name: 'Access Tokens'}).waitFor();
    await page.getByRole('dialog', {name: 'Create access token'}).waitFor();
    await page.close();
});

test('390 px: the header wraps and tables become cards, without sideways scrolling; dark scheme; favicon', async () => {
    const context = await browser.newContext({ignoreHTTPSErrors: true, baseURL: server.base,
                                              viewport: {width: 390, height: 844}, colorScheme: 'dark'});
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await signIn(page);
    for (const section of ['Access Tokens', 'Local Users & Groups', 'Role Management']) {
        await open(page, section);
        await page.locator('table').first().waitFor();
        const layout = await page.evaluate(() => ({
            width: document.documentElement.scrollWidth,
            head: getComputedStyle(document.querySelector('thead')).position,
            row: getComputedStyle(document.querySelector('tbody tr')).display,
        }));
        assert.ok(layout.width <= 390, `${section} is ${layout.width} px wide`);
        assert.equal(layout.head, 'absolute');  // the header row is for screen readers only
        assert.equal(layout.row, 'block');      // each row a card
    }
    const brand = await page.getByText('tokenauth', {exact: true}).boundingBox();
    const signOut = await page.getByRole('button', {name: 'Sign out'}).boundingBox();
    assert.ok(signOut.y > brand.y + brand.height / 2, 'the header wrapped onto a second line');
    // prefers-color-scheme: dark turns the page dark.
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = background.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 120, `the dark background is ${background}`);
    await context.close();
    const icon = await api('GET', '/favicon.ico');
    assert.equal(icon.status, 200);
    assert.equal(icon.headers['content-type'], 'image/svg+xml');
});

test('axe-core finds no accessibility violation in any state, in the light and the dark scheme', async () => {
    const bearer = await adminSession();
    await tokenFor(bearer, await administrator(bearer, 'svc-axe'), {name: 'axe', allowed_cidrs: ['10.0.0.0/8']});
    const found = [];
    let checks = 0;
    for (const colorScheme of ['light', 'dark']) {
        for (const viewport of [{width: 1280, height: 900}, {width: 390, height: 844}]) {
            // axe is injected as a script, which the UI's Content-Security-Policy would refuse.
            const context = await browser.newContext({ignoreHTTPSErrors: true, baseURL: server.base, viewport, colorScheme,
                                                      bypassCSP: true});
            const page = await context.newPage();
            page.on('pageerror', (e) => pageErrors.push(e.message));
            const check = async (state) => {
                if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.addScriptTag({path: AXE});
                const result = await page.evaluate(() => window.axe.run(document, {resultTypes: ['violations']}));
                checks += 1;
                for (const v of result.violations)
                    found.push(`${colorScheme} ${viewport.width}px, ${state}: ${v.id} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`);
            };
            const inDialog = async (state, title, openIt) => {
                await openIt();
                const d = page.getByRole('dialog', {name: title});
                await d.waitFor();
                await check(state);
                await page.keyboard.press('Escape');
                await d.waitFor({state: 'detached'});
            };
            await page.goto('/');
            await page.getByLabel('Username').waitFor();
            await check('sign-in');
            await page.getByLabel('Username').fill('admin');
            await page.getByLabel('Password').fill('wrong password');
            await page.getByRole('button', {name: 'Sign in'}).click();
            await page.getByRole('alert').filter({hasText: /\S/}).waitFor();
            await check('sign-in with an error');
            await signIn(page);
            await open(page, 'Local Users & Groups');
            await page.getByRole('region', {name: 'Users'}).getByRole('table').waitFor();
            await check('users and groups');
            await inDialog('create user', 'Create user',
                           () => page.getByRole('region', {name: 'Users'}).getByRole('button', {name: 'Create', exact: true}).click());
            await inDialog('create group', 'Create group',
                           () => page.getByRole('region', {name: 'Groups'}).getByRole('button', {name: 'Create', exact: true}).click());
            await inDialog('change password', 'Change password', () => page.getByRole('button', {name: 'Change password'}).click());
            await open(page, 'Role Management');
            await page.getByRole('table').waitFor();
            await check('roles');
            await inDialog('create role', 'Create role', () => page.getByRole('button', {name: 'Create Role'}).click());
            await open(page, 'Access Tokens');
            const row = page.getByRole('row').filter({hasText: 'axe'});
            await row.waitFor();
            await check('tokens');
            await row.getByRole('button', {name: /^Actions/}).click();
            await check('a token\'s actions menu');
            await page.keyboard.press('Escape');
            for (const [action, title] of [['Rotate', 'Rotate access token'], ['Change expiration', 'Change expiration'],
                                           ['Rename', 'Rename access token'], ['Networks', 'Change allowed networks'],
                                           ['Delete', 'Delete access token']])
                await inDialog(`the ${action} dialog`, title, () => rowAction(row, action));
            await page.getByRole('button', {name: 'Create Access Token'}).click();
            const create = page.getByRole('dialog', {name: 'Create access token'});
            await check('create access token');
            await create.getByLabel('User', {exact: true}).fill('nobody-by-this-name');
            await create.getByRole('button', {name: 'Create', exact: true}).click();
            await create.getByRole('alert').filter({hasText: /\S/}).waitFor();
            await check('an error in a dialog');
            await create.getByLabel('User', {exact: true}).fill('svc-axe');
            await create.getByRole('button', {name: 'Create', exact: true}).click();
            await create.getByLabel('Bearer token').waitFor();
            const created = (await create.getByText(/^Token id:/).textContent()).replace('Token id: ', '');
            await check('the token shown once');
            await page.keyboard.press('Escape');
            await create.getByRole('alertdialog').waitFor();
            await check('asked before discarding');
            await create.getByRole('button', {name: 'Discard'}).click();
            await create.waitFor({state: 'detached'});
            assert.equal((await api('DELETE', `/v1/auth/access-tokens/${created}`, {bearer})).status, 200);  // room for the next
            await context.close();
        }
    }
    assert.deepEqual(found, []);
    assert.ok(checks >= 4 * 17, `axe ran ${checks} times`);
    // The check can fail: an unlabelled field is found.
    const context = await browser.newContext({ignoreHTTPSErrors: true, baseURL: server.base, bypassCSP: true});
    const page = await context.newPage();
    await page.goto('/');
    await page.getByLabel('Username').waitFor();
    await page.evaluate(() => document.querySelector('form').append(document.createElement('input')));
    await page.addScriptTag({path: AXE});
    const planted = await page.evaluate(() => window.axe.run(document, {resultTypes: ['violations']}));
    assert.ok(planted.violations.some((v) => v.id === 'label'), 'axe finds an input without a label');
    await context.close();
});

test('10,000 users: one page of rows at a time, found by name, sorted, paged', async () => {
    // The directory is made with SQL between two starts of the server (10,000 API calls would
    // measure the API, not the page).
    const dir = mkdtempSync(join(tmpdir(), 'tokenauth-ui-large-'));
    let large = await startServer(undefined, {dataDir: dir});
    await large.stop();
    execFileSync('sqlite3', [join(dir, 'data', 'tokenauth.db'), `
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
        INSERT INTO principals (auth_id, kind, name, primary_group, session_binding, name_key)
            SELECT 100000 + i, 'user', printf('bulk-%05d', i), 513, randomblob(16), printf('bulk-%05d', i) FROM n;
        UPDATE meta SET value = '200000' WHERE key = 'next_auth_id';`]);
    large = await startServer(undefined, {dataDir: dir});
    try {
        const context = await browser.newContext({ignoreHTTPSErrors: true, baseURL: large.base});
        const page = await context.newPage();
        page.on('pageerror', (e) => pageErrors.push(e.message));
        await signIn(page);
        const started = Date.now();
        await open(page, 'Local Users & Groups');
        const users = page.getByRole('region', {name: 'Users'});
        await users.getByRole('rowheader', {name: 'admin', exact: true}).waitFor();
        console.log(`10,000 users: the Users page's first screen in ${Date.now() - started} ms`);
        const rowCount = () => page.locator('tbody tr').count();
        assert.ok(await rowCount() <= 100 + 2 + 10, `${await rowCount()} rows in the document`);  // users, groups
        assert.equal(await users.locator('tbody tr').count(), 100);
        await users.getByText('Users 1\u2013100').waitFor();
        // Next page, and back.
        await users.getByRole('button', {name: 'Next page'}).click();
        await users.getByText('Users 101\u2013200').waitFor();
        await users.getByRole('rowheader', {name: 'bulk-00099', exact: true}).waitFor();
        assert.equal(await users.locator('tbody tr').count(), 100);
        await users.getByRole('button', {name: 'Previous page'}).click();
        await users.getByText('Users 1\u2013100').waitFor();
        // Found by the beginning of the name, in any case.
        await users.getByLabel('Find users by name').fill('BULK-0999');
        await users.getByRole('button', {name: 'Find'}).click();
        await users.getByText('Users 1\u201310').waitFor();
        assert.equal(await users.locator('tbody tr').count(), 10);
        assert.equal(await users.getByRole('button', {name: 'Next page'}).isVisible(), false);
        // Sorted by name, descending ids do not matter: bulk-00001 comes before admin.
        await users.getByLabel('Find users by name').fill('');
        await users.getByLabel('Sort by').selectOption({label: 'Name'});
        await users.getByText('Users 1\u2013100').waitFor();
        assert.equal(await users.getByRole('rowheader').first().textContent(), 'admin');
        assert.equal(await users.getByRole('rowheader').nth(1).textContent(), 'bulk-00001');
        // The Users group has 10,001 members: it shows some and counts the rest.
        const groups = page.getByRole('region', {name: 'Groups'});
        await groups.getByText('and 9981 more').waitFor();
        assert.ok(await page.locator('li').count() < 200, 'member lists are cut short');
        await context.close();
    } finally {
        await large.stop();
        rmSync(dir, {recursive: true, force: true});
    }
});

test('no uncaught errors in any page', () => {
    assert.deepEqual(pageErrors, []);
});
