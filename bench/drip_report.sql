-- Drip benchmark, report (bench/drip_run.sh): the median of each scenario's rounds for ours, the hand-written
-- alternative and (ticks) the floor of writes, as a Markdown table.
\pset format unaligned
\pset tuples_only on
SELECT '| scenario | enrolled (active) | due | byo_twilio, median ms | hand-written, median ms | hand-written / ours '
       '| the same writes alone (floor), median ms | target |';
SELECT '|---|---:|---:|---:|---:|---:|---:|---|';
WITH m AS (
    SELECT scenario, impl, enrolled, due, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms
      FROM bench.results GROUP BY scenario, impl, enrolled, due
)
SELECT '| ' || CASE WHEN o.scenario = 'analytics' THEN 'analytics: one user, 1,000,000 messages, 30 days'
                    ELSE o.scenario END
       || ' | ' || CASE WHEN o.scenario = 'analytics' THEN '-' ELSE to_char(o.enrolled, 'FM9,999,999') END || ' | ' || coalesce(to_char(o.due, 'FM99,999'), '-')
       || ' | ' || round(o.ms::numeric, 1) || ' | ' || round(n.ms::numeric, 1) || ' | '
       || round((n.ms / nullif(o.ms, 0))::numeric, 1) || '× | ' || coalesce(round(f.ms::numeric, 1)::text, '-') || ' | '
       || CASE WHEN o.scenario = 'analytics' THEN '≤ 50 ms: ' || CASE WHEN o.ms <= 50 THEN 'met' ELSE 'missed' END
               WHEN o.due = 10000 THEN '≤ 1 s: ' || CASE WHEN o.ms <= 1000 THEN 'met' ELSE 'missed' END
               WHEN o.due = 1000 AND o.enrolled >= 1000000 THEN '≤ 100 ms: ' || CASE WHEN o.ms <= 100 THEN 'met' ELSE 'missed' END
               ELSE '' END || ' |'
  FROM m o
  JOIN m n ON n.scenario = o.scenario AND n.enrolled = o.enrolled AND n.due IS NOT DISTINCT FROM o.due AND n.impl = 'naive'
  LEFT JOIN m f ON f.scenario = o.scenario AND f.enrolled = o.enrolled AND f.due = o.due AND f.impl = 'floor'
 WHERE o.impl = 'ours'
 ORDER BY o.scenario = 'analytics', o.due = 10000, o.due = 100, o.enrolled;
SELECT '';
SELECT 'rounds per median: ' || string_agg(DISTINCT rounds::text, ', ')
  FROM (SELECT count(*) AS rounds FROM bench.results GROUP BY scenario, impl, enrolled, due) r;
