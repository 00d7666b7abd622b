// Cluster > Role Management: roles with their privileges and members.
import {del, display, get, identity, patch, post} from './api.js';
import {confirm, dialog, field, form, h, holds, needs, replace, table, uid} from './dom.js';
import {listPath, pagedList} from './list.js';

let privilegeCache = null;
/** {PRIVILEGE_NAME: description} from the server, once. */
export async function privileges() {
    if (!privilegeCache) privilegeCache = await get('/v1/auth/privileges/');
    return privilegeCache;
}

/**
 * One checkbox per privilege, labelled with its name and described by its description, under
 * a filter box. Returns {element, selected()}.
 */
export function privilegeChooser(all, legend, checked = []) {
    const filter = field('Filter privileges', {type: 'search', autocomplete: 'off'});
    const items = Object.entries(all).map(([name, description]) => {
        const id = uid('p');
        const descId = uid('pd');
        const box = h('input', {type: 'checkbox', id, value: name, 'aria-describedby': descId,
                                checked: checked.includes(name)});
        const row = h('li', {}, box, h('label', {for: id}, name), h('span', {id: descId, class: 'desc'}, description));
        return {name, description, box, row};
    });
    filter.input.addEventListener('input', () => {
        const q = filter.input.value.trim().toLowerCase();
        for (const it of items)
            it.row.hidden = q !== '' && !it.name.toLowerCase().includes(q) && !it.description.toLowerCase().includes(q);
    });
    const element = h('fieldset', {class: 'privileges'}, h('legend', {}, legend), filter.wrap,
                      h('ul', {}, items.map((it) => it.row)));
    return {element, selected: () => items.filter((it) => it.box.checked).map((it) => it.name)};
}

function buttons(...children) { return h('div', {class: 'buttons'}, ...children); }
function cancel(d) { return h('button', {type: 'button', onclick: () => d.close()}, 'Cancel'); }

export async function renderRoles(main, ctx) {
    const section = h('section', {'aria-labelledby': 'roles-heading'});
    main.append(section);
    const may = {read: holds(ctx.me, 'PRIVILEGE_ROLE_READ'), write: holds(ctx.me, 'PRIVILEGE_ROLE_WRITE')};
    if (!may.read) {
        replace(section, h('h2', {id: 'roles-heading', class: 'visually-hidden'}, 'Roles'),
                needs('Reading roles', 'PRIVILEGE_ROLE_READ'));
        return;
    }
    const all = await privileges();

    // Roles come a page at a time, in name order; each with its members.
    const list = pagedList({
        noun: 'roles', onError: ctx.showError, count: (page) => Object.keys(page).length,
        path: (o) => listPath('/v1/auth/roles/', o),
        render: async (page) => {
            const roles = Object.values(page);
            const members = await Promise.all(roles.map((r) => get(`/v1/auth/roles/${encodeURIComponent(r.name)}/members`)));
            return roleTable(roles, members.map((m) => Object.entries(m.members)));
        },
    });
    const refresh = () => list.refresh();

    function editRole(role) {
        dialog(role ? `Edit role ${role.name}` : 'Create role', (body, d) => {
            const name = field('Name', {autocomplete: 'off', value: role ? role.name : ''});
            const description = field('Description', {autocomplete: 'off', value: role ? role.description : ''});
            const chooser = privilegeChooser(all, 'Privileges', role ? role.privileges : []);
            body.append(form([name.wrap, description.wrap, chooser.element,
                              buttons(h('button', {type: 'submit'}, 'Save'), cancel(d))],
                async () => {
                    const doc = {name: name.input.value, description: description.input.value,
                                 privileges: chooser.selected()};
                    if (role) await patch(`/v1/auth/roles/${encodeURIComponent(role.name)}`, doc);
                    else await post('/v1/auth/roles/', doc);
                    d.close();
                    ctx.notice(`Role ${doc.name} saved.`);
                    await refresh();
                }, d.error));
        });
    }

    function addMember(role) {
        dialog(`Add Member to ${role.name}`, (body, d) => {
            const trustee = field('Trustee', {autocomplete: 'off'},
                                  'A user or group: a name, local:NAME, auth_id:N, uid:N, gid:N or a SID');
            body.append(form([trustee.wrap, buttons(h('button', {type: 'submit'}, 'Yes, Add Member'), cancel(d))],
                async () => {
                    await post(`/v1/auth/roles/${encodeURIComponent(role.name)}/members`, await identity(trustee.input.value));
                    d.close();
                    ctx.notice(`${trustee.input.value} added to ${role.name}.`);
                    await refresh();
                }, d.error));
        });
    }

    function roleTable(roles, members) {
        const rows = roles.map((r, i) => h('tr', {},
            h('th', {scope: 'row'}, r.name),
            h('td', {}, r.description),
            h('td', {}, h('details', {}, h('summary', {}, `${r.privileges.length} privileges`),
                          h('ul', {class: 'plain'}, r.privileges.map((p) => h('li', {}, p))))),
            h('td', {}, h('ul', {class: 'members'}, members[i].map(([id, who]) => h('li', {}, display(who), ' ',
                !may.write ? null : h('button', {type: 'button', class: 'small', 'aria-label': `Remove ${display(who)} from ${r.name}`,
                             onclick: () => confirm('Remove member', `Remove ${display(who)} from ${r.name}?`, 'Remove',
                                                    async () => {
                                                        await del(`/v1/auth/roles/${encodeURIComponent(r.name)}/members/${id}`);
                                                        ctx.notice(`${display(who)} removed from ${r.name}.`);
                                                        await refresh();
                                                    })},
                  'Remove'))))),
            h('td', {class: 'actions'}, !may.write ? null : [
              h('button', {type: 'button', onclick: () => addMember(r)}, 'Add Member'),
              r.name === 'Administrators' ? null : h('button', {type: 'button', onclick: () => editRole(r)}, 'Edit'),
              ['Administrators', 'Observers'].includes(r.name) ? null : h('button', {type: 'button', class: 'danger',
                            onclick: () => confirm('Delete role', `Delete the role ${r.name}?`, 'Delete',
                                                   async () => {
                                                       await del(`/v1/auth/roles/${encodeURIComponent(r.name)}`);
                                                       ctx.notice(`Role ${r.name} deleted.`);
                                                       await refresh();
                                                   })},
                'Delete')])));
        return table('Roles', ['Name', 'Description', 'Privileges', 'Members', 'Actions'], rows);
    }

    replace(section,
            h('h2', {id: 'roles-heading', class: 'visually-hidden'}, 'Roles'),
            may.write ? h('button', {type: 'button', onclick: () => editRole(null)}, 'Create Role')
                : needs('Creating and changing roles', 'PRIVILEGE_ROLE_WRITE'),
            list.element);
    await refresh();
}
