-- Leads that every sender they may use holds back (min_interval_seconds, an account limit) are given slots one
-- interval apart, per sender, instead of all the sender's next free moment: held_until is the latest slot a sender
-- gave to a held lead. Without it every held lead came due at once and was written again at each interval.
alter table campaign_senders add column held_until timestamptz;
