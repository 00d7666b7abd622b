// Makes the README's screenshots of the web UI into docs/ (run by hand when the UI changes,
// not by the tests, so the tree stays clean):
//   TOKENAUTH_SERVER_BIN=build/reference_server/tokenauth-server node tests/browser/screenshots.mjs
import {mkdirSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {ADMIN_PASSWORD, launchChromium, startServer} from './harness.mjs';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs');
mkdirSync(out, {recursive: true});
const server = await startServer();
const browser = await launchChromium();
try {
    const admin = (await server.api('POST', '/v1/session/login', {body: {username: 'admin', password: ADMIN_PASSWORD}})).body.bearer_token;
    const as = (method, path, body) => server.api(method, path, {bearer: admin, body});
    await as('POST', '/v1/users/', {name: 'svc-backup', primary_group: '0', uid: '', home_directory: null, password: null});
    await as('POST', '/v1/users/', {name: 'jane', primary_group: '0', uid: '1001', home_directory: null, password: 'jane-password-1'});
    await as('POST', '/v1/groups/', {name: 'Operators', gid: ''});
    await as('POST', '/v1/auth/roles/', {name: 'BackupRole', description: 'backup service',
                                         privileges: ['PRIVILEGE_ACCESS_TOKENS_READ', 'PRIVILEGE_LOCAL_USER_READ']});
    await as('POST', '/v1/auth/roles/BackupRole/members', {name: 'svc-backup'});
    await as('POST', '/v1/auth/access-tokens/', {user: {name: 'svc-backup'}, name: 'nightly backup', expiration_time: '2099-01-01T00:00:00Z'});

    const context = await browser.newContext({ignoreHTTPSErrors: true, baseURL: server.base, viewport: {width: 1440, height: 800}});
    const page = await context.newPage();
    const shot = (name) => page.screenshot({path: join(out, `ui-${name}.png`)});
    await page.goto('/');
    await page.getByLabel('Username').fill('admin');
    await shot('sign-in');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', {name: 'Sign in'}).click();
    await page.getByRole('button', {name: 'Cluster'}).click();
    await shot('cluster-menu');
    await page.getByRole('menuitem', {name: 'Local Users & Groups'}).click();
    await page.getByRole('heading', {name: 'Users', exact: true}).waitFor();
    await shot('users');
    await page.getByRole('region', {name: 'Users'}).getByRole('button', {name: 'Create', exact: true}).click();
    await page.getByRole('dialog', {name: 'Create user'}).getByLabel('User name').fill('svc-report');
    await shot('create-user');
    await page.keyboard.press('Escape');
    await page.getByRole('button', {name: 'Cluster'}).click();
    await page.getByRole('menuitem', {name: 'Role Management'}).click();
    await page.getByRole('button', {name: 'Create Role'}).click();
    const role = page.getByRole('dialog', {name: 'Create role'});
    await role.getByLabel('Name', {exact: true}).fill('ReportRole');
    await role.getByLabel('Description').fill('reporting job');
    await role.getByLabel('Filter privileges').fill('read');
    await role.getByLabel('PRIVILEGE_ACCESS_TOKENS_READ', {exact: true}).check();
    await shot('create-role');
    await page.keyboard.press('Escape');
    await page.getByRole('button', {name: 'Add Member'}).first().click();
    await page.getByLabel('Trustee').fill('svc-backup');
    await shot('add-member');
    await page.keyboard.press('Escape');
    await page.getByRole('button', {name: 'Cluster'}).click();
    await page.getByRole('menuitem', {name: 'Access Tokens'}).click();
    await page.getByRole('button', {name: 'Create Access Token'}).waitFor();
    await shot('tokens');
    await page.getByRole('button', {name: 'Create Access Token'}).click();
    const create = page.getByRole('dialog', {name: 'Create access token'});
    await create.getByLabel('User', {exact: true}).fill('jane');
    await create.getByLabel('Expires').selectOption({label: 'On a date (UTC)'});
    await create.getByLabel('Expiration time').fill('2099-01-01T00:00');
    await create.getByRole('button', {name: 'Create', exact: true}).click();
    await create.getByLabel('Bearer token').waitFor();
    await shot('token-created');
    console.log(`screenshots written to ${out}`);
} finally {
    await browser.close();
    server.stop();
}
