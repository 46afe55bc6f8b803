// Saves a user's and the platform's Twilio settings with sealed tokens, through every path that puts a statement or
// its parameters in the server log or pg_stat_statements: the extended protocol with bind parameters (drivers,
// PostgREST), literal SQL, PREPARE/EXECUTE, an unqualified call after SET search_path, a DO block and EXPLAIN
// ANALYZE. Prints the last four characters get_settings shows afterwards and how a replay by another user ended.
// Usage: node log_secrets_client.js USER_ID ACCOUNT_SID TOKEN PLATFORM_SID PLATFORM_TOKEN (PG* variables: the database)
const { Client } = require('pg');

const [userId, sid, token, platformSid, platformToken] = process.argv.slice(2);
const quote = (s) => `'${s.replace(/'/g, "''")}'`;

async function main() {
  const { sealToken } = await import('../../web/seal-token.js');
  const db = new Client();
  await db.connect();
  const asUser = async (fn) => {
    await db.query('BEGIN');
    await db.query('SET LOCAL ROLE authenticated');
    const claims = JSON.stringify({ sub: userId, role: 'authenticated' });
    await db.query("SELECT set_config('request.jwt.claims', $1, true)", [claims]);
    try {
      return await fn();
    } finally {
      await db.query('COMMIT');
    }
  };
  const key = await asUser(async () => (await db.query('SELECT twilio.token_sealing_key() AS k')).rows[0].k);
  const seal = () => sealToken({ key, owner: userId, accountSid: sid, token });

  // Extended protocol: the sealed token is a bind parameter, logged as "parameters: $2 = '...'".
  await asUser(async () => db.query('SELECT * FROM twilio.save_settings($1, $2)', [sid, await seal()]));
  await asUser(async () => db.query(`SELECT * FROM twilio.save_settings(${quote(sid)}, ${quote(await seal())})`
  ));
  await asUser(async () => {
    await db.query(`PREPARE save_p(text, text) AS SELECT * FROM twilio.save_settings($1, $2)`);
    await db.query(`EXECUTE save_p(${quote(sid)}, ${quote(await seal())})`);
    await db.query('DEALLOCATE save_p');
  });
  await asUser(async () => {
    await db.query('SET LOCAL search_path = twilio, public');
    await db.query(`SELECT * FROM save_settings(${quote(sid)}, ${quote(await seal())})`);
  });
  const call = async () => `twilio.save_settings(${quote(sid)}, ${quote(await seal())})`;
  await asUser(async () => db.query(`DO $$BEGIN PERFORM ${await call()}; END$$`));
  await asUser(async () => db.query(`EXPLAIN ANALYZE SELECT * FROM ${await call()}`));

  // The platform account, as service_role: its tokens are sealed for the owner "platform".
  const platformSealed = await sealToken({ key, owner: 'platform', accountSid: platformSid, token: platformToken });
  await db.query('BEGIN');
  await db.query('SET LOCAL ROLE service_role');
  await db.query('SELECT twilio.set_platform_account($1, $2)', [platformSid, platformSealed]);
  await db.query('COMMIT');

  // A sealed token seen in a log opens for nobody else: another user replaying it is refused.
  let replay = 'accepted';
  try {
    await db.query('BEGIN');
    await db.query('SET LOCAL ROLE authenticated');
    const other = JSON.stringify({ sub: '00000000-0000-0000-0000-0000000000e2' });
    await db.query("SELECT set_config('request.jwt.claims', $1, true)", [other]);
    await db.query('SELECT * FROM twilio.save_settings($1, $2)', [sid, await seal()]);
  } catch (e) {
    replay = e.code;
  } finally {
    await db.query('ROLLBACK');
  }
  const settings = await asUser(async () => (await db.query('SELECT * FROM twilio.get_settings()')).rows[0]);
  // "<last four of the masked token> <SQLSTATE of the replay>", for the shell to read
  console.log(`${(settings.auth_token_masked || '').slice(-4)} ${replay}`);
  await db.end();
}

main().catch((e) => {
  console.error(`log_secrets_client: ${e.code || ''} ${e.message}`);
  process.exit(1);
});
