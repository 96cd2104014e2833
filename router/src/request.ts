// What nginx tells the route service about one request, and what the app may see of it. Pure functions.
//
// The token arrives in the query (`?token=…`, the invitation URL) or in the cookie nginx set on an
// earlier answer (scoped to /p/<name>/). Neither reaches the app: the route service hands nginx the
// request URI, Cookie and Referer with every token removed, and nginx sends those upstream.
import { ACCESS_COOKIE, ACCESS_TOKEN_PARAM } from '../../common/spawner/access.ts';

// Request headers nginx sets on the auth subrequest (manifests/nginx/nginx.conf.template).
export const H_NAME = 'x-spawner-name'; // the backend's name, already checked to be a DNS label
export const H_REST = 'x-spawner-rest'; // the raw request URI after /p/<name>, query included
export const H_UPGRADE = 'x-spawner-upgrade'; // the client's Upgrade header, empty for plain HTTP
export const H_SCHEME = 'x-spawner-scheme'; // http or https, as nginx saw it

// Response headers nginx reads with auth_request_set.
export const H_VERDICT = 'x-spawner-verdict'; // route | starting | ended
export const H_UPSTREAM = 'x-spawner-upstream'; // podIP:port
export const H_URI = 'x-spawner-uri'; // the URI the app sees
export const H_COOKIE = 'x-spawner-cookie'; // the Cookie header the app sees
export const H_REFERER = 'x-spawner-referer'; // the Referer header the app sees
export const H_SET_COOKIE = 'x-spawner-set-cookie'; // the cookie nginx sets on the answer

export interface RouteRequest {
  name: string;
  queryToken: string | undefined;
  cookieToken: string | undefined;
  upgrade: boolean;
  https: boolean;
  appUri: string; // '/' at least
  appCookie: string; // '' when nothing is left
  appReferer: string; // '' when there was none
}

type Headers = Record<string, string | string[] | undefined>;

function header(headers: Headers, name: string): string {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : (v ?? '');
}

// A query parameter's name as a browser would decode it ("tok%65n" is "token" too).
function paramName(pair: string): string {
  const eq = pair.indexOf('=');
  const raw = (eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, ' ');
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function paramValue(pair: string): string {
  const eq = pair.indexOf('=');
  if (eq < 0) return '';
  const raw = pair.slice(eq + 1).replace(/\+/g, ' ');
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

// Splits the token out of a raw query string (without '?'): the first `token` parameter's value, and
// the query with every `token` parameter removed and the others left byte for byte as they were.
export function takeQueryToken(query: string): { token: string | undefined; rest: string } {
  let token: string | undefined;
  const kept: string[] = [];
  for (const pair of query.split('&')) {
    if (paramName(pair) === ACCESS_TOKEN_PARAM) {
      token ??= paramValue(pair);
    } else {
      kept.push(pair);
    }
  }
  return { token, rest: kept.join('&') };
}

// The same for a URI ("/path?query"): a query emptied by the removal loses its '?' too, unless the
// client sent a bare '?' to begin with.
export function takeUriToken(uri: string): { token: string | undefined; uri: string } {
  const q = uri.indexOf('?');
  if (q < 0) return { token: undefined, uri };
  const path = uri.slice(0, q);
  const query = uri.slice(q + 1);
  if (query === '') return { token: undefined, uri };
  const { token, rest } = takeQueryToken(query);
  if (token === undefined) return { token, uri };
  return { token, uri: rest === '' ? path : `${path}?${rest}` };
}

// The Cookie header's `spawner_token` (the first one) and the header without any of them.
export function takeCookieToken(cookie: string): { token: string | undefined; rest: string } {
  let token: string | undefined;
  const kept: string[] = [];
  for (const part of cookie.split(';')) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    const name = eq < 0 ? trimmed : trimmed.slice(0, eq).trim();
    if (name === ACCESS_COOKIE) {
      token ??= eq < 0 ? '' : trimmed.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    } else {
      kept.push(trimmed);
    }
  }
  return { token, rest: kept.join('; ') };
}

// A same-origin Referer is the page the browser was on, tokened URL included: drop the token.
export function cleanReferer(referer: string): string {
  if (referer === '') return '';
  const hash = referer.indexOf('#');
  const withoutFragment = hash < 0 ? referer : referer.slice(0, hash);
  return takeUriToken(withoutFragment).uri;
}

export function parseRouteRequest(headers: Headers): RouteRequest {
  const rest = header(headers, H_REST) || '/';
  const fromQuery = takeUriToken(rest);
  const fromCookie = takeCookieToken(header(headers, 'cookie'));
  return {
    name: header(headers, H_NAME),
    queryToken: fromQuery.token,
    cookieToken: fromCookie.token,
    upgrade: header(headers, H_UPGRADE) !== '',
    https: header(headers, H_SCHEME) === 'https',
    appUri: fromQuery.uri.startsWith('/') ? fromQuery.uri : `/${fromQuery.uri}`,
    appCookie: fromCookie.rest,
    appReferer: cleanReferer(header(headers, 'referer')),
  };
}

// The cookie that lets the page's relative requests and its WebSocket in without the query: only
// under this backend's prefix, never readable by scripts, not sent on cross-site subrequests.
export function accessCookie(name: string, token: string, secure: boolean): string {
  return `${ACCESS_COOKIE}=${token}; Path=/p/${name}/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}
