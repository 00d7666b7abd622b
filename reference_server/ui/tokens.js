// Cluster > Access Tokens: the table, creating a token (shown once), rotating one (the new
// one shown once), enabling, disabling, changing the expiration, the name or the allowed
// networks, and deleting.
import {del, display, get, identity, patch, post, utc} from './api.js';
import {confirm, dialog, field, form, h, holds, menuButton, needs, replace, table, uid, when} from './dom.js';
import {listPath, pagedList} from './list.js';
import {privilegeChooser, privileges} from './roles.js';

function buttons(...children) { return h('div', {class: 'buttons'}, ...children); }
function cancel(d) { return h('button', {type: 'button', onclick: () => d.close()}, 'Cancel'); }
const NETWORKS_HINT = 'Optional: the token works only from these, such as 10.0.0.0/8, 2001:db8::/32 (up to 16).';

/** The networks typed into a field (commas or spaces between), or null for none. */
function networkList(text) {
    const list = text.split(/[\s,]+/).filter((p) => p);
    return list.length ? list : null;
}

const DAY = 86400 * 1000;

/**
 * "Expires": in 7, 30 or 90 days, on a date (UTC), or never; the time it comes to is shown
 * in UTC beside it. value() is RFC 3339 or null.
 */
function expirationPicker(initial) {
    const id = uid('expires');
    const shownId = uid('expires-at');
    const presets = [['7', 'In 7 days'], ['30', 'In 30 days'], ['90', 'In 90 days'], ['date', 'On a date (UTC)'],
                     ['never', 'Never']];
    const select = h('select', {id, 'aria-describedby': shownId},
                     presets.map(([v, label]) => h('option', {value: v}, label)));
    const date = field('Expiration time (UTC)', {type: 'datetime-local',
                                                 value: initial ? initial.slice(0, 16) : ''}, 'A date and a time, in UTC');
    const shown = h('small', {id: shownId});
    select.value = initial ? 'date' : '90';
    const value = () => {
        if (select.value === 'never') return null;
        if (select.value === 'date') return utc(date.input.value);
        return `${new Date(Date.now() + Number(select.value) * DAY).toISOString().slice(0, 19)}Z`;
    };
    const update = () => {
        date.wrap.hidden = select.value !== 'date';
        const v = value();
        shown.textContent = v ? `Expires ${when(v)}` : select.value === 'never' ? 'Never expires' : 'Choose a date and a time';
    };
    select.addEventListener('change', update);
    date.input.addEventListener('input', update);
    update();
    return {element: h('div', {}, h('div', {class: 'field'}, h('label', {for: id}, 'Expires'), select, shown), date.wrap),
            value};
}

/** A long id shortened for the table ("1234…5678"); the full one is on hover and copied. */
function shortId(id) { return id.length > 12 ? `${id.slice(0, 4)}\u2026${id.slice(-4)}` : id; }

/** A time to the minute ("2099-01-01 00:00 UTC"), to the second on hover; '' or null: fallback. */
function minute(rfc3339, fallback = 'never') {
    if (!rfc3339) return fallback;
    return h('time', {datetime: rfc3339, title: when(rfc3339)}, `${rfc3339.slice(0, 10)} ${rfc3339.slice(11, 16)} UTC`);
}

/** The expiry, marked when it has passed or comes within 7 days. */
function expiresCell(t) {
    const left = t.expiration_time ? Date.parse(t.expiration_time) - Date.now() : Infinity;
    const mark = left <= 0 ? h('strong', {class: 'expired'}, ' (expired)')
        : left <= 7 * DAY ? h('strong', {class: 'expiring', title: 'expires within 7 days'}, ` (in ${Math.ceil(left / DAY)} d)`)
            : null;
    return h('td', {}, minute(t.expiration_time), mark);
}

/** Privileges and networks in one line ("all", "from 10.0.0.0/8"); the whole on hover. */
function scopeText(t) {
    const privileges = t.privileges ? t.privileges.join(', ') : 'all privileges';
    const text = t.allowed_cidrs ? `${privileges}, from ${t.allowed_cidrs.join(', ')}` : privileges;
    return h('span', {class: 'truncate', title: text}, text);
}

/** Marks a table's rows as one line each. */
function oneLine(wrap) {
    wrap.querySelector('table').classList.add('one-line');
    return wrap;
}

/** The identity string the API's user= filter takes. */
async function userQuery(text) {
    const id = await identity(text);
    return id.auth_id ? `auth_id:${id.auth_id}` : id.sid ? id.sid : id.uid !== undefined ? `uid:${id.uid}` : id.name;
}

/** Shows the new bearer token once: read-only field, Copy, Download, Done. */
function showOnce(body, d, created) {
    const token = field('Bearer token', {readonly: true, value: created.bearer_token, class: 'secret'});
    const status = h('p', {role: 'status'});
    const copy = async () => {
        try {
            await navigator.clipboard.writeText(token.input.value);
        } catch {
            token.input.select();
            document.execCommand('copy');
        }
        status.textContent = 'Copied.';
    };
    const download = () => {
        // The credentials file qq --file and tokenauth-cli --file write.
        const text = `${JSON.stringify({bearer_token: token.input.value, version: 1})}\n`;
        const url = URL.createObjectURL(new Blob([text], {type: 'application/json'}));
        const a = h('a', {href: url, download: `access-token-${created.id}.json`});
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 1000);
        status.textContent = 'Downloaded.';
    };
    replace(body,
            h('p', {class: 'warning'}, 'This is the only time the token is shown. Copy it or download the credentials file now; ',
              'the server keeps only a hash and cannot show it again.'),
            h('p', {}, 'Token id: ', h('code', {}, created.id)),
            token.wrap,
            buttons(h('button', {type: 'button', onclick: copy}, 'Copy'),
                    h('button', {type: 'button', onclick: download}, 'Download credentials file'),
                    h('button', {type: 'button', onclick: () => d.close()}, 'Done')),
            status);
    // Escape would lose the token for good: it asks first.
    const discard = h('div', {class: 'warning', role: 'alertdialog', 'aria-label': 'Discard the token?', hidden: true},
                      h('p', {}, 'Discard the token? It cannot be shown again.'),
                      buttons(h('button', {type: 'button', class: 'danger', onclick: () => d.close()}, 'Discard'),
                              h('button', {type: 'button', onclick: () => { discard.hidden = true; token.input.focus(); }},
                                'Keep it')));
    body.append(discard);
    d.onEscape = () => {
        discard.hidden = false;
        discard.querySelector('button:last-child').focus();
        return false;
    };
    d.element.addEventListener('close', () => { token.input.value = ''; });
}

export async function renderTokens(main, ctx) {
    const section = h('section', {'aria-labelledby': 'tokens-heading'});
    main.append(section);
    // What the signed-in user may see and do; what it may not is said in place.
    const may = {
        read: holds(ctx.me, 'PRIVILEGE_ACCESS_TOKENS_READ'),
        write: holds(ctx.me, 'PRIVILEGE_ACCESS_TOKENS_WRITE'),
        listUsers: holds(ctx.me, 'PRIVILEGE_LOCAL_USER_READ'),
        listPrivileges: holds(ctx.me, 'PRIVILEGE_ROLE_READ'),
    };
    const all = may.listPrivileges ? await privileges() : null;
    let userFilter = '';  // the user= parameter (resolved from what was typed), '' for everyone
    const list = may.read ? pagedList({
        noun: 'access tokens', onError: ctx.showError, count: (page) => page.entries.length,
        path: (o) => listPath('/v1/auth/access-tokens/', o, userFilter ? {user: userFilter} : {}),
        render: (page) => tokenTable(page.entries),
    }) : null;
    const refresh = async () => { if (list) await list.refresh(); };

    function create() {
        dialog('Create access token', (body, d) => {
            const listId = 'token-users';
            const user = field('User', {autocomplete: 'off', list: listId}, 'A user name, auth_id:N or a SID');
            const name = field('Name', {autocomplete: 'off', maxlength: 100}, 'Optional: what the token is for');
            const expires = expirationPicker(null);
            const networks = field('Allowed networks', {autocomplete: 'off'}, NETWORKS_HINT);
            const chooser = all ? privilegeChooser(all, 'Restrict to privileges (optional; none: all of the user\u2019s)')
                : {element: needs('Restricting a token to some privileges', 'PRIVILEGE_ROLE_READ'), selected: () => []};
            const submit = h('button', {type: 'submit'}, 'Create');
            let warnedFor;  // the expiration (null: none) a warning was shown for; a second submit creates
            const suggestions = h('datalist', {id: listId});
            if (may.listUsers)  // the users whose names begin with what is typed (one page of them)
                user.input.addEventListener('input', async () => {
                    const users = await get(listPath('/v1/users/', {prefix: user.input.value.trim()})).catch(() => []);
                    replace(suggestions, users.map((u) => h('option', {value: u.name})));
                });
            body.append(form([user.wrap, suggestions,
                              name.wrap, expires.element, networks.wrap,
                              h('details', {}, h('summary', {}, 'Privilege scope'), chooser.element),
                              buttons(submit, cancel(d))],
                async () => {
                    const when = expires.value();
                    const problem = !when ? 'This token will never expire: a leaked copy works until someone deletes it.'
                        : Date.parse(when) <= Date.now() ? 'This expiration time is in the past: the token will not work.' : '';
                    if (problem && warnedFor !== when) {
                        warnedFor = when;
                        d.error(`${problem} Choose Create anyway to go on.`);
                        submit.textContent = 'Create anyway';
                        return;
                    }
                    const doc = {user: await identity(user.input.value)};
                    if (name.input.value.trim()) doc.name = name.input.value.trim();
                    if (when) doc.expiration_time = when;
                    const cidrs = networkList(networks.input.value);
                    if (cidrs) doc.allowed_cidrs = cidrs;
                    const scope = chooser.selected();
                    if (scope.length) doc.privileges = scope;
                    const created = await post('/v1/auth/access-tokens/', doc);
                    d.error('');
                    showOnce(body, d, created);
                    ctx.notice(`Access token ${created.id} created; its bearer token is shown once.`);
                    await refresh();
                }, d.error));
        });
    }

    function changeExpiration(t) {
        dialog('Change expiration', (body, d) => {
            const expires = expirationPicker(t.expiration_time);
            body.append(form([h('p', {}, `Token ${t.id} of ${display(t.user)}`), expires.element,
                              buttons(h('button', {type: 'submit'}, 'Save'), cancel(d))],
                async () => {
                    const value = expires.value();
                    await patch(`/v1/auth/access-tokens/${t.id}`, {expiration_time: value});
                    d.close();
                    ctx.notice(`Access token ${t.id} now expires ${value ? when(value) : 'never'}.`);
                    await refresh();
                }, d.error));
        });
    }

    function rotate(t) {
        dialog('Rotate access token', (body, d) => {
            const graceId = uid('grace');
            const grace = h('select', {id: graceId},
                            h('option', {value: '0'}, 'No: it stops working now'),
                            h('option', {value: '3600'}, 'For 1 hour'),
                            h('option', {value: '86400'}, 'For 1 day'));
            body.append(form([h('p', {}, `A new token replaces token ${t.id} of ${display(t.user)}, with the same `
                                         + 'privileges and name. Services must switch to the new one.'),
                              h('div', {class: 'field'}, h('label', {for: graceId}, 'Old token keeps working'), grace),
                              buttons(h('button', {type: 'submit'}, 'Rotate'), cancel(d))],
                async () => {
                    const created = await post(`/v1/auth/access-tokens/${t.id}/rotate`,
                                               {grace_seconds: Number(grace.value)});
                    d.error('');
                    showOnce(body, d, created);
                    ctx.notice(`Access token ${t.id} rotated; the new one, ${created.id}, is shown once.`);
                    await refresh();
                }, d.error));
        });
    }

    function rename(t) {
        dialog('Rename access token', (body, d) => {
            const name = field('Name', {autocomplete: 'off', maxlength: 100, value: t.name || ''}, 'Leave empty for no name');
            body.append(form([h('p', {}, `Token ${t.id} of ${display(t.user)}`), name.wrap,
                              buttons(h('button', {type: 'submit'}, 'Save'), cancel(d))],
                async () => {
                    await patch(`/v1/auth/access-tokens/${t.id}`, {name: name.input.value.trim() || null});
                    d.close();
                    ctx.notice(`Access token ${t.id} renamed.`);
                    await refresh();
                }, d.error));
        });
    }

    function changeNetworks(t) {
        dialog('Change allowed networks', (body, d) => {
            const networks = field('Allowed networks', {autocomplete: 'off', value: (t.allowed_cidrs || []).join(', ')},
                                   `${NETWORKS_HINT} Leave empty to accept it from any address.`);
            body.append(form([h('p', {}, `Token ${t.id} of ${display(t.user)}`), networks.wrap,
                              buttons(h('button', {type: 'submit'}, 'Save'), cancel(d))],
                async () => {
                    await patch(`/v1/auth/access-tokens/${t.id}`, {allowed_cidrs: networkList(networks.input.value)});
                    d.close();
                    ctx.notice(`The networks of access token ${t.id} changed.`);
                    await refresh();
                }, d.error));
        });
    }

    const act = (f, done) => async () => {
        try {
            ctx.showError('');
            await f();
            ctx.notice(done);
            await refresh();
        } catch (e) {
            ctx.showError(e.message);
        }
    };

    function copyId(t) {
        return async () => {
            try {
                await navigator.clipboard.writeText(t.id);
                ctx.notice(`Token id ${t.id} copied.`);
            } catch {
                ctx.showError(`Copying was refused; the token id is ${t.id}.`);
            }
        };
    }

    function actions(t) {
        const remove = {label: 'Delete', danger: true,
                        run: () => confirm('Delete access token', `Delete the access token ${t.id} of ${display(t.user)}? `
                                           + 'Services using it stop working at once.', 'Delete',
                                           async () => {
                                               await del(`/v1/auth/access-tokens/${t.id}`);
                                               ctx.notice(`Access token ${t.id} deleted.`);
                                               await refresh();
                                           })};
        // A rotated token is kept only to recognise its reuse: it can be deleted, nothing else.
        const items = t.rotated_to ? [remove] : [
            {label: t.enabled ? 'Disable' : 'Enable',
             run: act(() => patch(`/v1/auth/access-tokens/${t.id}`, {enabled: !t.enabled}),
                      `Access token ${t.id} ${t.enabled ? 'disabled' : 'enabled'}.`)},
            {label: 'Rotate', run: () => rotate(t)},
            {label: 'Change expiration', run: () => changeExpiration(t)},
            {label: 'Rename', run: () => rename(t)},
            {label: 'Networks', run: () => changeNetworks(t)},
            remove];
        return menuButton('Actions', items, {name: `Actions for token ${t.id}`}).element;
    }

    function tokenTable(tokens) {
        const rows = tokens.map((t) => h('tr', {},
            h('th', {scope: 'row', 'aria-label': t.id},
              h('code', {title: `${t.id}, created ${when(t.creation_time)} by ${display(t.creator)}`}, shortId(t.id)), ' ',
              h('button', {type: 'button', class: 'small', onclick: copyId(t), 'aria-label': `Copy token id ${t.id}`}, 'Copy')),
            h('td', {}, t.name ? h('span', {class: 'truncate', title: t.name}, t.name) : ''),
            h('td', {}, h('span', {class: 'truncate', title: display(t.user)}, display(t.user))),
            expiresCell(t),
            h('td', {}, minute(t.last_used_time)),
            h('td', {}, t.rotated_to ? h('span', {title: `Rotated; its successor is ${t.rotated_to}`}, 'Rotated')
                        : t.enabled ? 'Enabled' : 'Disabled'),
            h('td', {}, scopeText(t)),
            h('td', {class: 'actions'}, may.write ? actions(t) : null)));
        return oneLine(table('Access tokens', ['ID', 'Name', 'User', 'Expires', 'Last used', 'State', 'Scope', 'Actions'],
                             rows));
    }

    const filterField = field('Filter by user', {type: 'search', autocomplete: 'off'});
    replace(section,
            h('h2', {id: 'tokens-heading', class: 'visually-hidden'}, 'Access tokens'),
            h('div', {class: 'toolbar'},
              may.write ? h('button', {type: 'button', onclick: create}, 'Create Access Token')
                  : needs('Creating and changing access tokens', 'PRIVILEGE_ACCESS_TOKENS_WRITE'),
              may.read ? form([filterField.wrap, h('button', {type: 'submit'}, 'Filter')], async () => {
                  const typed = filterField.input.value.trim();
                  userFilter = typed ? await userQuery(typed) : '';
                  await list.restart();
              }, ctx.showError) : null),
            may.read ? list.element : needs('Reading access tokens', 'PRIVILEGE_ACCESS_TOKENS_READ'));
    await refresh();
}
