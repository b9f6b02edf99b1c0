#!/usr/bin/env python3
"""Server CPU per HTTP request carrying a made-up invitation token, for a roster of N people.

Every route an invitation may call asks the convention's task who the token belongs to; a
token nobody holds costs that lookup, then 401. It must not grow with the roster.

    python3 bench/made-up-tokens.py target/release/convene 10000 5000   # BINARY ROSTER REQUESTS

Starts BINARY on a free loopback port with a fresh data directory, creates a convention of
ROSTER citizens and invites them all, then sends REQUESTS `GET …/chat` with random tokens on
one keep-alive connection and reports the server's utime + stime (/proc) per request.
"""
import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time

binary, roster, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
data = tempfile.mkdtemp()
token = 'bench-organizer-' + secrets.token_hex(16)
server = subprocess.Popen(
    [binary, 'serve', '--data', data, '--listen', f'127.0.0.1:{port}', '--organizer-token', token],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(200):
        try:
            conn = http.client.HTTPConnection('127.0.0.1', port)
            conn.connect()
            break
        except OSError:
            time.sleep(0.1)

    def call(method, path, body=None, bearer=token):
        headers = {'Authorization': f'Bearer {bearer}', 'Content-Type': 'application/json'}
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        r = conn.getresponse()
        return r.status, r.read()

    def cpu():
        fields = open(f'/proc/{server.pid}/stat').read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')

    people = [{'id': f'p{i:05}', 'name': f'Personne {i}', 'roles': ['citizen']} for i in range(roster)]
    for method, path, body in [('POST', '/api/conventions', {'id': 'bench', 'name': 'Banc'}),
                               ('POST', '/api/conventions/bench/roster', people),
                               ('POST', '/api/conventions/bench/invites', None)]:
        status, text = call(method, path, body)
        if status != 201:
            sys.exit(f'{method} {path}: {status} {text[:300]!r}')
    statuses = {}
    started, cpu0 = time.time(), cpu()
    for i in range(count):
        status, _ = call('GET', '/api/conventions/bench/chat', bearer=secrets.token_hex(16))
        statuses[status] = statuses.get(status, 0) + 1
        if i % 500 == 0:
            print(f'\r{i}/{count}', end='', file=sys.stderr, flush=True)
    elapsed, used = time.time() - started, cpu() - cpu0
    print(f'\r{count}/{count}', file=sys.stderr)
    print(f'{binary}: roster {roster}, {count} requests {statuses}, '
          f'{used / count * 1e6:.0f} µs of server CPU each, {count / elapsed:.0f} requests/s')
finally:
    server.terminate()
    server.wait()
    shutil.rmtree(data, ignore_errors=True)
