-- Provider failover (issue 13): two routes, the primary provider account and a fallback.
-- Each call records the route that placed it (NULL: not placed yet); its polls, its
-- reconciliation and its webhooks' signatures use that route's account.
ALTER TABLE phone_calls ADD COLUMN route text COLLATE "C";
-- The dialling hold becomes one row per route: id 1 the primary, id 2 the fallback.
ALTER TABLE dialing_hold DROP CONSTRAINT dialing_hold_id_check;
ALTER TABLE dialing_hold ADD CONSTRAINT dialing_hold_id_check CHECK (id IN (1, 2));
