-- Prints the results as a Markdown table: median of the runs per case, calls/second, time relative to ours.
\set ON_ERROR_STOP on
\pset format unaligned
\pset tuples_only on
\pset footer off

WITH per_run AS (
    SELECT grp, ord, seconds * 1e6 / n AS us, n
      FROM bench.results
), med AS (
    SELECT grp, ord, percentile_cont(0.5) WITHIN GROUP (ORDER BY us) AS us, min(us) AS best, max(us) AS worst,
           max(n) AS n, count(*) AS runs
      FROM per_run GROUP BY grp, ord
), ours AS (
    SELECT m.grp, m.us FROM med m JOIN bench.cases c USING (grp, ord) WHERE c.kind = 'ours'
), rows AS (
    SELECT c.grp, c.ord, c.label, c.kind, m.us, m.best, m.worst, m.n, m.runs, m.us / o.us AS ratio
      FROM bench.cases c JOIN med m USING (grp, ord) JOIN ours o USING (grp)
)
SELECT line FROM (
    SELECT 0 AS g, 0 AS o, '| Group | Case | Median µs/call | Calls/s | Time vs ours | Runs × N (min–max µs) |' AS line
    UNION ALL
    SELECT 0, 1, '|---|---|---:|---:|---:|---|'
    UNION ALL
    SELECT CASE grp WHEN 'signature' THEN 1 ELSE 2 END, ord,
           format('| %s | %s | %s | %s | %s | %s × %s (%s–%s) |',
                  grp, label,
                  to_char(us, 'FM999990.00'),
                  to_char(round(1e6 / us), 'FM999,999,999,990'),
                  CASE kind WHEN 'harness' THEN '—' WHEN 'ours' THEN '1.00×' ELSE to_char(ratio, 'FM99990.00') || '×' END,
                  runs, n, to_char(best, 'FM999990.00'), to_char(worst, 'FM999990.00'))
      FROM rows
) t ORDER BY g, o;
