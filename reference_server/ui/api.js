// The REST API, with the session token held in sessionStorage (never localStorage, never a
// cookie): it ends with the tab. A 401 calls the handler given to onUnauthorized.

const KEY = 'tokenauth.session';
let unauthorized = () => {};

export class ApiError extends Error {
    constructor(status, body) {
        super(body && body.description ? body.description : `the server answered ${status}`);
        this.status = status;
        this.body = body;
    }
}

export const session = {
    get: () => sessionStorage.getItem(KEY),
    set: (token) => sessionStorage.setItem(KEY, token),
    clear: () => sessionStorage.removeItem(KEY),
};

export function onUnauthorized(handler) { unauthorized = handler; }

/** One request; resolves to the parsed JSON (null for an empty body), rejects with ApiError. */
export async function call(method, path, body) {
    return (await exchange(method, path, body)).json;
}

/**
 * One page of a list: GET path -> {body, next}, next being the path of the page after it (the
 * Link rel="next" header of users, groups and roles; paging.next of access tokens) or null.
 */
export async function getPage(path) {
    const {json, headers} = await exchange('GET', path);
    const link = /<([^>]*)>;\s*rel="next"/.exec(headers.get('Link') || '');
    const next = link ? link[1] : json && json.paging ? json.paging.next || null : null;
    return {body: json, next};
}

async function exchange(method, path, body) {
    const headers = {};
    const token = session.get();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body),
                                   credentials: 'omit', cache: 'no-store'});
    const text = await res.text();
    let json = null;
    if (text) {
        try { json = JSON.parse(text); } catch { json = null; }
    }
    if (!res.ok) {
        const error = new ApiError(res.status, json);
        if (res.status === 401 && token) unauthorized(error);
        throw error;
    }
    return {json, headers: res.headers};
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body ?? {});
export const put = (path, body) => call('PUT', path, body);
export const patch = (path, body) => call('PATCH', path, body);
export const del = (path) => call('DELETE', path);

/**
 * An identity as the API takes it, from what a person typed (a name, local:NAME, auth_id:N,
 * uid:N, gid:N, a SID, ...). The server parses it with the grammar the CLI uses
 * (tokenauth::parse_identity), so the UI holds no grammar of its own; a malformed one
 * rejects with the server's reason.
 */
export async function identity(text) {
    return post('/v1/identity/parse', {text});
}

/** A name for an identity object (or auth_id:N). */
export function display(id) {
    if (!id) return '';
    return id.name || (id.auth_id ? `auth_id:${id.auth_id}` : id.sid || '');
}

/** A datetime-local value (taken as UTC) as RFC 3339; '' stays null. */
export function utc(localValue) {
    if (!localValue) return null;
    return `${localValue.length === 16 ? `${localValue}:00` : localValue}Z`;
}
