#!/usr/bin/env node
// Outbound-dispatch benchmark client, driven by bench/dispatch_run.sh (which sets PGHOST/PGPORT to the throwaway
// cluster and starts the Twilio stand-ins). Each measuring command appends one JSON line to --out; `report` turns
// the lines into Markdown tables.
//
//   latency     --impl ours|naive --label L --n 300 --warmup 10 --gap-ms 20 --standin URL --user UUID --out F
//   throughput  --concurrency C --cap K --n 5000 --stats none|fresh|stale --standin URL --standin-pid PID
//               --user UUID[,UUID...] --out F
//   naive-batch --label L --n 5000 --standin URL --standin-pid PID --out F
//   pgbench     --label L --clients C --n N --log-dir D --stdout-file F --elapsed-ms MS --out F
//   report      --out F
//
// Clock: client times are performance.timeOrigin + performance.now() (sub-millisecond, epoch-based), the
// stand-in's are its recorded ISO times (whole milliseconds, truncated), the server's are timestamptz (µs);
// all processes run on this machine, so they share one clock.
'use strict';

const fs = require('fs');
const http = require('http');
const { performance } = require('perf_hooks');
const { Client } = require('pg');

const SEND_OURS = 'SELECT twilio.send_sms($1, $2)';
const SEND_NAIVE = 'SELECT dispatch_naive.send_sms($1, $2)';

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`);
    out[argv[i].slice(2)] = argv[i + 1];
  }
  return out;
}

const nowMs = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function connect(asUser) {
  const c = new Client({ host: process.env.PGHOST, port: Number(process.env.PGPORT), user: 'postgres',
                         database: 'postgres', application_name: 'dispatch_bench' });
  await c.connect();
  if (asUser) {  // as PostgREST would: the authenticated role with the user's JWT claims
    await c.query('SET ROLE authenticated');
    await c.query("SELECT set_config('request.jwt.claims', $1, false)",
                  [JSON.stringify({ sub: asUser, role: 'authenticated' })]);
  }
  return c;
}

function request(method, url) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode >= 300) return reject(new Error(`${method} ${url}: ${res.statusCode}`));
        try { resolve(JSON.parse(text)); } catch (e) { reject(e); }
      });
    });
    req.on('error', reject);
    req.setTimeout(30000, () => req.destroy(new Error(`${method} ${url}: timeout`)));
    req.end();
  });
}

// Nearest-rank percentiles.
function stats(values) {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const at = (p) => s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)];
  return { n: s.length, p50: at(50), p99: at(99), min: s[0], max: s[s.length - 1],
           mean: s.reduce((a, b) => a + b, 0) / s.length };
}

function append(file, record) {
  fs.appendFileSync(file, JSON.stringify(record) + '\n');
  process.stderr.write(`   ${record.kind} ${record.label}: ${summary(record)}\n`);
}

function summary(r) {
  if (r.kind === 'idle') return `${fmt(r.dispatcher_cpu_pct, 0)}% of a core, ${fmt(r.passes_per_s, 0)} passes/s`;
  if (r.kind === 'latency') {
    const c = r.commit_to_request_ms, w = r.caller_ms;
    return `caller p50 ${fmt(w.p50)} ms` + (c ? `, commit->request p50 ${fmt(c.p50)} p99 ${fmt(c.p99)} ms` : '') +
           (r.unmatched ? `, ${r.unmatched} unmatched` : '');
  }
  return `${fmt(r.msgs_per_s, 0)} msgs/s` + (r.not_done ? `, ${r.not_done} not done` : '');
}

function fmt(v, digits = 2) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

// CPU time of a process (user + system) and of the whole machine, from /proc, in clock ticks.
function procTicks(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(fields[11]) + Number(fields[12]);  // utime, stime (fields 14 and 15 of the full line)
  } catch (e) {
    return NaN;
  }
}
function machineTicks() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4];
  return { busy: f.reduce((a, b) => a + b, 0) - idle, total: f.reduce((a, b) => a + b, 0) };
}
const TICKS_PER_S = 100;  // USER_HZ on Linux
function cpuSnapshot(pids) {
  return { at: nowMs(), pids: Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, procTicks(p)])),
           machine: machineTicks() };
}
// Percent of one core per process, and the machine's busy share (100 = every core busy).
function cpuUsage(a, b) {
  const secs = (b.at - a.at) / 1000;
  const out = {};
  for (const k of Object.keys(a.pids)) out[`${k}_cpu_pct`] = (100 * (b.pids[k] - a.pids[k])) / TICKS_PER_S / secs;
  out.machine_busy_pct = (100 * (b.machine.busy - a.machine.busy)) / (b.machine.total - a.machine.total);
  return out;
}

async function outboxStatus(admin) {
  const { rows } = await admin.query(
    'SELECT backlog::int, in_flight::int, ambiguous::int, sent::int, failed::int FROM twilio.outbox_status');
  return rows[0];
}

// Polls until nothing is pending, in flight or ambiguous; returns the time it saw that, or null on timeout.
async function waitDrained(admin, timeoutMs, pollMs = 20) {
  const deadline = nowMs() + timeoutMs;
  while (nowMs() < deadline) {
    const s = await outboxStatus(admin);
    if (s.backlog + s.in_flight + s.ambiguous === 0) return nowMs();
    await sleep(pollMs);
  }
  return null;
}

// Empties the outbox and the messages; analyze: also ANALYZE them (empty), as on a fresh, idle system.
async function clearOutbox(admin, analyze = true) {
  await admin.query('DELETE FROM twilio.outbox');
  await admin.query('DELETE FROM twilio.messages');
  await admin.query(`VACUUM ${analyze ? 'ANALYZE' : ''} twilio.outbox, twilio.messages`);
}

// A database that has never seen a burst: empty outbox tables without planner statistics (TRUNCATE resets their
// size estimates; their pg_statistic rows are deleted) and a new dispatcher process (no plans cached from earlier
// runs). Returns the new dispatcher's pid.
async function freshTables(admin) {
  await admin.query('TRUNCATE twilio.outbox, twilio.messages');
  await admin.query(`DELETE FROM pg_statistic
                      WHERE starelid IN ('twilio.outbox'::regclass, 'twilio.messages'::regclass)`);
  const old = (await admin.query('SELECT twilio.dispatcher_pid() AS pid')).rows[0].pid;
  await admin.query('SELECT pg_terminate_backend($1)', [old]);
  for (let i = 0; i < 100; i++) {  // the postmaster restarts the worker a second later
    await sleep(100);
    const pid = (await admin.query('SELECT twilio.dispatcher_pid() AS pid')).rows[0].pid;
    if (pid && pid !== old) {
      await sleep(200);  // past its start-up sweep
      return pid;
    }
  }
  throw new Error('the dispatcher did not restart');
}

function messagePosts(recorded) {
  return recorded.filter((r) => r.method === 'POST' && /\/Messages\.json$/.test(r.path));
}

// ---- latency: sequential transactions, one message each -------------------------------------------------------
async function latency(a) {
  const impl = a.impl, n = Number(a.n || 300), warmup = Number(a.warmup || 10), gap = Number(a['gap-ms'] || 0);
  if (!['ours', 'naive'].includes(impl)) throw new Error('--impl must be ours or naive');
  const tag = `${a.label} ${process.pid}-${Date.now()}`;
  const admin = await connect();
  if (impl === 'ours') await clearOutbox(admin);
  else await admin.query('UPDATE dispatch_naive.account SET base_url = $1', [a.standin]);
  await request('DELETE', `${a.standin}/__requests`);
  const profile = a.profile === '1';
  if (profile) {
    await admin.query("ALTER SYSTEM SET pg_stat_statements.track = 'all'");
    await admin.query('SELECT pg_reload_conf()');
    await sleep(300);
    await admin.query('SELECT pg_stat_statements_reset()');
  }
  const client = await connect(impl === 'ours' ? a.user : null);
  const started = nowMs();
  const sql = impl === 'ours' ? SEND_OURS : SEND_NAIVE;
  const samples = [];
  for (let i = 0; i < warmup + n; i++) {
    const body = `dispatch latency ${tag} #${i}`;
    const to = '+1555' + String(1000000 + i);
    const t0 = nowMs();
    await client.query('BEGIN');
    const t1 = nowMs();
    await client.query(sql, [to, body]);
    const t2 = nowMs();
    await client.query('COMMIT');
    const t3 = nowMs();
    if (i >= warmup) samples.push({ body, begin: t0, call: t2 - t1, commit: t3 });
    if (gap > 0) await sleep(gap);
  }
  if (impl === 'ours' && (await waitDrained(admin, 30000)) === null) throw new Error('outbox not drained in 30 s');
  let statements = null;
  if (profile) {
    statements = await dispatcherStatements(admin, nowMs() - started);
    await admin.query('ALTER SYSTEM RESET pg_stat_statements.track');
    await admin.query('SELECT pg_reload_conf()');
  }

  const received = new Map();
  for (const r of messagePosts(await request('GET', `${a.standin}/__requests`))) {
    const body = new URLSearchParams(r.body || '').get('Body');
    // The stand-in's times are whole milliseconds, truncated: +0.5 ms puts each at the middle of its millisecond.
    if (body && !received.has(body)) received.set(body, Date.parse(r.time) + 0.5);
  }
  const server = new Map();
  let notDone = 0;
  if (impl === 'ours') {
    const { rows } = await admin.query(
      `SELECT m.body, o.state, m.status, extract(epoch FROM o.claimed_at) * 1000 AS claimed,
              extract(epoch FROM o.finished_at) * 1000 AS finished
         FROM twilio.outbox o JOIN twilio.messages m ON m.user_id = o.user_id AND m.id = o.message_id
        WHERE m.body LIKE $1`, [`dispatch latency ${tag} #%`]);
    for (const r of rows) {
      server.set(r.body, { claimed: Number(r.claimed), finished: Number(r.finished) });
      if (r.state !== 'done' || r.status !== 'accepted') notDone++;
    }
  } else {
    const { rows } = await admin.query('SELECT count(*)::int AS c FROM dispatch_naive.messages WHERE body LIKE $1',
                                       [`dispatch latency ${tag} #%`]);
    notDone = warmup + n - rows[0].c;
  }
  const got = (s) => received.get(s.body);
  append(a.out, {
    kind: 'latency', impl, scenario: a.scenario, label: a.label, n, warmup, gap_ms: gap, profile, statements,
    msgs_per_s: samples.length / ((samples[samples.length - 1].commit - samples[0].begin) / 1000),
    unmatched: samples.filter((s) => got(s) === undefined).length, not_done: notDone,
    caller_ms: stats(samples.map((s) => s.commit - s.begin)),
    call_ms: stats(samples.map((s) => s.call)),
    begin_to_request_ms: stats(samples.map((s) => got(s) - s.begin)),
    commit_to_request_ms: impl === 'ours' ? stats(samples.map((s) => got(s) - s.commit)) : null,
    commit_to_claim_ms: impl === 'ours' ? stats(samples.map((s) => server.get(s.body)?.claimed - s.commit)) : null,
    commit_to_recorded_ms: impl === 'ours' ? stats(samples.map((s) => server.get(s.body)?.finished - s.commit)) : null,
  });
  await client.end();
  await admin.end();
}

// ---- throughput of the dispatcher: N messages in one transaction, time until the outbox is drained -----------
// --stats fresh: ANALYZE twilio.outbox inside the enqueueing transaction (it sees its own rows), so the planner
//                knows about the backlog, as after an autoanalyze that ran during a backlog;
// --stats none:  a fresh database: no statistics on the outbox tables yet, a newly started dispatcher;
// --stats stale: ANALYZE twilio.outbox before enqueueing, while it holds only finished jobs, as on a live system
//                whose statistics were taken between bursts (autovacuum is off in the benchmark cluster).
// --profile 1:   pg_stat_statements (track = all) during the run; the dispatcher's statements are reported.
async function throughput(a) {
  const n = Number(a.n || 5000), reps = Number(a.reps || 1), concurrency = Number(a.concurrency);
  const cap = Number(a.cap), regime = a.stats || 'fresh', profile = a.profile === '1';
  const admin = await connect();
  const users = String(a.user).split(',');  // several: each user's messages go out with that user's own account
  const client = await connect(users[0]);
  await admin.query(`ALTER SYSTEM SET byo_twilio.dispatcher_concurrency = ${concurrency}`);
  await admin.query(`ALTER SYSTEM SET byo_twilio.max_concurrent_per_account = ${cap}`);
  await admin.query(`ALTER SYSTEM SET pg_stat_statements.track = '${profile ? 'all' : 'none'}'`);
  await admin.query('SELECT pg_reload_conf()');
  await sleep(300);  // the dispatcher rereads its settings when the reload signal wakes it
  const shown = (await admin.query("SELECT current_setting('byo_twilio.dispatcher_concurrency') AS v")).rows[0].v;
  if (Number(shown) !== concurrency) throw new Error(`dispatcher_concurrency is ${shown}, expected ${concurrency}`);
  const pid = (await admin.query('SELECT twilio.dispatcher_pid() AS pid')).rows[0].pid;
  if (!pid) throw new Error('the dispatcher is not running');
  const pids = { dispatcher: pid, standin: Number(a['standin-pid']) };
  const runs = [];
  let statements = null;
  for (let rep = 0; rep < reps; rep++) {
    if (regime === 'fresh') await clearOutbox(admin, false);
    else if (regime === 'none') pids.dispatcher = await freshTables(admin);
    else await admin.query('ANALYZE twilio.outbox');  // finished jobs only
    await request('DELETE', `${a.standin}/__state`);
    await request('DELETE', `${a.standin}/__requests`);
    const tag = `dispatch throughput ${process.pid}-${Date.now()}-${rep} #`;
    const t0 = nowMs();
    await client.query('BEGIN');
    if (users.length === 1) {
      await client.query(`SELECT count(twilio.send_sms('+1555' || lpad(g::text, 7, '0'), $1 || g))
                            FROM generate_series(1, $2) AS g`, [tag, n]);
    } else {  // one transaction for every user's messages, round robin (as a drip tick would enqueue them)
      await client.query('RESET ROLE');
      await client.query(`SELECT count(twilio._enqueue_sms(($3::uuid[])[1 + g % array_length($3::uuid[], 1)],
                                                           '+1555' || lpad(g::text, 7, '0'), $1 || g))
                            FROM generate_series(1, $2) AS g`, [tag, n, users]);
      await client.query('SET ROLE authenticated');
    }
    let analyzeMs = 0;  // not part of what the caller would wait for
    if (regime === 'fresh') {
      const ta = nowMs();
      await client.query('RESET ROLE');
      await client.query('ANALYZE twilio.outbox');
      await client.query('SET ROLE authenticated');
      analyzeMs = nowMs() - ta;
    }
    const cpu0 = cpuSnapshot(pids);
    await client.query('COMMIT');
    const t1 = nowMs();
    // Counted from here: the dispatcher's empty polls while the batch was being enqueued are left out.
    if (profile) await admin.query('SELECT pg_stat_statements_reset()');
    const t2 = await waitDrained(admin, Number(a['timeout-s'] || 120) * 1000);
    const cpu1 = cpuSnapshot(pids);
    if (t2 === null) throw new Error(`${a.label}: outbox not drained in time`);
    const { rows } = await admin.query(
      `SELECT count(*) FILTER (WHERE o.state = 'done' AND m.status = 'accepted')::int AS ok
         FROM twilio.outbox o JOIN twilio.messages m ON m.user_id = o.user_id AND m.id = o.message_id
        WHERE m.body LIKE $1`, [tag + '%']);
    const posts = messagePosts(await request('GET', `${a.standin}/__requests`)).map((r) => Date.parse(r.time) + 0.5);
    const drainS = (t2 - t1) / 1000;
    runs.push({ caller_ms: t1 - t0 - analyzeMs, drain_s: drainS, msgs_per_s: n / drainS, not_done: n - rows[0].ok,
                requests_seen: posts.length, first_request_after_commit_ms: posts.length ? Math.min(...posts) - t1 : null,
                ...cpuUsage(cpu0, cpu1) });
    process.stderr.write(`     run ${rep + 1}/${reps}: ${fmt(n / drainS, 0)} msgs/s\n`);
    if (profile) statements = await dispatcherStatements(admin, t2 - t1);
  }
  await admin.query('ALTER SYSTEM RESET pg_stat_statements.track');
  await admin.query('SELECT pg_reload_conf()');
  const med = (k) => { const s = runs.map((r) => r[k]).sort((x, y) => x - y); return s[Math.floor((s.length - 1) / 2)]; };
  const rates = runs.map((r) => r.msgs_per_s);
  append(a.out, {
    kind: 'throughput', impl: 'ours', scenario: a.scenario, label: a.label, concurrency, cap, n, reps, stats: regime,
    profile, msgs_per_s: med('msgs_per_s'), min_msgs_per_s: Math.min(...rates), max_msgs_per_s: Math.max(...rates),
    drain_s: med('drain_s'), caller_ms: med('caller_ms'), not_done: runs.reduce((x, r) => x + r.not_done, 0),
    dispatcher_cpu_pct: med('dispatcher_cpu_pct'), standin_cpu_pct: med('standin_cpu_pct'),
    machine_busy_pct: med('machine_busy_pct'), first_request_after_commit_ms: med('first_request_after_commit_ms'),
    statements, runs,
  });
  await client.end();
  await admin.end();
}

// Where the dispatcher's time went during a profiled run: its top-level statements from pg_stat_statements.
async function dispatcherStatements(admin, drainMs) {
  const { rows } = await admin.query(
    `SELECT CASE WHEN query LIKE '%_claim_outbox%' THEN 'claim' WHEN query LIKE '%_finish_outbox%' THEN 'finish'
                 WHEN query LIKE '%_next_due_ms%' THEN 'next_due' ELSE 'other' END AS what,
            sum(calls)::int AS calls, sum(total_exec_time)::float8 AS ms, sum(rows)::int AS rows
       FROM pg_stat_statements
      WHERE toplevel AND query ~ 'twilio\\._(claim_outbox|finish_outbox|next_due_ms)'
      GROUP BY 1`);
  const out = { drain_ms: drainMs };
  for (const r of rows) out[r.what] = { calls: r.calls, ms: r.ms, rows: r.rows };
  return out;
}

// ---- the dispatcher with nothing to do: CPU used and passes made over a few seconds -----------------------------
async function idle(a) {
  const secs = Number(a.seconds || 3);
  const admin = await connect();
  await clearOutbox(admin);
  await admin.query("ALTER SYSTEM SET pg_stat_statements.track = 'all'");
  await admin.query('SELECT pg_reload_conf()');
  await sleep(500);
  const pid = (await admin.query('SELECT twilio.dispatcher_pid() AS pid')).rows[0].pid;
  await admin.query('SELECT pg_stat_statements_reset()');
  const cpu0 = cpuSnapshot({ dispatcher: pid });
  await sleep(secs * 1000);
  const cpu1 = cpuSnapshot({ dispatcher: pid });
  const st = await dispatcherStatements(admin, cpu1.at - cpu0.at);
  await admin.query('ALTER SYSTEM RESET pg_stat_statements.track');
  await admin.query('SELECT pg_reload_conf()');
  const due = (await admin.query('SELECT twilio._next_due_ms() AS d')).rows[0].d;
  append(a.out, { kind: 'idle', scenario: a.scenario, label: 'dispatcher with an empty outbox', seconds: secs,
                  dispatcher_cpu_pct: cpuUsage(cpu0, cpu1).dispatcher_cpu_pct,
                  passes_per_s: st.claim ? st.claim.calls / ((cpu1.at - cpu0.at) / 1000) : 0,
                  next_due_ms_when_empty: due });
  await admin.end();
}

// ---- naive, sequential: N synchronous HTTP calls in one statement of one transaction -------------------------
async function naiveBatch(a) {
  const n = Number(a.n || 5000);
  const admin = await connect();
  await admin.query('UPDATE dispatch_naive.account SET base_url = $1', [a.standin]);
  await admin.query('TRUNCATE dispatch_naive.messages');
  await request('DELETE', `${a.standin}/__state`);
  const client = await connect();
  const backend = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  const tag = `dispatch naive batch ${process.pid}-${Date.now()} #`;
  const cpu0 = cpuSnapshot({ backend, standin: Number(a['standin-pid']) });
  const t0 = nowMs();
  await client.query('BEGIN');
  await client.query(`SELECT count(dispatch_naive.send_sms('+1555' || lpad(g::text, 7, '0'), $1 || g))
                        FROM generate_series(1, $2) AS g`, [tag, n]);
  await client.query('COMMIT');
  const t1 = nowMs();
  const cpu1 = cpuSnapshot({ backend, standin: Number(a['standin-pid']) });
  const { rows } = await admin.query('SELECT count(*)::int AS c FROM dispatch_naive.messages WHERE body LIKE $1',
                                     [tag + '%']);
  const secs = (t1 - t0) / 1000;
  append(a.out, { kind: 'throughput', impl: 'naive', scenario: a.scenario, label: a.label, sessions: 1, n, caller_ms: t1 - t0,
                  drain_s: secs, msgs_per_s: n / secs, not_done: n - rows[0].c, ...cpuUsage(cpu0, cpu1) });
  await client.end();
  await admin.end();
}

// ---- naive, pgbench: one message per transaction, C sessions --------------------------------------------------
async function pgbench(a) {
  const lat = [];
  for (const f of fs.readdirSync(a['log-dir'])) {
    for (const line of fs.readFileSync(`${a['log-dir']}/${f}`, 'utf8').split('\n')) {
      const fields = line.trim().split(/\s+/);
      if (fields.length >= 3) lat.push(Number(fields[2]) / 1000);  // µs -> ms
    }
  }
  const out = fs.readFileSync(a['stdout-file'], 'utf8');
  const failed = /number of failed transactions: (\d+)/.exec(out);
  const done = /number of transactions actually processed: (\d+)/.exec(out);
  const n = Number(a.n);
  const secs = Number(a['elapsed-ms']) / 1000;
  const processed = done ? Number(done[1]) : 0;
  append(a.out, { kind: 'throughput', impl: 'naive', scenario: a.scenario, label: a.label, sessions: Number(a.clients), n,
                  drain_s: secs, msgs_per_s: processed / secs, not_done: n - processed,
                  failed: failed ? Number(failed[1]) : null, txn_ms: stats(lat) });
}

// ---- report -----------------------------------------------------------------------------------------------------
function report(a) {
  const rows = fs.readFileSync(a.out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const pp = (s) => (s ? `${fmt(s.p50)} / ${fmt(s.p99)}` : '–');
  const lines = [];
  const scenarios = [...new Set(rows.map((r) => r.scenario))];
  for (const scenario of scenarios) {
    const latency = rows.filter((r) => r.scenario === scenario && r.kind === 'latency' && !r.profile);
    const tput = rows.filter((r) => r.scenario === scenario && r.kind === 'throughput' && !r.profile);
    lines.push(`### ${scenario}`, '');
    if (latency.length) {
      lines.push('Latency: sequential transactions, one message each (p50 / p99, ms).', '');
      lines.push('| Path | Messages | Caller waits: BEGIN → COMMIT returned | POST reaches Twilio after COMMIT returned | ' +
                 'POST reaches Twilio after BEGIN | Dispatcher claimed the job after COMMIT | Result recorded after COMMIT |');
      lines.push('|---|---:|---:|---:|---:|---:|---:|');
      for (const r of latency) {
        const note = r.unmatched || r.not_done ? ` (**${r.unmatched} unmatched, ${r.not_done} not done**)` : '';
        lines.push(`| ${r.label}${note} | ${r.n} | ${pp(r.caller_ms)} | ` +
                   `${r.commit_to_request_ms ? pp(r.commit_to_request_ms) : 'before COMMIT'} | ` +
                   `${pp(r.begin_to_request_ms)} | ${pp(r.commit_to_claim_ms)} | ${pp(r.commit_to_recorded_ms)} |`);
      }
      lines.push('');
    }
    if (tput.length) {
      lines.push('Throughput: messages per second from COMMIT (ours: until the outbox is drained; naive: until the ' +
                 'last call returned).', '');
      lines.push('| Path | Messages | Msgs/s | Wall time s | Caller\'s transaction | ' +
                 'CPU % of a core: dispatcher (ours) or calling backend (naive) / stand-in | Machine CPU busy % |');
      lines.push('|---|---:|---:|---:|---|---:|---:|');
      for (const r of tput) {
        const note = r.not_done ? ` (**${r.not_done} not sent**)` : '';
        const rate = r.reps > 1 ? `${fmt(r.msgs_per_s, 0)} (${fmt(r.min_msgs_per_s, 0)}–${fmt(r.max_msgs_per_s, 0)}, median of ${r.reps})`
                                : fmt(r.msgs_per_s, 0);
        let txn;
        if (r.impl === 'ours') txn = `${fmt(r.caller_ms / 1000)} s to enqueue all, then free`;
        else if (!r.txn_ms) txn = `one, open ${fmt(r.caller_ms / 1000)} s (all the HTTP calls)`;
        else txn = `one per message, p50 / p99 ${pp(r.txn_ms)} ms`;
        const who = r.impl === 'ours' ? r.dispatcher_cpu_pct : r.backend_cpu_pct;
        const cpu = who !== undefined ? `${fmt(who, 0)} / ${fmt(r.standin_cpu_pct, 0)}` : '–';
        lines.push(`| ${r.label}${note} | ${r.n} | ${rate} | ${fmt(r.drain_s)} | ${txn} | ${cpu} | ` +
                   `${r.machine_busy_pct !== undefined ? fmt(r.machine_busy_pct, 0) : '–'} |`);
      }
      lines.push('');
    }
  }
  const profiled = rows.filter((r) => r.profile && r.statements);
  const idles = rows.filter((x) => x.kind === 'idle');
  if (profiled.length || idles.length) {
    lines.push('### Where the dispatcher\'s time goes (separate runs with pg_stat_statements, track = all)', '');
    for (const r of rows.filter((x) => x.kind === 'idle')) {
      lines.push(`Idle dispatcher (empty outbox, ${r.seconds} s): ${fmt(r.dispatcher_cpu_pct, 0)}% of a core, ` +
                 `${fmt(r.passes_per_s, 0)} claim passes per second; twilio._next_due_ms() with nothing waiting returns ` +
                 `${r.next_due_ms_when_empty === null ? 'NULL' : r.next_due_ms_when_empty}.`, '');
    }
  }
  if (profiled.length) {
    lines.push('| Run | Wall time ms | Claims: calls, rows, total ms (ms per call) | Finishes: calls, total ms (ms per call) | ' +
               'Next-due checks: calls, total ms | Rest: HTTP, request building, waits, ms |');
    lines.push('|---|---:|---:|---:|---:|---:|');
    for (const r of profiled) {
      const st = r.statements;
      const part = (x, rowsToo) => (x ? `${x.calls}${rowsToo ? `, ${x.rows}` : ''}, ${fmt(x.ms, 0)} (${fmt(x.ms / x.calls)})` : '–');
      const used = ['claim', 'finish', 'next_due'].reduce((t, k) => t + (st[k] ? st[k].ms : 0), 0);
      const rate = r.kind === 'throughput' ? `, ${fmt(r.msgs_per_s, 0)} msgs/s` : '';
      lines.push(`| ${r.label}${rate} | ${fmt(st.drain_ms, 0)} | ${part(st.claim, true)} | ${part(st.finish)} | ` +
                 `${st.next_due ? `${st.next_due.calls}, ${fmt(st.next_due.ms, 0)}` : '–'} | ${fmt(st.drain_ms - used, 0)} |`);
    }
    lines.push('');
  }
  console.log(lines.join('\n'));
}

async function main() {
  const cmd = process.argv[2];
  const a = parseArgs(process.argv.slice(3));
  if (cmd === 'latency') return latency(a);
  if (cmd === 'throughput') return throughput(a);
  if (cmd === 'naive-batch') return naiveBatch(a);
  if (cmd === 'idle') return idle(a);
  if (cmd === 'pgbench') return pgbench(a);
  if (cmd === 'report') return report(a);
  throw new Error(`unknown command ${cmd}`);
}

main().catch((e) => {
  console.error(`dispatch_bench: ${e.message}`);
  process.exit(1);
});
