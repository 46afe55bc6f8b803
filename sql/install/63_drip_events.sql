------------------------------------------------------------------------------------------------------------------
-- Drip events: replies and opt-outs stop enrollments; replies, opt-outs and delivery statuses update the per-day
-- rollups (twilio.campaign_stats_daily) as they land, so analytics never scans the history. Statement triggers
-- with transition tables: a webhook batch or a dispatcher pass pays once per statement, not once per row.
-- SECURITY DEFINER: a user adding a manual opt-out must stop their enrollments too; the triggers only touch the
-- rows of the users whose rows the statement wrote.
------------------------------------------------------------------------------------------------------------------

-- Adds per-(campaign, day, step) deltas to the rollups; rows arrive as jsonb built from enrollment_sends rows.
CREATE FUNCTION twilio._drip_add_stats(deltas jsonb) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO twilio.campaign_stats_daily AS d (user_id, campaign_id, day, step_id, position, delivered, failed,
                                                  replies, opt_outs)
    SELECT x.user_id, x.campaign_id, x.day, x.step_id, x.position, sum(x.delivered), sum(x.failed), sum(x.replies),
           sum(x.opt_outs)
      FROM jsonb_to_recordset(deltas) AS x(user_id uuid, campaign_id uuid, day date, step_id uuid, position integer,
                                           delivered integer, failed integer, replies integer, opt_outs integer)
     GROUP BY x.user_id, x.campaign_id, x.day, x.step_id, x.position
    ON CONFLICT (user_id, campaign_id, day, step_id)
        DO UPDATE SET delivered = d.delivered + EXCLUDED.delivered, failed = d.failed + EXCLUDED.failed,
                      replies = d.replies + EXCLUDED.replies, opt_outs = d.opt_outs + EXCLUDED.opt_outs
$$;

-- Inbound messages: a reply (not a STOP: that is an opt-out) stops the phone's ongoing enrollments in campaigns
-- that stop on reply, and counts once for the step that last reached that phone.
CREATE FUNCTION twilio._drip_on_inbound() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    deltas jsonb;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM new_messages n WHERE n.direction = 'inbound') THEN
        RETURN NULL;  -- outbound messages: nothing to do
    END IF;
    WITH replies AS (
        SELECT DISTINCT n.user_id, n.from_number AS phone FROM new_messages n
         WHERE n.direction = 'inbound' AND n.from_number IS NOT NULL
           AND twilio._opt_keyword(n.body, NULL) IS DISTINCT FROM 'STOP'
    ), stopped AS (
        UPDATE twilio.enrollments e
           SET status = 'stopped', stop_reason = 'replied', pause_reason = NULL, next_run_at = NULL,
               hold_reason = NULL, finished_at = now()
          FROM replies r, twilio.campaigns c
         WHERE e.user_id = r.user_id AND e.phone = r.phone AND e.status IN ('active', 'paused')
           AND c.user_id = e.user_id AND c.id = e.campaign_id AND c.stop_on_reply
    ), last_send AS (
        SELECT l.* FROM replies r
         CROSS JOIN LATERAL (SELECT s.user_id, s.enrollment_id, s.step_id FROM twilio.enrollment_sends s
                              WHERE s.user_id = r.user_id AND s.phone = r.phone
                              ORDER BY s.sent_at DESC LIMIT 1) l
    ), marked AS (
        UPDATE twilio.enrollment_sends s SET replied_at = now()
          FROM last_send l
         WHERE s.user_id = l.user_id AND s.enrollment_id = l.enrollment_id AND s.step_id = l.step_id
           AND s.replied_at IS NULL
     RETURNING s.user_id, s.campaign_id, s.day, s.step_id, s.position
    )
    SELECT jsonb_agg(to_jsonb(m) || '{"delivered": 0, "failed": 0, "replies": 1, "opt_outs": 0}') INTO deltas
      FROM marked m;
    PERFORM twilio._drip_add_stats(deltas) WHERE deltas IS NOT NULL;
    RETURN NULL;
END
$$;

-- Opt-outs (STOP, Twilio's 21610, or added by hand) stop every ongoing enrollment of the phone, also one a reply
-- in this same transaction had just stopped (a STOP is an opt-out first). STOP and 21610 count for the step that
-- last reached the phone.
CREATE FUNCTION twilio._drip_on_opt_out() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    deltas jsonb;
BEGIN
    UPDATE twilio.enrollments e
       SET status = 'stopped', stop_reason = 'opted_out', pause_reason = NULL, next_run_at = NULL,
           hold_reason = NULL, finished_at = now()
      FROM new_opt_outs o
     WHERE e.user_id = o.user_id AND e.phone = o.phone
       AND (e.status IN ('active', 'paused') OR (e.stop_reason = 'replied' AND e.finished_at = now()));
    WITH last_send AS (
        SELECT l.* FROM new_opt_outs o
         CROSS JOIN LATERAL (SELECT s.user_id, s.enrollment_id, s.step_id FROM twilio.enrollment_sends s
                              WHERE s.user_id = o.user_id AND s.phone = o.phone
                              ORDER BY s.sent_at DESC LIMIT 1) l
         WHERE o.source IN ('keyword', 'twilio_21610')
    ), marked AS (
        UPDATE twilio.enrollment_sends s SET opted_out_at = now()
          FROM last_send l
         WHERE s.user_id = l.user_id AND s.enrollment_id = l.enrollment_id AND s.step_id = l.step_id
           AND s.opted_out_at IS NULL
     RETURNING s.user_id, s.campaign_id, s.day, s.step_id, s.position
    )
    SELECT jsonb_agg(to_jsonb(m) || '{"delivered": 0, "failed": 0, "replies": 0, "opt_outs": 1}') INTO deltas
      FROM marked m;
    PERFORM twilio._drip_add_stats(deltas) WHERE deltas IS NOT NULL;
    RETURN NULL;
END
$$;

-- Delivery statuses of drip messages: delivered (or read) and failed (or undelivered), counted once per send.
CREATE FUNCTION twilio._drip_on_status() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    deltas jsonb;
BEGIN
    WITH changed AS (
        SELECT s.user_id, s.enrollment_id, s.step_id, s.outcome AS old_outcome,
               CASE WHEN n.status IN ('delivered', 'read') THEN 'delivered'
                    WHEN n.status IN ('failed', 'undelivered') THEN 'failed' ELSE 'pending' END AS outcome
          FROM new_messages n
          JOIN twilio.enrollment_sends s ON s.user_id = n.user_id AND s.message_id = n.id
         WHERE n.direction = 'outbound'
    ), moved AS (
        UPDATE twilio.enrollment_sends s SET outcome = c.outcome
          FROM changed c
         WHERE s.user_id = c.user_id AND s.enrollment_id = c.enrollment_id AND s.step_id = c.step_id
           AND c.outcome <> c.old_outcome
     RETURNING s.user_id, s.campaign_id, s.day, s.step_id, s.position,
               (c.outcome = 'delivered')::integer - (c.old_outcome = 'delivered')::integer AS delivered,
               (c.outcome = 'failed')::integer - (c.old_outcome = 'failed')::integer AS failed,
               0 AS replies, 0 AS opt_outs
    )
    SELECT jsonb_agg(to_jsonb(m)) INTO deltas FROM moved m;
    PERFORM twilio._drip_add_stats(deltas) WHERE deltas IS NOT NULL;
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_drip_inbound AFTER INSERT ON twilio.messages
    REFERENCING NEW TABLE AS new_messages FOR EACH STATEMENT EXECUTE FUNCTION twilio._drip_on_inbound();
CREATE TRIGGER messages_drip_status AFTER UPDATE ON twilio.messages
    REFERENCING NEW TABLE AS new_messages FOR EACH STATEMENT EXECUTE FUNCTION twilio._drip_on_status();
CREATE TRIGGER opt_outs_drip_stop AFTER INSERT ON twilio.opt_outs
    REFERENCING NEW TABLE AS new_opt_outs FOR EACH STATEMENT EXECUTE FUNCTION twilio._drip_on_opt_out();

------------------------------------------------------------------------------------------------------------------
-- Analytics: the caller's rollups, per UTC day of sending, campaign and step.
------------------------------------------------------------------------------------------------------------------
CREATE FUNCTION twilio.analytics(from_day date, to_day date, campaign uuid DEFAULT NULL)
    RETURNS TABLE (day date, campaign_id uuid, campaign_name text, step_position integer, step_id uuid,
                   sent bigint, delivered bigint, failed bigint, replies bigint, opt_outs bigint, segments bigint,
                   delivery_rate numeric, reply_rate numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    cid uuid := campaign;
BEGIN
    IF from_day IS NULL OR to_day IS NULL OR from_day > to_day THEN
        RAISE EXCEPTION 'analytics needs from_day <= to_day' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    SELECT d.day, d.campaign_id, c.name, d.position, d.step_id, d.sent::bigint, d.delivered::bigint,
           d.failed::bigint, d.replies::bigint, d.opt_outs::bigint, d.segments,
           round(d.delivered::numeric / nullif(d.sent, 0), 4), round(d.replies::numeric / nullif(d.sent, 0), 4)
      FROM twilio.campaign_stats_daily d
      JOIN twilio.campaigns c ON c.user_id = d.user_id AND c.id = d.campaign_id
     WHERE d.user_id = uid AND d.day BETWEEN from_day AND to_day AND (cid IS NULL OR d.campaign_id = cid)
     ORDER BY d.day, c.name, d.campaign_id, d.position;
END
$$;
COMMENT ON FUNCTION twilio.analytics(date, date, uuid) IS
    'The caller''s drip results per UTC day of sending, campaign and step: sent, delivered, failed, replies, opt-outs';

------------------------------------------------------------------------------------------------------------------
-- Who may call the drip functions (90_privileges.sql revokes from PUBLIC; repeated here so an update script that
-- copies this part grants the same).
------------------------------------------------------------------------------------------------------------------
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA twilio FROM PUBLIC;
GRANT EXECUTE ON FUNCTION twilio.create_campaign(text, text, text, boolean),
                          twilio.update_campaign(uuid, text, text, text, boolean),
                          twilio.set_quiet_hours(uuid, time, time, integer[]),
                          twilio.activate_campaign(uuid), twilio.pause_campaign(uuid), twilio.resume_campaign(uuid),
                          twilio.archive_campaign(uuid),
                          twilio.add_step(uuid, text, interval, integer, integer, time, text),
                          twilio.update_step(uuid, text, interval, integer, time, text), twilio.delete_step(uuid),
                          twilio.preview(text, jsonb), twilio.preview_step(uuid, jsonb),
                          twilio.enroll(uuid, uuid, text, text, jsonb), twilio.enroll_many(uuid, jsonb),
                          twilio.unenroll(uuid), twilio.pause_enrollment(uuid), twilio.resume_enrollment(uuid),
                          twilio.analytics(date, date, uuid)
    TO authenticated;
GRANT EXECUTE ON FUNCTION twilio.drip_tick(integer), twilio.schedule_drips(interval, integer),
                          twilio.unschedule_drips()
    TO service_role;
