// Cluster > Local Users & Groups: users (create, set password, end sessions, delete) and
// groups (create, delete, members added and removed).
import {del, get, identity, post, put} from './api.js';
import {confirm, dialog, field, form, h, holds, needs, replace, table} from './dom.js';
import {listPath, pagedList} from './list.js';

const SORTS = [['id', 'ID'], ['name', 'Name']];
/** Members a group row shows; the rest are counted. */
const MEMBERS_SHOWN = 20;

// The built-in users (admin, guest) and groups (Users, Guests) cannot be deleted.
const BUILTIN_USERS = ['500', '501'];
const BUILTIN_GROUPS = ['513', '514'];

function buttons(...children) { return h('div', {class: 'buttons'}, ...children); }
function cancel(d) { return h('button', {type: 'button', onclick: () => d.close()}, 'Cancel'); }

/** Asks for a password twice; submit(password) runs when both match. */
function passwordFields() {
    const pw = field('Password', {type: 'password', autocomplete: 'new-password'});
    const again = field('Confirm password', {type: 'password', autocomplete: 'new-password'});
    return {
        wraps: [pw.wrap, again.wrap],
        value() {
            if (pw.input.value !== again.input.value) throw new Error('The passwords do not match.');
            return pw.input.value;
        },
    };
}

export async function renderUsers(main, ctx) {
    const usersSection = h('section', {'aria-labelledby': 'users-heading'});
    const groupsSection = h('section', {'aria-labelledby': 'groups-heading'});
    main.append(usersSection, groupsSection);

    // What the signed-in user may see and do: each part needs its own privilege, and a part
    // it may not read says so in place.
    const may = {
        readUsers: holds(ctx.me, 'PRIVILEGE_LOCAL_USER_READ'),
        writeUsers: holds(ctx.me, 'PRIVILEGE_LOCAL_USER_WRITE'),
        readGroups: holds(ctx.me, 'PRIVILEGE_LOCAL_GROUP_READ'),
        writeGroups: holds(ctx.me, 'PRIVILEGE_LOCAL_GROUP_WRITE'),
    };
    // Group names for the users' primary group column (groups are few: all of them).
    let groupNames = new Map();
    const usersList = may.readUsers ? pagedList({
        noun: 'users', sorts: SORTS, onError: ctx.showError, count: (users) => users.length,
        path: (o) => listPath('/v1/users/', o),
        render: (users) => userTable(users),
    }) : null;
    const groupsList = may.readGroups ? pagedList({
        noun: 'groups', sorts: SORTS, onError: ctx.showError, count: (groups) => groups.length,
        path: (o) => listPath('/v1/groups/', o),
        render: async (groups) => groupTable(groups, await Promise.all(groups.map((g) => get(`/v1/groups/${g.id}/members/`)))),
    }) : null;
    replace(usersSection, h('h2', {id: 'users-heading'}, 'Users'),
            !may.readUsers ? needs('Reading users', 'PRIVILEGE_LOCAL_USER_READ')
                : [may.writeUsers ? h('button', {type: 'button', onclick: createUser}, 'Create')
                       : needs('Creating and changing users', 'PRIVILEGE_LOCAL_USER_WRITE'),
                   usersList.element]);
    replace(groupsSection, h('h2', {id: 'groups-heading'}, 'Groups'),
            !may.readGroups ? needs('Reading groups', 'PRIVILEGE_LOCAL_GROUP_READ')
                : [may.writeGroups ? h('button', {type: 'button', onclick: createGroup}, 'Create')
                       : needs('Creating and changing groups', 'PRIVILEGE_LOCAL_GROUP_WRITE'),
                   groupsList.element]);
    const refresh = async () => {
        if (may.readGroups) groupNames = new Map((await get('/v1/groups/')).map((g) => [g.id, g.name]));
        await Promise.all([usersList && usersList.refresh(), groupsList && groupsList.refresh()]);
    };
    // Runs an action, announces what it did, shows the result.
    const run = (action, done) => async () => { await action(); ctx.notice(done); await refresh(); };

    function createUser() {
        dialog('Create user', (body, d) => {
            const name = field('User name', {autocomplete: 'off'});
            const pw = passwordFields();
            body.append(form([name.wrap, ...pw.wraps, buttons(h('button', {type: 'submit'}, 'Create'), cancel(d))],
                async () => {
                    const password = pw.value();
                    await post('/v1/users/', {name: name.input.value, primary_group: '0', uid: '',
                                              home_directory: null, password: password || null});
                    d.close();
                    ctx.notice(`User ${name.input.value} created.`);
                    await refresh();
                }, d.error));
        });
    }

    function setPassword(u) {
        dialog(`Set password for ${u.name}`, (body, d) => {
            const pw = passwordFields();
            body.append(form([...pw.wraps, buttons(h('button', {type: 'submit'}, 'Set password'), cancel(d))],
                async () => {
                    await post(`/v1/users/${u.id}/setpassword`, {new_password: pw.value()});
                    d.close();
                    ctx.notice(`Password of ${u.name} set; their sessions have ended.`);
                }, d.error));
        });
    }

    function userTable(users) {
        const rows = users.map((u) => h('tr', {},
            h('th', {scope: 'row'}, u.name), h('td', {}, u.id), h('td', {}, groupNames.get(u.primary_group) || u.primary_group),
            h('td', {}, u.uid),
            h('td', {class: 'actions'}, !may.writeUsers ? null : [
              u.can_change_password ? h('button', {type: 'button', onclick: () => setPassword(u)}, 'Set password') : null,
              h('button', {type: 'button', 'aria-label': `End sessions of ${u.name}`,
                           onclick: () => confirm('End sessions', `End every session of ${u.name}? Their access tokens keep working.`,
                                                  'End sessions', async () => {
                                                      await post(`/v1/users/${u.id}/sessions/end`);
                                                      ctx.notice(`Every session of ${u.name} has ended.`);
                                                  })},
                'End sessions'),
              BUILTIN_USERS.includes(u.id) ? null : h('button', {type: 'button', class: 'danger',
                            onclick: () => confirm('Delete user', `Delete the user ${u.name}? Their access tokens are deleted too.`,
                                                   'Delete', run(() => del(`/v1/users/${u.id}`), `User ${u.name} deleted.`))},
                'Delete')])));
        return table('Local users', ['Name', 'ID', 'Primary group', 'UID', 'Actions'], rows);
    }

    function createGroup() {
        dialog('Create group', (body, d) => {
            const name = field('Group name', {autocomplete: 'off'});
            body.append(form([name.wrap, buttons(h('button', {type: 'submit'}, 'Create'), cancel(d))], async () => {
                await post('/v1/groups/', {name: name.input.value, gid: ''});
                d.close();
                ctx.notice(`Group ${name.input.value} created.`);
                await refresh();
            }, d.error));
        });
    }

    function addMember(g) {
        dialog(`Add member to ${g.name}`, (body, d) => {
            const listId = 'users-for-group';
            const who = field('User', {autocomplete: 'off', list: listId}, 'A user name, auth_id:N or a SID');
            const options = h('datalist', {id: listId});
            // Suggestions: the users whose names begin with what is typed (one page of them).
            who.input.addEventListener('input', async () => {
                const prefix = who.input.value.trim();
                const users = await get(listPath('/v1/users/', {prefix})).catch(() => []);
                replace(options, users.map((u) => h('option', {value: u.name})));
            });
            body.append(form([who.wrap, options, buttons(h('button', {type: 'submit'}, 'Add'), cancel(d))], async () => {
                const id = await identity(who.input.value);
                const found = await post('/v1/identity/find', id);
                await post(`/v1/groups/${g.id}/members/`, {member_id: found.auth_id});
                d.close();
                ctx.notice(`${who.input.value} added to ${g.name}.`);
                await refresh();
            }, d.error));
        });
    }

    function groupTable(groups, lists) {
        // Explicit members first: a group of thousands by primary group shows them all the same.
        const members = lists.map((list, i) => [...list].sort((a, b) => (a.primary_group === groups[i].id) - (b.primary_group === groups[i].id)));
        const rows = groups.map((g, i) => h('tr', {},
            h('th', {scope: 'row'}, g.name), h('td', {}, g.id),
            h('td', {}, h('ul', {class: 'members'}, members[i].slice(0, MEMBERS_SHOWN).map((m) => h('li', {}, m.name, ' ',
                // Members by primary group leave by changing it, not here.
                m.primary_group === g.id ? h('small', {}, '(primary group)')
                    : !may.writeGroups ? null : h('button', {type: 'button', class: 'small', 'aria-label': `Remove ${m.name} from ${g.name}`,
                                   onclick: () => run(() => del(`/v1/groups/${g.id}/members/${m.id}`), `${m.name} removed from ${g.name}.`)()
                                       .catch((e) => ctx.showError(e.message))},
                        'Remove')))),
                members[i].length > MEMBERS_SHOWN ? h('p', {}, `and ${members[i].length - MEMBERS_SHOWN} more`) : null),
            h('td', {class: 'actions'}, !may.writeGroups ? null : [
              h('button', {type: 'button', onclick: () => addMember(g)}, 'Add member'),
              BUILTIN_GROUPS.includes(g.id) ? null : h('button', {type: 'button', class: 'danger',
                            onclick: () => confirm('Delete group', `Delete the group ${g.name}?`, 'Delete',
                                                   run(() => del(`/v1/groups/${g.id}`), `Group ${g.name} deleted.`))},
                'Delete')])));
        return table('Local groups and their members', ['Name', 'ID', 'Members', 'Actions'], rows);
    }

    await refresh();
}
