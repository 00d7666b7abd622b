// Cluster > Access Tokens: the table, creating a token (shown once), rotating one (the new
// one shown once), enabling, disabling, changing the expiration, the name or the allowed
// networks, and deleting.
import {allEntries, del, display, get, identity, patch, post, utc} from './api.js';
import {confirm, dialog, field, form, h, holds, needs, replace, table, uid, when} from './dom.js';
import {privilegeChooser, privileges} from './roles.js';

function buttons(...children) { return h('div', {class: 'buttons'}, ...children); }
function cancel(d) { return h('button', {type: 'button', onclick: () => d.close()}, 'Cancel'); }
const UTC_HINT = 'UTC; leave empty for no expiration';
const NETWORKS_HINT = 'Optional: the token works only from these, such as 10.0.0.0/8, 2001:db8::/32 (up to 16).';

/** The networks typed into a field (commas or spaces between), or null for none. */
function networkList(text) {
    const list = text.split(/[\s,]+/).filter((p) => p);
    return list.length ? list : null;
}

const DAY = 86400 * 1000;

/** The expiry, marked when it has passed or comes within 7 days. */
function expiresCell(t) {
    const left = t.expiration_time ? Date.parse(t.expiration_time) - Date.now() : Infinity;
    const mark = left <= 0 ? h('strong', {class: 'expired'}, ' (expired)')
        : left <= 7 * DAY ? h('strong', {class: 'expiring'}, ` (expires within ${Math.ceil(left / DAY)} d)`) : null;
    return h('td', {class: 'nowrap'}, when(t.expiration_time), mark);
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
    d.element.addEventListener('close', () => { token.input.value = ''; });
}

export async function renderTokens(main, ctx) {
    const section = h('section', {'aria-labelledby': 'tokens-heading'});
    main.append(section);
    let filter = '';
    // What the signed-in user may see and do; what it may not is said in place.
    const may = {
        read: holds(ctx.me, 'PRIVILEGE_ACCESS_TOKENS_READ'),
        write: holds(ctx.me, 'PRIVILEGE_ACCESS_TOKENS_WRITE'),
        listUsers: holds(ctx.me, 'PRIVILEGE_LOCAL_USER_READ'),
        listPrivileges: holds(ctx.me, 'PRIVILEGE_ROLE_READ'),
    };
    const [users, all] = await Promise.all([may.listUsers ? get('/v1/users/') : [],
                                            may.listPrivileges ? privileges() : null]);

    const refresh = async () => {
        if (!may.read) return render(null);
        const path = filter ? `/v1/auth/access-tokens/?user=${encodeURIComponent(await userQuery(filter))}` : '/v1/auth/access-tokens/';
        render(await allEntries(path));
    };

    function create() {
        dialog('Create access token', (body, d) => {
            const listId = 'token-users';
            const user = field('User', {autocomplete: 'off', list: listId}, 'A user name, auth_id:N or a SID');
            const name = field('Name', {autocomplete: 'off', maxlength: 100}, 'Optional: what the token is for');
            const expires = field('Expiration time', {type: 'datetime-local'}, UTC_HINT);
            const networks = field('Allowed networks', {autocomplete: 'off'}, NETWORKS_HINT);
            const chooser = all ? privilegeChooser(all, 'Restrict to privileges (optional; none: all of the user\u2019s)')
                : {element: needs('Restricting a token to some privileges', 'PRIVILEGE_ROLE_READ'), selected: () => []};
            const submit = h('button', {type: 'submit'}, 'Create');
            let warnedFor;  // the expiration (null: none) a warning was shown for; a second submit creates
            body.append(form([user.wrap, h('datalist', {id: listId}, users.map((u) => h('option', {value: u.name}))),
                              name.wrap, expires.wrap, networks.wrap,
                              h('details', {}, h('summary', {}, 'Privilege scope'), chooser.element),
                              buttons(submit, cancel(d))],
                async () => {
                    const when = utc(expires.input.value);
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
                    await refresh();
                }, d.error));
        });
    }

    function changeExpiration(t) {
        dialog('Change expiration', (body, d) => {
            const expires = field('Expiration time', {type: 'datetime-local',
                                                      value: t.expiration_time ? t.expiration_time.slice(0, 16) : ''}, UTC_HINT);
            body.append(form([h('p', {}, `Token ${t.id} of ${display(t.user)}`), expires.wrap,
                              buttons(h('button', {type: 'submit'}, 'Save'), cancel(d))],
                async () => {
                    await patch(`/v1/auth/access-tokens/${t.id}`, {expiration_time: utc(expires.input.value)});
                    d.close();
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
                    await refresh();
                }, d.error));
        });
    }

    const act = (f) => async () => {
        try {
            ctx.showError('');
            await f();
            await refresh();
        } catch (e) {
            ctx.showError(e.message);
        }
    };

    function render(tokens) {
        const rows = (tokens || []).map((t) => h('tr', {},
            h('th', {scope: 'row', class: 'nowrap'}, h('code', {}, t.id)),
            h('td', {}, t.name || ''),
            h('td', {}, display(t.user)), h('td', {}, display(t.creator)),
            h('td', {class: 'nowrap'}, when(t.creation_time)), expiresCell(t),
            h('td', {}, t.rotated_to ? h('span', {title: `Rotated; its successor is ${t.rotated_to}`}, 'Rotated')
                        : t.enabled ? 'Yes' : 'No'),
            h('td', {class: 'nowrap'}, when(t.last_used_time)),
            h('td', {}, t.privileges ? t.privileges.join(', ') : 'all',
              t.allowed_cidrs ? h('div', {class: 'networks'}, `from ${t.allowed_cidrs.join(', ')}`) : null),
            h('td', {class: 'actions'}, !may.write ? null : [
              // A rotated token is kept only to recognise its reuse: it can be deleted, nothing else.
              t.rotated_to ? null : [
                  h('button', {type: 'button', onclick: act(() => patch(`/v1/auth/access-tokens/${t.id}`, {enabled: !t.enabled}))},
                    t.enabled ? 'Disable' : 'Enable'),
                  h('button', {type: 'button', onclick: () => rotate(t)}, 'Rotate'),
                  h('button', {type: 'button', onclick: () => changeExpiration(t)}, 'Change expiration'),
                  h('button', {type: 'button', onclick: () => rename(t)}, 'Rename'),
                  h('button', {type: 'button', onclick: () => changeNetworks(t)}, 'Networks')],
              h('button', {type: 'button', class: 'danger',
                            onclick: () => confirm('Delete access token', `Delete the access token ${t.id} of ${display(t.user)}? `
                                                   + 'Services using it stop working at once.', 'Delete',
                                                   async () => { await del(`/v1/auth/access-tokens/${t.id}`); await refresh(); })},
                'Delete')])));
        const filterField = field('Filter by user', {type: 'search', autocomplete: 'off', value: filter});
        replace(section,
                h('h2', {id: 'tokens-heading', class: 'visually-hidden'}, 'Access tokens'),
                h('div', {class: 'toolbar'},
                  may.write ? h('button', {type: 'button', onclick: create}, 'Create Access Token')
                      : needs('Creating and changing access tokens', 'PRIVILEGE_ACCESS_TOKENS_WRITE'),
                  may.read ? form([filterField.wrap, h('button', {type: 'submit'}, 'Filter')],
                                  async () => { filter = filterField.input.value.trim(); await refresh(); }, ctx.showError)
                      : null),
                may.read ? table('Access tokens', ['ID', 'Name', 'User', 'Creator', 'Created', 'Expires', 'Enabled', 'Last used',
                                                   'Privileges', 'Actions'], rows)
                    : needs('Reading access tokens', 'PRIVILEGE_ACCESS_TOKENS_READ'));
    }

    await refresh();
}
