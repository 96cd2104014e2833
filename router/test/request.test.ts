import { describe, expect, test } from '@jest/globals';
import {
  accessCookie,
  cleanReferer,
  parseRouteRequest,
  takeCookieToken,
  takeQueryToken,
  takeUriToken,
} from '../src/request.ts';

describe('takeQueryToken', () => {
  test.each<[string, string | undefined, string]>([
    ['', undefined, ''],
    ['x=1', undefined, 'x=1'],
    ['token=T', 'T', ''],
    ['x=1&token=T&y=2', 'T', 'x=1&y=2'],
    ['token=T&token=U', 'T', ''],
    ['tok%65n=T', 'T', ''],
    ['token', '', ''],
    ['token=', '', ''],
    ['tokens=T&a+b=%2F', undefined, 'tokens=T&a+b=%2F'],
    ['x=%zz&token=T', 'T', 'x=%zz'],
    ['next=%2Fp%2Fx%2F%3Ftoken%3DT', undefined, 'next=%2Fp%2Fx%2F%3Ftoken%3DT'],
  ])('%j: token %j, rest %j', (query, token, rest) => {
    expect(takeQueryToken(query)).toEqual({ token, rest });
  });
});

describe('takeUriToken', () => {
  test.each<[string, string | undefined, string]>([
    ['/', undefined, '/'],
    ['/?', undefined, '/?'],
    ['/ws?token=T', 'T', '/ws'],
    ['/a%20b/?x=1&token=T', 'T', '/a%20b/?x=1'],
    ['/?x=1', undefined, '/?x=1'],
    ['/path/token=T', undefined, '/path/token=T'],
  ])('%j: token %j, URI %j', (uri, token, rest) => {
    expect(takeUriToken(uri)).toEqual({ token, uri: rest });
  });
});

describe('takeCookieToken', () => {
  test.each<[string, string | undefined, string]>([
    ['', undefined, ''],
    ['a=1', undefined, 'a=1'],
    ['spawner_token=T', 'T', ''],
    ['a=1; spawner_token=T; b=2', 'T', 'a=1; b=2'],
    ['a=1;spawner_token=T;b=2', 'T', 'a=1; b=2'],
    ['spawner_token="T"', 'T', ''],
    ['spawner_token=T; spawner_token=U', 'T', ''],
    ['spawner_tokens=T', undefined, 'spawner_tokens=T'],
    ['x_spawner_token=T', undefined, 'x_spawner_token=T'],
  ])('%j: token %j, rest %j', (cookie, token, rest) => {
    expect(takeCookieToken(cookie)).toEqual({ token, rest });
  });
});

describe('cleanReferer', () => {
  test.each([
    ['', ''],
    ['http://h/p/x/', 'http://h/p/x/'],
    ['http://h/p/x/?token=T', 'http://h/p/x/'],
    ['http://h/p/x/?room=7&token=T#top', 'http://h/p/x/?room=7'],
  ])('%j → %j', (referer, clean) => {
    expect(cleanReferer(referer)).toBe(clean);
  });
});

describe('parseRouteRequest', () => {
  test('reads what nginx sends and what the app may see', () => {
    expect(
      parseRouteRequest({
        'x-spawner-name': 'room',
        'x-spawner-rest': '/ws?token=Q&x=1',
        'x-spawner-upgrade': 'websocket',
        'x-spawner-scheme': 'https',
        cookie: 'a=1; spawner_token=C',
        referer: 'https://h/p/room/?token=Q',
      }),
    ).toEqual({
      name: 'room',
      queryToken: 'Q',
      cookieToken: 'C',
      upgrade: true,
      https: true,
      appUri: '/ws?x=1',
      appCookie: 'a=1',
      appReferer: 'https://h/p/room/',
    });
  });

  test('defaults: no rest is "/", no upgrade, http', () => {
    expect(parseRouteRequest({ 'x-spawner-name': 'room' })).toMatchObject({ appUri: '/', upgrade: false, https: false, queryToken: undefined, cookieToken: undefined });
  });
});

test('the access cookie is scoped to the backend, HttpOnly, SameSite=Lax, and Secure when asked', () => {
  expect(accessCookie('room', 'T', false)).toBe('spawner_token=T; Path=/p/room/; HttpOnly; SameSite=Lax');
  expect(accessCookie('room', 'T', true)).toBe('spawner_token=T; Path=/p/room/; HttpOnly; SameSite=Lax; Secure');
});
