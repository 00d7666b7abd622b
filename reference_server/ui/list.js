// A list the server pages: a search box (the name's beginning, as the API's name_prefix), a
// sort order where the API has one, one page of at most PAGE_SIZE rows, and Previous / Next.
// Only the rows of the page shown are ever in the document, however large the directory.
import {getPage} from './api.js';
import {field, form, h, replace, uid} from './dom.js';

export const PAGE_SIZE = 100;

/**
 * path({prefix, sort}) is the first page's path; render(body) makes the page's element (or a
 * promise of it);
 * count(body) says how many rows it holds. sorts: [[value, label], ...] or none. Returns
 * {element, refresh(), restart()} (refresh reloads the page shown; restart goes to the first).
 */
export function pagedList({noun, path, render, count, sorts, onError}) {
    const search = field(`Find ${noun} by name`, {type: 'search', autocomplete: 'off'}, 'The beginning of the name');
    const sortId = uid('sort');
    const sort = sorts ? h('select', {id: sortId}, sorts.map(([v, label]) => h('option', {value: v}, label))) : null;
    const content = h('div', {});
    const status = h('span', {});
    const previous = h('button', {type: 'button'}, 'Previous page');
    const next = h('button', {type: 'button'}, 'Next page');
    let pages = [];  // the paths of the pages before the one shown, and the one shown
    let following = null;
    let first = 0;   // the number of the first row shown, from 1

    async function show(pathShown, firstRow) {
        const page = await getPage(pathShown);
        following = page.next;
        first = firstRow;
        const n = count(page.body);
        replace(content, await render(page.body));
        status.textContent = n ? `${noun[0].toUpperCase()}${noun.slice(1)} ${firstRow}\u2013${firstRow + n - 1}` : '';
        previous.hidden = pages.length <= 1;
        next.hidden = !following;
    }
    const start = async () => {
        pages = [path({prefix: search.input.value.trim(), sort: sort ? sort.value : null})];
        await show(pages[0], 1);
    };
    previous.addEventListener('click', () => {
        pages.pop();
        show(pages[pages.length - 1], Math.max(1, first - PAGE_SIZE)).catch((e) => onError(e.message));
    });
    next.addEventListener('click', () => {
        pages.push(following);
        show(following, first + PAGE_SIZE).catch((e) => onError(e.message));
    });
    if (sort) sort.addEventListener('change', () => start().catch((e) => onError(e.message)));
    const toolbar = form([search.wrap,
                          sort ? h('div', {class: 'field'}, h('label', {for: sortId}, 'Sort by'), sort) : null,
                          h('button', {type: 'submit'}, 'Find')], start, onError);
    toolbar.classList.add('toolbar');
    const element = h('div', {}, toolbar, content,
                      h('nav', {class: 'paging', 'aria-label': `Pages of ${noun}`}, previous, next, status));
    return {element, restart: start, refresh: () => (pages.length ? show(pages[pages.length - 1], first) : start())};
}

/** A list path with the API's paging and search parameters. */
export function listPath(base, {prefix, sort}, extra = {}) {
    const q = new URLSearchParams({limit: String(PAGE_SIZE), ...extra});
    if (prefix) q.set('name_prefix', prefix);
    if (sort) q.set('sort', sort);
    return `${base}?${q}`;
}
