// DOM helpers. Text only ever becomes text nodes or attribute values: nothing here parses
// HTML, so user-controlled names cannot inject markup or script.

/** h('button', {type: 'button', onclick: f}, 'Save') -> an element. */
export function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
        if (value === undefined || value === null || value === false) continue;
        if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
        else if (key === 'class') el.className = value;
        else if (key === 'value' || key === 'checked') el[key] = value;
        else el.setAttribute(key, value === true ? '' : String(value));
    }
    append(el, children);
    return el;
}

function append(el, children) {
    for (const c of children.flat(Infinity)) {
        if (c === undefined || c === null || c === false) continue;
        el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
}

let ids = 0;
/** A unique element id. */
export const uid = (prefix) => `${prefix}-${++ids}`;

/** A labelled input: {wrap, input}. */
export function field(label, attrs = {}, hint) {
    const id = uid('f');
    const hintId = hint ? uid('hint') : undefined;
    const input = h('input', {id, 'aria-describedby': hintId, ...attrs});
    const wrap = h('div', {class: 'field'}, h('label', {for: id}, label), input,
                   hint ? h('small', {id: hintId}, hint) : null);
    return {wrap, input};
}

/** Replaces an element's children. */
export function replace(el, ...children) {
    el.replaceChildren();
    append(el, children);
}

const open = new Set();  // the dialogs showing, as {title, build, api}

/**
 * A modal dialog named by its title. build(body, api) fills it; api.error(message) shows a
 * message inside it, api.close() ends it. Escape and "Cancel" close it too; api.onEscape,
 * when set, is asked first and keeps the dialog open by returning false.
 */
export function dialog(title, build) {
    const titleId = uid('dlg');
    const error = h('p', {class: 'error', role: 'alert'});
    const body = h('div', {class: 'dialog-body'});
    const dlg = h('dialog', {'aria-labelledby': titleId, 'aria-modal': 'true'},
                  h('h2', {id: titleId}, title), error, body);
    const api = {
        element: dlg,
        onEscape: null,
        error(message) { error.textContent = message; },
        close() { dlg.close(); },
    };
    const entry = {title, build, api};
    open.add(entry);
    dlg.addEventListener('cancel', (event) => {
        if (api.onEscape && api.onEscape() === false) event.preventDefault();
    });
    dlg.addEventListener('close', () => { open.delete(entry); dlg.remove(); });
    build(body, api);
    document.body.append(dlg);
    dlg.showModal();
    const first = dlg.querySelector('[data-autofocus]') || dlg.querySelector('input:not([readonly]), select, textarea, button');
    if (first) first.focus();
    return api;
}

/**
 * Closes every open dialog (the session has ended); returns how to open them again after
 * signing in, as [{title, build}].
 */
export function closeDialogs() {
    const was = [...open].map(({title, build}) => ({title, build}));
    for (const {api} of [...open]) api.close();
    return was;
}

/** A form whose submit runs action(); errors show in the dialog (or via onError). */
export function form(children, action, onError) {
    const f = h('form', {novalidate: true}, ...children);
    f.addEventListener('submit', async (event) => {
        event.preventDefault();
        const buttons = f.querySelectorAll('button');
        buttons.forEach((b) => { b.disabled = true; });
        try {
            await action();
        } catch (e) {
            onError(e.message || String(e));
        } finally {
            buttons.forEach((b) => { b.disabled = false; });
        }
    });
    return f;
}

/** "Yes, <verb>" confirmation; resolves after action() succeeded. */
export function confirm(title, text, verb, action) {
    dialog(title, (body, d) => {
        body.append(form([
            h('p', {}, text),
            h('div', {class: 'buttons'},
              h('button', {type: 'submit', class: 'danger'}, `Yes, ${verb}`),
              // A destructive step is never the default: Enter on the open dialog cancels.
              h('button', {type: 'button', 'data-autofocus': true, onclick: () => d.close()}, 'Cancel')),
        ], async () => { await action(); d.close(); }, d.error));
    });
}

/**
 * A button that opens a menu: items are links ({label, href}) or actions ({label, run,
 * danger}). Arrow keys move between items, Escape closes it and returns to the button, a
 * click elsewhere closes it. Returns {element, button}.
 */
export function menuButton(label, items, {name, listId = uid('menu')} = {}) {
    const button = h('button', {type: 'button', 'aria-haspopup': 'true', 'aria-expanded': 'false', 'aria-controls': listId,
                                'aria-label': name}, label);
    const list = h('ul', {id: listId, role: 'menu', hidden: true}, items.map((item) => h('li', {role: 'none'},
        item.href ? h('a', {role: 'menuitem', href: item.href}, item.label)
            : h('button', {type: 'button', role: 'menuitem', class: item.danger ? 'danger' : null, onclick: item.run},
                item.label))));
    const setOpen = (isOpen) => {
        list.hidden = !isOpen;
        button.setAttribute('aria-expanded', String(isOpen));
    };
    button.addEventListener('click', () => {
        setOpen(list.hidden);
        if (!list.hidden) list.querySelector('[role=menuitem]').focus();
    });
    list.addEventListener('click', () => setOpen(false));
    list.addEventListener('keydown', (e) => {
        const entries = [...list.querySelectorAll('[role=menuitem]')];
        const i = entries.indexOf(document.activeElement);
        if (e.key === 'Escape') { e.stopPropagation(); setOpen(false); button.focus(); }
        if (e.key === 'ArrowDown') { e.preventDefault(); entries[(i + 1) % entries.length].focus(); }
        if (e.key === 'ArrowUp') { e.preventDefault(); entries[(i + entries.length - 1) % entries.length].focus(); }
    });
    const element = h('div', {class: 'menu'}, button, list);
    document.addEventListener('click', (e) => { if (!element.contains(e.target)) setOpen(false); });
    return {element, button};
}

/** A real table: caption, header row, one row per item. Each cell is labelled with its
 * column's header (data-label), which narrow screens show beside it as a card. */
export function table(caption, headers, rows) {
    for (const row of rows)
        [...row.children].forEach((cell, i) => { if (headers[i]) cell.setAttribute('data-label', headers[i]); });
    return h('div', {class: 'table-wrap'}, h('table', {},
             h('caption', {}, caption),
             h('thead', {}, h('tr', {}, headers.map((x) => h('th', {scope: 'col'}, x)))),
             h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', {colspan: headers.length}, 'None')))));
}

/** An RFC 3339 time as "YYYY-MM-DD hh:mm:ss UTC"; '' or null as the fallback text. */
export function when(rfc3339, fallback = 'never') {
    if (!rfc3339) return fallback;
    return `${rfc3339.slice(0, 10)} ${rfc3339.slice(11, 19)} UTC`;
}

/** Whether the signed-in user (who-am-i's answer) holds a privilege. */
export function holds(me, privilege) {
    return Array.isArray(me && me.privileges) && me.privileges.includes(privilege);
}

/** In place of what a missing privilege hides: "<what> needs <privilege>." */
export function needs(what, privilege) {
    return h('p', {class: 'needs'}, `${what} needs `, h('code', {}, privilege), '.');
}
