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

/**
 * A modal dialog named by its title. build(body, api) fills it; api.error(message) shows a
 * message inside it, api.close() ends it. Escape and "Cancel" close it too.
 */
export function dialog(title, build) {
    const titleId = uid('dlg');
    const error = h('p', {class: 'error', role: 'alert'});
    const body = h('div', {class: 'dialog-body'});
    const dlg = h('dialog', {role: 'dialog', 'aria-labelledby': titleId, 'aria-modal': 'true'},
                  h('h2', {id: titleId}, title), error, body);
    const api = {
        element: dlg,
        error(message) { error.textContent = message; },
        close() { dlg.close(); },
    };
    dlg.addEventListener('close', () => dlg.remove());
    build(body, api);
    document.body.append(dlg);
    dlg.showModal();
    const first = dlg.querySelector('input:not([readonly]), select, textarea, button');
    if (first) first.focus();
    return api;
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
              h('button', {type: 'button', onclick: () => d.close()}, 'Cancel')),
        ], async () => { await action(); d.close(); }, d.error));
    });
}

/** A real table: caption, header row, one row per item. */
export function table(caption, headers, rows) {
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
