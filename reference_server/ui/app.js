// The tokenauth web UI: sign-in, the Cluster menu, and one page per section. It talks only
// to the public REST API with the session token from /v1/session/login.
import {call, get, onUnauthorized, post, session} from './api.js';
import {closeDialogs, confirm, dialog, field, form, h, menuButton, replace} from './dom.js';
import {renderRoles} from './roles.js';
import {renderTokens} from './tokens.js';
import {renderUsers} from './users.js';

const root = document.getElementById('app');
const pages = {
    '#/users': {title: 'Local Users & Groups', render: renderUsers},
    '#/roles': {title: 'Role Management', render: renderRoles},
    '#/tokens': {title: 'Access Tokens', render: renderTokens},
};
let me = null;
let reopen = [];  // the dialogs the end of a session closed, opened again after signing in

onUnauthorized(() => {
    session.clear();
    me = null;
    // A dialog would stay on top of the sign-in form: it closes, and comes back after it.
    reopen = closeDialogs();
    signIn('Your session has ended; sign in again.');
});

function signIn(message) {
    const user = field('Username', {name: 'username', autocomplete: 'username', required: true});
    const password = field('Password', {name: 'password', type: 'password', autocomplete: 'current-password', required: true});
    const error = h('p', {class: 'error', role: 'alert'}, message || '');
    replace(root, h('main', {class: 'signin'},
        h('h1', {}, 'tokenauth'),
        form([h('h2', {}, 'Sign in'), error, user.wrap, password.wrap, h('button', {type: 'submit'}, 'Sign in')],
             async () => {
                 error.textContent = '';
                 const r = await call('POST', '/v1/session/login',
                                      {username: user.input.value, password: password.input.value});
                 password.input.value = '';
                 session.set(r.bearer_token);
                 await start();
             },
             (m) => { error.textContent = m; password.input.value = ''; password.input.focus(); })));
    user.input.focus();
}

function changePassword() {
    dialog('Change password', (body, d) => {
        const old = field('Current password', {type: 'password', autocomplete: 'current-password'});
        const pw = field('New password', {type: 'password', autocomplete: 'new-password'});
        const again = field('Confirm new password', {type: 'password', autocomplete: 'new-password'});
        body.append(form([old.wrap, pw.wrap, again.wrap,
                          h('div', {class: 'buttons'}, h('button', {type: 'submit'}, 'Change password'),
                            h('button', {type: 'button', onclick: () => d.close()}, 'Cancel'))],
            async () => {
                if (pw.input.value !== again.input.value) throw new Error('The new passwords do not match.');
                const r = await post('/v1/session/change-password',
                                     {old_password: old.input.value, new_password: pw.input.value});
                session.set(r.bearer_token);  // every other session of this user has ended
                d.close();
                notice('Password changed. Your other sessions have ended.');
            }, d.error));
    });
}

function endOtherSessions() {
    confirm('End other sessions', 'End every other session of yours? This one goes on; access tokens keep working.',
            'End them', async () => {
                const r = await post('/v1/session/end-others');
                if (r.bearer_token) session.set(r.bearer_token);  // this session ended with the others: its successor
                notice('Your other sessions have ended.');
            });
}

let noticeArea = null;
/** A status message under the header, announced by screen readers (a live region); the
 * same text twice is announced twice. */
export function notice(text) {
    if (!noticeArea) return;
    noticeArea.textContent = '';
    if (text) setTimeout(() => { noticeArea.textContent = text; }, 50);
}
let errorArea = null;
/** An error (an API error's description) under the header. */
export function showError(text) { if (errorArea) errorArea.textContent = text; }

function menu() {
    const items = Object.entries(pages).map(([hash, p]) => ({label: p.title, href: hash}));
    return h('nav', {'aria-label': 'Main'}, menuButton('Cluster', items, {listId: 'cluster-menu'}).element);
}

let routes = 0;  // navigations begun: only the latest renders

async function route() {
    if (!me) return;
    const mine = ++routes;
    // Who the user is now: privileges change with roles, and a session that has ended sends
    // the page to sign-in (onUnauthorized) before any section asks for something.
    try {
        me = await get('/v1/session/who-am-i');
    } catch (e) {
        if (e.status !== 401) showError(e.message);
        return;
    }
    if (mine !== routes) return;  // a later navigation renders instead
    const page = pages[location.hash] || pages['#/users'];
    const main = document.getElementById('main');
    showError('');
    notice('');
    document.title = `${page.title} · tokenauth`;
    replace(main, h('h1', {}, page.title));
    try {
        await page.render(main, {me, showError, notice});
    } catch (e) {
        showError(e.message);
    }
}

async function start() {
    try {
        me = await get('/v1/session/who-am-i');
    } catch (e) {
        session.clear();
        signIn(e.status === 401 ? '' : e.message);
        return;
    }
    errorArea = h('p', {class: 'error', role: 'alert'});
    noticeArea = h('p', {class: 'notice', role: 'status', 'aria-live': 'polite'});
    replace(root,
        h('header', {},
          h('span', {class: 'brand'}, 'tokenauth'),
          menu(),
          h('span', {class: 'whoami'}, 'Signed in as ', h('strong', {}, me.name)),
          h('button', {type: 'button', onclick: changePassword}, 'Change password'),
          h('button', {type: 'button', onclick: endOtherSessions}, 'End other sessions'),
          h('button', {type: 'button', onclick: () => { session.clear(); me = null; signIn(); }}, 'Sign out')),
        errorArea, noticeArea,
        h('main', {id: 'main'}));
    // The page shown is named in the address, so choosing it from the menu is no navigation
    // that would draw it a second time under the reader.
    if (!pages[location.hash]) history.replaceState(null, '', '#/users');
    await route();
    for (const {title, build} of reopen.splice(0)) dialog(title, build);
}

window.addEventListener('hashchange', route);
if (session.get()) start(); else signIn();
