// End-to-end tests of the web UI: the real tokenauth-server binary on a free port with a
// temporary data dir, Debian's Chromium (headless) driven by playwright-core, and the
// documentation's words as the accessible names. Run by ctest (browser.ui):
//   TOKENAUTH_SERVER_BIN=build/reference_server/tokenauth-server node --test tests/browser/ui.test.mjs
import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {ADMIN_PASSWORD, launchChromium, startServer} from './harness.mjs';

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
    assert.match(await row.textContent(), /2099-01-01 00:00:00 UTC/);
    await row.getByRole('cell', {name: 'nightly backup', exact: true}).waitFor();
    await row.getByRole('button', {name: 'Disable'}).click();
    await row.getByRole('button', {name: 'Enable'}).waitFor();
    who = await api('GET', '/v1/session/who-am-i', {bearer});
    assert.equal(who.status, 401);
    assert.equal(who.body.error_class, 'access_token_disabled_error');
    await row.getByRole('button', {name: 'Enable'}).click();
    await row.getByRole('button', {name: 'Disable'}).waitFor();
    assert.equal((await api('GET', '/v1/session/who-am-i', {bearer})).status, 200);
    // Change the expiration.
    await row.getByRole('button', {name: 'Change expiration'}).click();
    const change = page.getByRole('dialog', {name: 'Change expiration'});
    await change.getByLabel('Expiration time').fill('2098-06-30T12:00');
    await change.getByRole('button', {name: 'Save'}).click();
    await change.waitFor({state: 'detached'});
    const t = await api('GET', `/v1/auth/access-tokens/${tokenId}`, {bearer: await adminSession()});
    assert.equal(t.body.expiration_time.slice(0, 19), '2098-06-30T12:00:00');
    assert.equal(t.body.name, 'nightly backup');
    // Rename, then clear the name (an empty field removes it).
    for (const [typed, stored] of [['weekly backup', 'weekly backup'], ['', null]]) {
        await row.getByRole('button', {name: 'Rename'}).click();
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
    await row.getByRole('button', {name: 'Networks'}).click();
    let networks = page.getByRole('dialog', {name: 'Change allowed networks'});
    await networks.getByLabel('Allowed networks').fill('192.0.2.0/24, 2001:db8::/32');
    await networks.getByRole('button', {name: 'Save'}).click();
    await networks.waitFor({state: 'detached'});
    await row.getByText('from 192.0.2.0/24, 2001:db8::/32').waitFor();
    assert.equal((await api('GET', '/v1/session/who-am-i', {bearer})).status, 401);
    await row.getByRole('button', {name: 'Networks'}).click();
    networks = page.getByRole('dialog', {name: 'Change allowed networks'});
    await networks.getByLabel('Allowed networks').fill('10.0.0.1/8');
    await networks.getByRole('button', {name: 'Save'}).click();
    await networks.getByText(/allowed_cidrs/).waitFor();  // the server's 400, shown in the dialog
    await networks.getByLabel('Allowed networks').fill('');
    await networks.getByRole('button', {name: 'Save'}).click();
    await networks.waitFor({state: 'detached'});
    assert.equal((await api('GET', '/v1/session/who-am-i', {bearer})).status, 200);
    // Rotate, keeping the old token for an hour: the new one is shown once, both work.
    await row.getByRole('button', {name: 'Rotate'}).click();
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
    assert.equal(await row.getByRole('button', {name: 'Rotate'}).count(), 0);
    assert.equal(await row.getByRole('button', {name: 'Disable'}).count(), 0);
    // Delete, confirmed in a dialog.
    await row.getByRole('button', {name: 'Delete'}).click();
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
    await rowOf(expiring).getByText('(expires within 2 d)').waitFor();
    await rowOf(expired).getByText('(expired)').waitFor();

    await page.getByRole('button', {name: 'Create Access Token'}).click();
    const create = page.getByRole('dialog', {name: 'Create access token'});
    await create.getByLabel('User', {exact: true}).fill('admin');
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
    assert.equal(await users.getByRole('button').count(), 0);
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

test('no uncaught errors in any page', () => {
    assert.deepEqual(pageErrors, []);
});
